"""Lock store benchmark: AtomicRedisLockStore (bot/lock_store.py) against Rasa's RedisLockStore.

Prints, for each store:

* handoff: from one turn leaving a conversation's lock to the waiting turn entering it
  (two turns of one conversation; the first holds the lock a random 0.05 to 1.05 s, so
  a polling waiter's phase is random too; seeded);
* uncontended: one ``async with lock(...)`` on a free conversation (acquire + release).

Both stores are called as Rasa calls them (``lock(conversation)``: a waiting turn waits up to
60 s and looks again at least once a second; ours is also woken at once).
Turns run as tasks of one process: the Redis round trips are the same as across
processes (tests/unit/test_lock_store.py checks the cross-process behaviour).

Usage:
    python -m bench.lock_store [--redis-url URL] [--handoffs 30] [--uncontended 500]

Without ``--redis-url`` a throwaway local Redis is started.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional
from urllib.parse import unquote, urlparse

from rasa.core.lock_store import LockStore, RedisLockStore

from bot.lock_store import AtomicRedisLockStore
from scripts import redis_server


def rasa_store(url: str) -> RedisLockStore:
    parsed = urlparse(url)
    return RedisLockStore(
        host=parsed.hostname or "localhost",
        port=parsed.port or 6379,
        db=int((parsed.path or "/0").lstrip("/") or 0),
        password=unquote(parsed.password) if parsed.password else None,
        use_ssl=parsed.scheme == "rediss",
        key_prefix="benchrasa",
    )


async def handoff_seconds(store: LockStore, conversation: str, hold: float) -> float:
    """One handoff: the waiting turn's entry minus the holding turn's exit."""
    holding = asyncio.Event()
    left: Dict[str, float] = {}

    async def first() -> None:
        async with store.lock(conversation):
            holding.set()
            await asyncio.sleep(hold)
            left["at"] = time.perf_counter()

    async def second() -> float:
        await holding.wait()
        async with store.lock(conversation):
            return time.perf_counter()

    _, entered = await asyncio.gather(first(), second())
    return entered - left["at"]


async def uncontended_seconds(store: LockStore, conversation: str) -> float:
    started = time.perf_counter()
    async with store.lock(conversation):
        pass
    return time.perf_counter() - started


def summary(name: str, seconds: List[float]) -> Dict[str, Any]:
    ms = sorted(1000 * value for value in seconds)
    return {
        "measure": name,
        "n": len(ms),
        "p50_ms": statistics.median(ms),
        "p95_ms": ms[min(len(ms) - 1, int(0.95 * len(ms)))],
        "max_ms": ms[-1],
    }


async def measure(url: str, handoffs: int, uncontended: int, seed: int) -> List[Dict[str, Any]]:
    rows = []
    for label, store in (("AtomicRedisLockStore", AtomicRedisLockStore(url=url, key_prefix="benchatomic")), ("Rasa RedisLockStore", rasa_store(url))):
        holds = random.Random(seed)
        waits = [await handoff_seconds(store, f"bench-handoff-{i}", holds.uniform(0.05, 1.05)) for i in range(handoffs)]
        singles = [await uncontended_seconds(store, f"bench-free-{i}") for i in range(uncontended)]
        rows.append({"store": label, **summary("handoff", waits)})
        rows.append({"store": label, **summary("uncontended acquire+release", singles)})
    return rows


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="an existing Redis (default: start a throwaway one)")
    parser.add_argument("--handoffs", type=int, default=30)
    parser.add_argument("--uncontended", type=int, default=500)
    parser.add_argument("--seed", type=int, default=15, help="seed of the holding times")
    args = parser.parse_args(argv)
    server = None
    url = args.redis_url
    if not url:
        port = redis_server.free_port()
        server = redis_server.start(port, Path(tempfile.mkdtemp(prefix="bench-lock-redis-")))
        url = f"redis://127.0.0.1:{port}/0"
    try:
        rows = asyncio.run(measure(url, args.handoffs, args.uncontended, args.seed))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
    print(f"{'store':<22} {'measure':<29} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for row in rows:
        print(f"{row['store']:<22} {row['measure']:<29} {row['n']:>4} {row['p50_ms']:>8.1f} {row['p95_ms']:>8.1f} {row['max_ms']:>8.1f}")


if __name__ == "__main__":
    main()
