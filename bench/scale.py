"""Scale-out benchmark: 1, 2 and 4 Rasa processes on one Redis, no message lost or doubled.

The assistant runs as ``make run WORKERS=N`` runs it (``scripts.stack.Stack(workers=N)``:
N Rasa servers behind HAProxy, Redis, the action server), on free ports. Customers write
over the REST channel with FAQ questions from the held-out file, in two shapes:

- ``bursts``: 50 conversations, each sending 5 messages at the same moment (what a
  WhatsApp customer does with short messages, and what an outage in one district does
  to the assistant);
- ``long``: 10 conversations, each sending 30 messages at the same moment;
- ``killed`` (N ≥ 2): ``bursts`` again while one Rasa process is killed (SIGKILL) a
  second into the run; its customers' messages must still be answered by the others.

Every request carries ``metadata.bench = {run, seq}`` and a ``message_id``; a client whose
answer is lost (a 502 from the proxy, a dropped connection) sends the message again with
the same id, as webhook senders do, and the channel takes it once. After the replies, the
conversations are read back through Rasa's API (``include_events=ALL``) and counted:

- lost: a message whose ``seq`` is in no ``UserUttered`` of its conversation;
- duplicated: a ``seq`` recorded more than once;
- interleaved: a turn that began before the previous one ended, i.e. a ``UserUttered``
  after bot actions that did not end with ``action_listen`` (messages understood
  together as one burst follow each other with no action between them, by design).

Usage:
    python -m bench.scale --out bench/results/scale            # 1, 2, 4 processes
    python -m bench.scale --workers 1 2 --quick --out DIR      # smaller loads

Messages per second count replies received (HTTP 200) per wall-clock second; the load
generator shares the machine's cores with the servers, so on 2 cores the figures are a
lower bound of what the servers do on machines of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench.e2e import BenchStack
from bench.stats import summarize
from scripts import redis_server

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"
WEBHOOK = "/webhooks/rest/webhook"
# answered in one turn, no form, no account: what a crowd asks when the lights go out
FAQ_INTENTS = ("opening_hours", "payment_methods", "contact_channels", "branch_locations", "app_login_help")
REQUEST_TIMEOUT_S = 120.0
# a lost answer (502, dropped connection) is sent again this often, this long apart
RETRIES, RETRY_AFTER_S = 3, 1.0
SETTLE_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Shape:
    """One load shape: conversations, each sending ``messages`` at once."""

    name: str
    conversations: int
    messages: int


FULL = (Shape("bursts", 50, 5), Shape("long", 10, 30))
QUICK = (Shape("bursts", 10, 5), Shape("long", 4, 10))


def faq_texts() -> List[str]:
    """The held-out file's FAQ questions (every dialect and script in it)."""
    from scripts.evaluate_nlu import load_examples

    texts = [m.get("text") for m in load_examples(HELDOUT) if m.get("intent") in FAQ_INTENTS]
    if not texts:
        raise RuntimeError(f"no FAQ questions ({', '.join(FAQ_INTENTS)}) in {HELDOUT}")
    return texts


async def _send(session: Any, url: str, sender: str, text: str, run: str, seq: int) -> tuple:
    """One customer message; like a webhook sender, it is sent again (same ``message_id``,
    taken once by the channel) when the answer is lost: a 502 from the proxy or a dropped
    connection, as when the process handling it is killed."""
    body = {"sender": sender, "message": text, "message_id": f"{run}-{seq}", "metadata": {"bench": {"run": run, "seq": seq}}}
    start = time.perf_counter()
    status: Any = None
    for attempt in range(RETRIES + 1):
        if attempt:
            await asyncio.sleep(RETRY_AFTER_S)
        try:
            async with session.post(url, json=body) as response:
                await response.read()
                status = response.status
        except asyncio.TimeoutError:
            return "timeout", (time.perf_counter() - start) * 1000
        except Exception as error:  # noqa: BLE001 - a killed worker drops its connections
            status = type(error).__name__
        if status not in (502, 503) and not isinstance(status, str):
            break
    return status, (time.perf_counter() - start) * 1000


