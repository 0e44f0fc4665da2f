"""A separate OS process taking turns on one conversation's lock (tests/unit/test_lock_store.py).

Usage:
    python tests/unit/lock_store_worker.py URL CONVERSATION NAME TURNS HOLD_SECONDS LIFETIME WAIT_SECONDS PEERS [DEAD_AFTER]

Each turn, inside the lock: counts itself into ``test:inside`` (a second holder would
see 2 and is recorded in ``test:overlaps``), sleeps ``HOLD_SECONDS`` (``forever``: until
killed; ``stall:S``: blocks its whole event loop for S seconds, as a long model load
does), then appends ``{name, ticket, enter, exit, waiting}`` to ``test:trace``
(wall-clock seconds, all processes run on one machine; ``waiting``: turns queued behind
it). It appends its name to ``test:started`` and takes its first turn once ``PEERS``
workers have started; a LockError is appended to ``test:errors``. ``DEAD_AFTER`` is the
store's ``dead_process_timeout`` (default: the store's).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rasa.core.lock_store import LockError  # noqa: E402

from bot.channels.redis_client import get_redis  # noqa: E402
from bot.lock_store import DEFAULT_DEAD_PROCESS_TIMEOUT, AtomicRedisLockStore  # noqa: E402


async def take_turns(
    url: str, conversation: str, name: str, turns: int, hold: float, lifetime: float, wait: float, peers: int,
    dead_after: float = DEFAULT_DEAD_PROCESS_TIMEOUT, stall: Optional[float] = None,
) -> None:
    store = AtomicRedisLockStore(url=url, dead_process_timeout=dead_after)
    redis = get_redis(url)
    await redis.rpush("test:started", name)
    # the processes start seconds apart on a busy machine: begin together, so they contend
    while await redis.llen("test:started") < peers:
        await asyncio.sleep(0.01)
    for _ in range(turns):
        try:
            async with store.lock(conversation, lock_lifetime=lifetime, wait_time_in_seconds=wait) as held:
                enter = time.time()
                if await redis.incr("test:inside") != 1:
                    await redis.rpush("test:overlaps", name)
                await redis.rpush("test:entered", name)
                if hold == float("inf"):
                    await asyncio.Event().wait()  # until the test kills this process
                if stall is not None:
                    time.sleep(stall)  # noqa: ASYNC101 - the point: nothing else of this loop runs
                await asyncio.sleep(hold)
                await redis.decr("test:inside")
                await redis.rpush(
                    "test:trace",
                    json.dumps(
                        {
                            "name": name,
                            "ticket": held.ticket,
                            "enter": enter,
                            "exit": time.time(),
                            "waiting": await redis.llen(f"lock:{conversation}:queue"),
                        }
                    ),
                )
        except LockError as error:
            await redis.rpush("test:errors", f"{name}: {error}")


def main(argv: list) -> None:
    url, conversation, name, turns, hold, lifetime, wait, peers = argv[:8]
    dead_after = float(argv[8]) if len(argv) > 8 else DEFAULT_DEAD_PROCESS_TIMEOUT
    stall = float(hold.split(":", 1)[1]) if hold.startswith("stall:") else None
    hold_seconds = float("inf") if hold == "forever" else 0.0 if stall is not None else float(hold)
    asyncio.run(take_turns(url, conversation, name, int(turns), hold_seconds, float(lifetime), float(wait), int(peers), dead_after, stall))


if __name__ == "__main__":
    main(sys.argv[1:])
