"""Sliding-window rate limits in Redis, shared by every channel and the action server.

Each limited key keeps the times of its admitted hits in a sorted set. One Lua script
drops the hits older than the window, admits the new one while fewer than ``limit``
remain, and says whether a refusal is the first since the last admitted hit; it runs
atomically in Redis, on Redis's clock, so the limit holds across every process that
shares the Redis whatever their clocks say.

The window slides: a burst can never reach twice the limit by straddling a boundary
(fixed windows let six messages through a limit of three at 12:00:59-12:01:00), and a
lockout (too many wrong codes) lasts a full window after the first wrong code, not
until the top of the hour. Refused hits are not stored, so a flood cannot grow a set
beyond ``limit`` entries.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from redis import asyncio as aioredis

# KEYS[1] the admitted hits (sorted set, score = microseconds), KEYS[2] "told" marker.
# ARGV[1] limit, ARGV[2] window in microseconds, ARGV[3] a unique member suffix.
# Returns {admitted 0/1, hits in the window after this call, first refusal 0/1}.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local ttl_ms = math.ceil(window / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ttl_ms)
  redis.call('DEL', KEYS[2])
  return {1, count + 1, 0}
end
local first = redis.call('SET', KEYS[2], 1, 'NX', 'PX', ttl_ms)
if first then return {0, count, 1} end
return {0, count, 0}
"""

# KEYS[1] the admitted hits; ARGV[1] window in microseconds. Returns the hits in the window.
_COUNT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
return redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf')
"""


@dataclass(frozen=True)
class Verdict:
    """What the limiter decided about one hit.

    Attributes:
        admitted: the hit is within the limit (and was counted).
        count: admitted hits in the window, this one included when admitted.
        first_refusal: refused, and the first refusal since the key was last admitted
            (channels that answer in the chat say "too many messages" once, not per message).
    """

    admitted: bool
    count: int
    first_refusal: bool


def hits_key(namespace: str, key: str) -> str:
    """The Redis key holding ``key``'s admitted hits."""
    return f"{namespace}:rate:{key}"


async def take(redis: aioredis.Redis, namespace: str, key: str, limit: int, window_seconds: float) -> Verdict:
    """Count one hit of ``key`` if fewer than ``limit`` were admitted in the last ``window_seconds``.

    Args:
        redis: the shared Redis.
        namespace: who owns the counter (``webchat``, ``rest``, ``verify`` …).
        key: what is limited (``ip:1.2.3.4``, ``sender:…``, ``account:…``).
        limit: hits admitted per window.
        window_seconds: the window's length.
    """
    stored = hits_key(namespace, key)
    # registered scripts run by their SHA (EVALSHA), loading the text once per Redis
    take_script = redis.register_script(_TAKE)
    admitted, count, first = await take_script(
        keys=[stored, f"{stored}:told"], args=[int(limit), _micros(window_seconds), uuid.uuid4().hex[:12]]
    )
    return Verdict(bool(admitted), int(count), bool(first))


async def hit(redis: aioredis.Redis, namespace: str, key: str, limit: int, window_seconds: float) -> bool:
    """Count one hit of ``key``; True while it is within ``limit`` hits per window."""
    return (await take(redis, namespace, key, limit, window_seconds)).admitted


async def hits(redis: aioredis.Redis, namespace: str, key: str, window_seconds: float) -> int:
    """How many hits of ``key`` were admitted in the last ``window_seconds`` (counts none)."""
    return int(await redis.register_script(_COUNT)(keys=[hits_key(namespace, key)], args=[_micros(window_seconds)]))


def _micros(seconds: float) -> int:
    return max(int(seconds * 1_000_000), 1)