async def _fire(base_url: str, shape: Shape, texts: Sequence[str], run: str, kill: Optional[Any] = None) -> List[tuple]:
    """Every message of every conversation at once; ``kill`` (a callable) runs 1 s in."""
    import aiohttp

    url = base_url.rstrip("/") + WEBHOOK
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        jobs = [
            _send(session, url, f"{run}-c{c:03d}", texts[(c * shape.messages + m) % len(texts)], run, m)
            for c in range(shape.conversations)
            for m in range(shape.messages)
        ]
        if kill is not None:
            async def killer() -> None:
                await asyncio.sleep(1.0)
                kill()

            results, _ = await asyncio.gather(asyncio.gather(*jobs), killer())
            return list(results)
        return list(await asyncio.gather(*jobs))


def read_back(base_url: str, token: str, senders: Sequence[str]) -> Dict[str, List[Dict[str, Any]]]:
    """Every conversation's events, through Rasa's HTTP API."""
    import requests

    events: Dict[str, List[Dict[str, Any]]] = {}
    for sender in senders:
        response = requests.get(
            f"{base_url}/conversations/{sender}/tracker", params={"include_events": "ALL", "token": token}, timeout=30
        )
        response.raise_for_status()
        events[sender] = response.json().get("events", [])
    return events


def count_turns(events: Sequence[Dict[str, Any]], run: str, sent: int) -> Dict[str, int]:
    """Lost, duplicated and interleaved turns of one conversation (see the module doc)."""
    seqs: List[int] = []
    interleaved = 0
    acted_since_listen = False  # bot actions after the last user message, not yet listening
    for event in events:
        kind = event.get("event")
        if kind == "user":
            bench = ((event.get("metadata") or {}).get("bench") or {})
            if bench.get("run") == run:
                seqs.append(int(bench.get("seq", -1)))
            if acted_since_listen:
                interleaved += 1
            acted_since_listen = False
        elif kind == "action":
            acted_since_listen = event.get("name") != "action_listen"
    counts = Counter(seqs)
    return {
        "recorded": len(seqs),
        "lost": sum(1 for seq in range(sent) if counts[seq] == 0),
        "duplicated": sum(n - 1 for n in counts.values() if n > 1),
        "interleaved": interleaved,
    }


