"""CPU of one turn's work in one process, Rasa 3.6 as it comes against this project's patches.

Throughput on a shared 2-core machine moves by a third from one hour to the next (README,
scale-out), so the savings of ``bot/rasa_patches.py`` and of the per-message caches are
measured here in one process, the two settings alternating round by round:

- ``graph``: the shipped model's graph work for a turn: one parse of a held-out message
  and two next-action predictions (after the message, after the answer) on a 10-turn
  conversation (``--turns``: other lengths). Before: ``DaskGraphRunner``, Rasa's ``states_for_tracker_history``,
  ``normalize``/``tokenize`` recomputed by every component, each linear signals model
  analysing the message itself through a sparse product, the signals encoder's padded
  batch pass. After: what ``scripts/rasa_run.py`` serves with.
- ``action``: ``RemoteAction.run`` of ``action_answer_faq`` against the real action
  server (``scripts.action_server``, its own process) on that conversation, with Rasa's
  session per request or the kept-open one; CPU of this process and of the server.

Usage:
    python -m bench.turn_cost [--rounds 20] [--model models/] [--turns 10 30] [--skip-action]

Medians over rounds; the minimum is printed beside them (the least disturbed round).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from bench.inbound import quiet
from bench.long_conversation import newest_model

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"


def conversation(texts: Sequence[str], turns: int = 10) -> List[Any]:
    """Events of ``turns`` FAQ turns, then a new customer message."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

    events: List[Any] = []
    for i in range(turns):
        events += [
            ActionExecuted("action_listen"), UserUttered(texts[i % len(texts)], {"name": "opening_hours", "confidence": 0.99}),
            ActionExecuted("action_answer_faq"), BotUttered("الفرع يفتح من ٨ صباحا الى ٤ مساء"),
        ]
    return events + [ActionExecuted("action_listen"), UserUttered(texts[0], {"name": "opening_hours", "confidence": 0.99})]


def _uncached_tokenize(text: str, teh_marbuta: bool = True, alef_maksura: bool = True) -> List[Any]:
    from bot.nlu import arabic_text

    return list(arabic_text._tokens(text or "", teh_marbuta, alef_maksura))


def _uncached_normalize(text: str, teh_marbuta: bool = True, alef_maksura: bool = True) -> Any:
    from bot.nlu import arabic_text

    return arabic_text._normalize(text, teh_marbuta, alef_maksura)


def _padded_pass(self: Any, ids: Sequence[int]) -> Any:
    import numpy as np

    return self.pooled(np.asarray([ids]), np.ones((1, len(ids)), np.float32))[0]


@functools.cache
def _shipped() -> Dict[str, Any]:
    """What the project serves with, read before :func:`settings` first changes it."""
    from rasa.shared.core.domain import Domain

    from bot import rasa_patches
    from bot.nlu import arabic_text
    from bot.signals import linear, runtime

    rasa_patches.install_state_history_cache()
    return {
        "states": Domain.__dict__["states_for_tracker_history"],
        "tokenize": arabic_text.tokenize, "normalize": arabic_text.normalize,
        "pooled_one": runtime.NumpySignalsModel.pooled_one,
        "cached_chars": linear.CACHED_TEXT_CHARS, "small_batch": linear.SMALL_BATCH,
    }


def settings(patched: bool) -> None:
    """Switch every per-message saving of the ``graph`` measurement on or off."""
    from rasa.shared.core.domain import Domain

    from bot.signals import linear, runtime

    shipped = _shipped()
    Domain.states_for_tracker_history = shipped["states"] if patched else shipped["states"].__wrapped__
    uncached = {"tokenize": _uncached_tokenize, "normalize": _uncached_normalize}
    # Modules that imported the functions by name hold their own reference: switch those too.
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith("bot."):
            continue
        for attribute, slow in uncached.items():
            if getattr(module, attribute, None) in (shipped[attribute], slow):
                setattr(module, attribute, shipped[attribute] if patched else slow)
    runtime.NumpySignalsModel.pooled_one = shipped["pooled_one"] if patched else _padded_pass  # type: ignore[method-assign]
    linear.CACHED_TEXT_CHARS = shipped["cached_chars"] if patched else -1
    linear.SMALL_BATCH = shipped["small_batch"] if patched else 0


def alternate(rounds: int, work: Dict[str, Callable[[], float]]) -> Dict[str, List[float]]:
    """Each setting's figure per round, the settings taking turns."""
    out: Dict[str, List[float]] = {name: [] for name in work}
    for _ in range(rounds):
        for name, measure in work.items():
            out[name].append(measure())
    return out


