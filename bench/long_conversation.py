"""Reply time along one long conversation: does message 300 cost more than message 10?

One customer asks FAQ questions, one after another, in one conversation session
(no pause long enough to start a new one), against an in-process Rasa agent with the
trained model in ``models/``, the real action server (``scripts/stack.py``) and a real,
fresh Redis holding the tracker and lock stores. Every reply is timed; the medians of
the first and of the last window of messages are printed side by side.

``rasa`` uses Rasa's own ``RedisTrackerStore`` (the tracker as one JSON value,
read and rewritten whole on every turn); ``endpoints`` uses what
``endpoints.yml`` configures (``bot.tracker_store.SessionTrackerStore``), ``window:N``
the same keeping N customer turns.
``--profile FILE`` writes a cProfile of ``--window`` more messages after the timed ones
(and prints its top entries).

Usage:
    python -m bench.long_conversation                       # both stores, 300 messages each
    python -m bench.long_conversation --stores rasa,window:10,window:20
    python -m bench.long_conversation --stores rasa --messages 300 --profile /tmp/rasa.prof
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import logging
import os
import pstats
import signal
import statistics
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from scripts import redis_server
from scripts.stack import ROOT, Stack

# FAQ questions in several dialects, each answered by action_answer_faq: a turn of
# constant work, so that only the conversation's length can make it slower.
FAQ_QUESTIONS = (
    "متى تفتح فروعكم؟",
    "وين فروعكم في جدة؟",
    "هل لديكم رقم واتساب للتواصل؟",
    "ما هي طرق الدفع المتاحة؟",
    "كيف اقرأ العداد حقي؟",
    "ابغى اغير باقة النت",
    "كيف اركب عداد جديد؟",
    "بدي انقل الخدمة لبيتي الجديد",
    "كيف احدث بياناتي؟",
    "ما قدرت ادخل على التطبيق",
)


def tracker_store_config(store: str, redis_url: str) -> Any:
    """The tracker store's endpoint configuration: Rasa's own (``rasa``), endpoints.yml's
    (``endpoints``), or endpoints.yml's with another window (``window:N``)."""
    from urllib.parse import urlparse

    from rasa.core.utils import AvailableEndpoints
    from rasa.utils.endpoints import EndpointConfig

    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    ours = endpoints.tracker_store
    if store == "endpoints":
        return ours
    if store.startswith("window:"):
        # separate key prefixes, so that the stores never read each other's keys
        turns = int(store.partition(":")[2])
        return EndpointConfig(url=ours.url, type=ours.type, **{**ours.kwargs, "window_turns": turns, "key_prefix": f"window{turns}"})
    parsed = urlparse(redis_url)
    return EndpointConfig(
        url=parsed.hostname, type="redis", port=parsed.port, db=0, password=parsed.password,
        key_prefix="rasa", record_exp=ours.kwargs.get("record_exp"),
    )


def _store_name(value: str) -> bool:
    return value in ("rasa", "endpoints") or (value.startswith("window:") and value[7:].isdigit() and int(value[7:]) > 0)


async def load_agent(store: str, model: Path) -> Any:
    """An agent on the trained model with endpoints.yml's services and ``store``'s trackers."""
    from rasa.core.agent import Agent
    from rasa.core.lock_store import LockStore
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import AvailableEndpoints

    endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    agent = Agent(
        generator=endpoints.nlg,
        tracker_store=TrackerStore.create(tracker_store_config(store, os.environ["REDIS_URL"])),
        lock_store=LockStore.create(endpoints.lock_store),
        action_endpoint=endpoints.action,
    )
    agent.load_model(str(model))
    return agent