def settle(base_url: str, token: str, senders: Sequence[str], run: str, sent: int) -> Dict[str, int]:
    """Read the conversations back until every message is there (or the time is up)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while True:
        totals: Counter = Counter()
        for events in read_back(base_url, token, senders).values():
            totals.update(count_turns(events, run, sent))
        if totals["lost"] == 0 or time.monotonic() > deadline:
            return {key: int(totals[key]) for key in ("recorded", "lost", "duplicated", "interleaved")}
        time.sleep(2.0)


def cpu_seconds(stack: BenchStack) -> Dict[str, float]:
    """CPU seconds used so far by each process of the stack (Rasa workers by service
    name, the others by program name) and by this load generator."""
    import psutil

    names = {service.proc.pid: service.name for service in stack.services}
    used: Counter = Counter()
    for proc in stack.processes:
        try:
            process = psutil.Process(proc.pid)
            times = process.cpu_times()
            name = names.get(proc.pid) or process.name()
        except psutil.Error:  # killed by the run, or gone: its time is not counted
            continue
        used[name] += times.user + times.system
    times = psutil.Process().cpu_times()
    used["load generator"] += times.user + times.system
    return dict(used)


def cpu_per_message(before: Dict[str, float], after: Dict[str, float], answered: int) -> Dict[str, Optional[float]]:
    """Milliseconds of CPU per answered message: the Rasa workers together, and
    everything else (action server, Redis, proxy, load generator)."""
    if not answered:
        return {"rasa": None, "other": None}
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    rasa = sum(seconds for name, seconds in spent.items() if name.startswith("rasa"))
    other = sum(seconds for name, seconds in spent.items() if not name.startswith("rasa"))
    return {"rasa": round(rasa * 1000 / answered, 1), "other": round(other * 1000 / answered, 1)}


def measure_shape(stack: BenchStack, shape: Shape, texts: Sequence[str], kill: bool = False) -> Dict[str, Any]:
    """One load shape against the running stack, read back from the trackers."""
    run = uuid.uuid4().hex[:8]
    killer = None
    if kill:
        victim = next(service for service in stack.services if service.name == "rasa-1")

        def killer() -> None:
            os.kill(victim.proc.pid, signal.SIGKILL)

    cpu_before = cpu_seconds(stack)
    start = time.perf_counter()
    outcomes = asyncio.run(_fire(stack.rasa_url, shape, texts, run, killer))
    wall = time.perf_counter() - start
    cpu_after = cpu_seconds(stack)
    ok = [ms for status, ms in outcomes if status == 200]
    senders = [f"{run}-c{c:03d}" for c in range(shape.conversations)]
    turns = settle(stack.rasa_url, stack.rasa_token, senders, run, shape.messages)
    return {
        "shape": shape.name,
        "conversations": shape.conversations,
        "messages_each": shape.messages,
        "sent": len(outcomes),
        "ok": len(ok),
        "errors": dict(Counter(str(status) for status, _ in outcomes if status != 200)),
        "wall_seconds": round(wall, 2),
        "messages_per_second": round(len(ok) / wall, 2) if wall else None,
        "latency_ms": summarize(ok),
        # a killed worker's CPU time goes with it: killed runs count the survivors only
        "cpu_ms_per_message": cpu_per_message(cpu_before, cpu_after, len(ok)),
        **turns,
    }


def run_workers(model: Path, workers: int, shapes: Sequence[Shape], texts: Sequence[str], work: Path, say: Any) -> Dict[str, Any]:
    """Start the stack with ``workers`` Rasa processes, measure every shape, stop it."""
    stack = BenchStack(
        model=model,
        workers=workers,
        rasa_port=redis_server.free_port(),
        action_port=redis_server.free_port(),
        data_dir=work / f"redis-{workers}",
        log_dir=work / f"logs-{workers}",
        run_dir=work / f"run-{workers}",
    )
    started = time.perf_counter()
    try:
        stack.start_fresh_redis()
        stack.start_actions()
        stack.start_rasa()
        say(f"{workers} process(es) up in {time.perf_counter() - started:.0f}s at {stack.rasa_url}")
        asyncio.run(_fire(stack.rasa_url, Shape("warmup", 2, 3), texts, "warmup"))
        results = []
        for shape in shapes:
            figures = measure_shape(stack, shape, texts)
            results.append(figures)
            say(_line(workers, figures))
        if workers >= 2:
            figures = measure_shape(stack, Shape("killed", shapes[0].conversations, shapes[0].messages), texts, kill=True)
            results.append(figures)
            say(_line(workers, figures))
        return {"workers": workers, "shapes": results}
    finally:
        stack.stop()


def _line(workers: int, f: Dict[str, Any]) -> str:
    lat = f["latency_ms"]
    return (
        f"  {workers} proc, {f['shape']:>6} {f['conversations']}×{f['messages_each']}: {f['messages_per_second']} msg/s, "
        f"p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms; lost {f['lost']}, duplicated {f['duplicated']}, "
        f"interleaved {f['interleaved']}, errors {f['errors'] or 0}; CPU ms/msg Rasa {_cpu(f, 'rasa')}, other {_cpu(f, 'other')}"
    )


def _cpu(figures: Dict[str, Any], part: str) -> Any:
    # results written before the CPU columns existed have none
    return (figures.get("cpu_ms_per_message") or {}).get(part, "–")


def table(results: Sequence[Dict[str, Any]]) -> List[str]:
    """The README's Markdown table of a run."""
    lines = [
        "| processes | load | msg/s | p50 ms | p95 ms | lost | duplicated | interleaved | HTTP errors | CPU ms/msg Rasa | other |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for f in result["shapes"]:
            lat = f["latency_ms"]
            errors = sum(f["errors"].values()) if f["errors"] else 0
            lines.append(
                f"| {result['workers']} | {f['shape']} {f['conversations']}×{f['messages_each']} | {f['messages_per_second']} "
                f"| {lat.get('p50')} | {lat.get('p95')} | {f['lost']} | {f['duplicated']} | {f['interleaved']} | {errors} "
                f"| {_cpu(f, 'rasa')} | {_cpu(f, 'other')} |"
            )
    return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models", help="model file or folder (default: models/)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--quick", action="store_true", help="smaller loads (a few minutes)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale")
    args = parser.parse_args(argv)
    texts = faq_texts()
    shapes = QUICK if args.quick else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="noor-scale-") as work:
        for workers in args.workers:
            results.append(run_workers(args.model, workers, shapes, texts, Path(work), print))
    report = {"machine": {"cpus": os.cpu_count()}, "quick": args.quick, "results": results}
    (args.out / "scale.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    (args.out / "scale.md").write_text("\n".join(table(results)) + "\n", encoding="utf-8")
    print("\n".join(table(results)))
    bad = sum(f["lost"] + f["duplicated"] + f["interleaved"] for r in results for f in r["shapes"])
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