def graph(model: Path, rounds: int, per_round: int = 20, turns: int = 10) -> Dict[str, List[float]]:
    """CPU ms of one turn's graph work, before and after (see the module docstring)."""
    from rasa.core.channels.channel import UserMessage
    from rasa.engine import loader
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.rasa_patches import SequentialGraphRunner
    from scripts.evaluate_nlu import load_examples

    texts = [m.get("text") for m in load_examples(HELDOUT)]
    runners = {}
    for runner_class in (DaskGraphRunner, SequentialGraphRunner):
        metadata, runners[runner_class] = loader.load_predict_graph_runner(Path(tempfile.mkdtemp()), model, LocalModelStorage, runner_class)
    from rasa.shared.core.events import ActionExecuted, BotUttered

    events = conversation(texts, turns)
    answer = [ActionExecuted("action_answer_faq"), BotUttered("الفرع يفتح من ٨ صباحا الى ٤ مساء")]
    offset = [0]

    def measure(runner_class: Any, patched: bool) -> Callable[[], float]:
        def run() -> float:
            settings(patched)
            runner = runners[runner_class]
            # a turn's tracker as the tracker store hands it over (a new object each
            # turn); the answer is added to that same object, as the processor does
            trackers = [DialogueStateTracker.from_events("bench", events, slots=metadata.domain.slots) for _ in range(per_round)]
            start = time.process_time()
            for tracker in trackers:
                offset[0] += 1
                message = UserMessage(texts[offset[0] % len(texts)], sender_id="bench", message_id=f"m{offset[0]}")
                runner.run(inputs={"__message__": [message]}, targets=[metadata.nlu_target])
                runner.run(inputs={"__tracker__": tracker}, targets=[metadata.core_target])
                for event in answer:
                    tracker.update(event)
                runner.run(inputs={"__tracker__": tracker}, targets=[metadata.core_target])
            return (time.process_time() - start) * 1000 / per_round

        return run

    try:
        return alternate(rounds, {"Rasa 3.6": measure(DaskGraphRunner, False), "patched": measure(SequentialGraphRunner, True)})
    finally:
        settings(True)


def action(rounds: int, per_round: int = 40) -> Dict[str, List[float]]:
    """CPU ms per ``action_answer_faq`` call, this process and the action server."""
    import psutil
    import requests
    from rasa.core.actions.action import RemoteAction
    from rasa.core.channels import CollectingOutputChannel
    from rasa.core.nlg import TemplatedNaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig

    from bot import rasa_patches
    from scripts import redis_server
    from scripts.evaluate_nlu import load_examples

    rasa_patches.install_action_response_validator()
    rasa_patches.install_endpoint_sessions()
    kept_open = EndpointConfig.__dict__["session"]
    per_request = kept_open.__wrapped__
    port = redis_server.free_port()
    env = {**os.environ, "ACTION_SERVER_TOKEN": "bench", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "scripts.action_server", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(240):
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.5)
        domain = Domain.load(str(ROOT / "bot" / "domain"))
        texts = [m.get("text") for m in load_examples(HELDOUT)]
        tracker = DialogueStateTracker.from_events("bench", conversation(texts), slots=domain.slots)
        server_process = psutil.Process(server.pid)
        nlg = TemplatedNaturalLanguageGenerator(domain.responses)

        server_cpu: Dict[str, List[float]] = {}

        def measure(name: str, session: Any) -> Callable[[], float]:
            async def calls(endpoint: Any) -> None:
                for _ in range(per_round):
                    await RemoteAction("action_answer_faq", endpoint).run(CollectingOutputChannel(), nlg, tracker, domain)
                await rasa_patches.close_endpoint_sessions()

            def run() -> float:
                EndpointConfig.session = session
                endpoint = EndpointConfig(url=f"http://127.0.0.1:{port}/webhook", token="bench")
                rasa_before, server_before = time.process_time(), sum(server_process.cpu_times()[:2])
                asyncio.run(calls(endpoint))
                server_cpu.setdefault(f"{name}, action server", []).append((sum(server_process.cpu_times()[:2]) - server_before) * 1000 / per_round)
                return (time.process_time() - rasa_before) * 1000 / per_round

            return run

        names = ("Rasa 3.6 (session per request)", "kept-open session")
        out = alternate(rounds, {names[0]: measure(names[0], per_request), names[1]: measure(names[1], kept_open)})
        out.update(server_cpu)
        return out
    finally:
        EndpointConfig.session = kept_open
        server.terminate()
        server.wait(timeout=30)


def report(title: str, figures: Dict[str, List[float]]) -> None:
    print(title)
    for name, values in figures.items():
        print(f"  {name}: median {statistics.median(values):.2f} ms, min {min(values):.2f} ms ({len(values)} rounds)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--model", type=Path, default=ROOT / "models", help="model file or folder (newest .tar.gz)")
    parser.add_argument("--turns", type=int, nargs="+", default=[10], help="turns of the session before the measured one (one graph line each)")
    parser.add_argument("--skip-action", action="store_true", help="only the graph work")
    args = parser.parse_args(argv)
    model = newest_model(args.model)
    quiet()
    for turns in args.turns:
        report(f"graph work of turn {turns + 1} of a session (parse + 2 predictions), CPU ms, {model.name}:", graph(model, args.rounds, turns=turns))
    if not args.skip_action:
        report("one action_answer_faq call, CPU ms:", action(args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
