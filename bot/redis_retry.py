"""A Redis client that rides out a Redis restart (used by every long-lived stream consumer).

Operations retry with exponential backoff for a few seconds instead of failing, so a
restart of Redis delays a customer message or an agent reply instead of losing it.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def resilient_redis(url: str) -> aioredis.Redis:
    """A ``redis.asyncio`` client for ``url`` (strings decoded) that retries through restarts."""
    return aioredis.Redis.from_url(
        url,
        decode_responses=True,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 30),
        retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionResetError],
        health_check_interval=5,
    )
