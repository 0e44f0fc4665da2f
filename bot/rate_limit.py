"""Fixed-window rate limits in Redis, shared by every channel and the action server.

One counter per ``(namespace, key, window)``: ``INCR`` plus ``EXPIRE`` in one
transaction, so limits hold across every process that shares the Redis. Fixed
windows let a burst of up to twice the limit straddle a boundary; that is fine
for abuse limits (they stop scraping and guessing, not legitimate customers).
"""

from __future__ import annotations

import time
from typing import Optional

from redis import asyncio as aioredis


def bucket_key(namespace: str, key: str, window_seconds: int, now: Optional[float] = None) -> str:
    """The Redis key counting ``key``'s hits in the current window."""
    moment = time.time() if now is None else now
    return f"{namespace}:rate:{key}:{int(moment // window_seconds)}"


async def count_hit(redis: aioredis.Redis, namespace: str, key: str, window_seconds: int) -> int:
    """Count one hit of ``key`` and return how many this window has seen, this one included.

    Args:
        redis: the shared Redis.
        namespace: who owns the counter (``webchat``, ``rest``, ``verify`` …).
        key: what is limited (``ip:1.2.3.4``, ``sender:…``, ``account:…``).
        window_seconds: the window's length.
    """
    bucket = bucket_key(namespace, key, window_seconds)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(bucket)
        pipe.expire(bucket, window_seconds)
        count, _ = await pipe.execute()
    return int(count)


async def hit(redis: aioredis.Redis, namespace: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one hit of ``key``; True while it has been hit at most ``limit`` times this window."""
    return await count_hit(redis, namespace, key, window_seconds) <= limit


async def hits(redis: aioredis.Redis, namespace: str, key: str, window_seconds: int) -> int:
    """How often ``key`` was hit in the current window (without counting a hit)."""
    return int(await redis.get(bucket_key(namespace, key, window_seconds)) or 0)