async def send(agent: Any, sender: str, text: str) -> Tuple[float, float]:
    """Milliseconds until ``agent`` has answered ``text`` in conversation ``sender``, and
    the CPU milliseconds this process spent on it (the action server not included):
    on a shared machine the wall time also measures the neighbours, the CPU time less so."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    started, cpu_started = time.perf_counter(), time.process_time()
    await agent.handle_message(UserMessage(text, CollectingOutputChannel(), sender, input_channel="rest"))
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu_started) * 1000


async def play(stores: Sequence[str], messages: int, window: int, model: Path, profile: Optional[Path]) -> List[Dict[str, Any]]:
    """Send ``messages`` FAQ questions in one conversation per store; time every reply.

    The stores take turns message by message, so that a neighbour's load on a shared
    machine slows them alike.
    """
    agents = {store: await load_agent(store, model) for store in stores}
    senders = {store: f"bench-long-{store.replace(':', '')}-{uuid.uuid4().hex[:8]}" for store in stores}
    for store, agent in agents.items():
        # warm-up in another conversation: the first turns build lazily made caches
        for text in FAQ_QUESTIONS[:3]:
            await send(agent, f"warmup-{senders[store]}", text)
    timings: Dict[str, List[float]] = {store: [] for store in stores}
    cpu: Dict[str, List[float]] = {store: [] for store in stores}
    for i in range(messages):
        for store in stores:
            wall_ms, cpu_ms = await send(agents[store], senders[store], FAQ_QUESTIONS[i % len(FAQ_QUESTIONS)])
            timings[store].append(wall_ms)
            cpu[store].append(cpu_ms)
    if profile:
        # after the timed messages, so that the profiler slows none of them
        store = stores[-1]
        profiler = cProfile.Profile()
        profiler.enable()
        for i in range(messages, messages + window):
            await send(agents[store], senders[store], FAQ_QUESTIONS[i % len(FAQ_QUESTIONS)])
        profiler.disable()
        profiler.dump_stats(str(profile))
    results = []
    for store in stores:
        tracker = await agents[store].tracker_store.retrieve_full_tracker(senders[store])
        assert tracker is not None
        intents = Counter(e.intent_name for e in tracker.events if getattr(e, "type_name", None) == "user")
        first, last = timings[store][:window], timings[store][messages - window : messages]
        first_cpu, last_cpu = cpu[store][:window], cpu[store][messages - window : messages]
        results.append({
            "store": store,
            "messages": messages,
            "events_in_tracker": len(tracker.events),
            "first_window": f"1-{window}",
            "first_median_ms": round(statistics.median(first), 1),
            "last_window": f"{messages - window + 1}-{messages}",
            "last_median_ms": round(statistics.median(last), 1),
            "message_10_ms": round(timings[store][min(9, messages - 1)], 1),
            "first_median_cpu_ms": round(statistics.median(first_cpu), 1),
            "last_median_cpu_ms": round(statistics.median(last_cpu), 1),
            "message_10_cpu_ms": round(cpu[store][min(9, messages - 1)], 1),
            "median_by_50": [round(statistics.median(timings[store][i : i + 50]), 1) for i in range(0, messages, 50)],
            "median_cpu_by_50": [round(statistics.median(cpu[store][i : i + 50]), 1) for i in range(0, messages, 50)],
            "intents": dict(intents.most_common()),
        })
    return results


def print_profile(path: Path, limit: int = 35) -> None:
    """The top of a cProfile dump, by cumulative and by own time."""
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(str(path), stream=out).strip_dirs().sort_stats(key).print_stats(limit)
        print(out.getvalue())


def newest_model(path: Path) -> Path:
    """``path`` itself when it is a model file, else the newest model file in it."""
    return path if path.is_file() else max(path.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)


@contextmanager
def actions_on_own_redis(model: Path, prefix: str, environment: Optional[Dict[str, str]] = None) -> Iterator[Stack]:
    """A Redis of its own on a free port and the real action server, for in-process agents.

    The process's environment is the stack's (plus ``environment``) while it runs, so
    agents loaded from ``endpoints.yml`` use this Redis. Redis on a free port:
    ``Stack.start_redis`` would take 6379 when free.
    """
    with tempfile.TemporaryDirectory(prefix=prefix) as data_dir:
        redis_port = redis_server.free_port()
        redis_proc = redis_server.start(redis_port, Path(data_dir))
        stack = Stack(model=model, redis_url=f"redis://127.0.0.1:{redis_port}/0", action_port=redis_server.free_port())
        try:
            os.environ.update(stack.env())
            os.environ.update(environment or {})
            stack.start_actions()
            yield stack
        finally:
            stack.stop()
            redis_proc.terminate()
            redis_proc.wait(timeout=10)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="rasa,endpoints", help="comma separated: rasa, endpoints, window:N")
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile of --window more messages (last store) into this file")
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    if not stores or not all(map(_store_name, stores)):
        parser.error("--stores takes rasa, endpoints and window:N (our store keeping N turns)")
    if args.messages < 2 * args.window:
        parser.error("--messages must be at least twice --window")
    quiet_logs()
    # a supervisor's SIGTERM stops the action server and Redis too (the finally below)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    model = newest_model(args.model)
    with actions_on_own_redis(model, "bench-long-"):
        results = asyncio.run(play(stores, args.messages, args.window, model, args.profile))
    print(json.dumps(results, ensure_ascii=False, indent=2))
    for figures in results:
        print(
            f"store {figures['store']:9s} median reply, messages {figures['first_window']}: {figures['first_median_ms']} ms; "
            f"messages {figures['last_window']}: {figures['last_median_ms']} ms ({figures['events_in_tracker']} events); "
            f"CPU of the Rasa process {figures['first_median_cpu_ms']} ms and {figures['last_median_cpu_ms']} ms"
        )
    if args.out:
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    if args.profile:
        print_profile(args.profile)
    return 0


def quiet_logs() -> None:
    """Warnings only: Rasa's debug log of every turn would be timed too."""
    from rasa.utils.log_utils import configure_structlog

    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.WARNING)
    for name in ("rasa", "actions", "bot"):
        logging.getLogger(name).setLevel(logging.WARNING)


if __name__ == "__main__":
    raise SystemExit(main())
