"""The Rasa process's Redis connection for channels (sessions, outboxes, de-duplication)."""

from __future__ import annotations

import asyncio
import weakref
from typing import Dict, Optional

from redis import asyncio as aioredis

from bot.settings import redis_url

# A redis.asyncio pool belongs to the event loop that first used it; Sanic runs one
# loop per worker, tests run several, so keep one client per loop.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Dict[str, aioredis.Redis]] = weakref.WeakKeyDictionary()


def get_redis(url: Optional[str] = None) -> aioredis.Redis:
    """Return this event loop's client for ``url`` (default ``REDIS_URL``).

    Args:
        url: a ``redis://`` URL; None reads the environment.
    """
    url = url or redis_url()
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(url)
    if client is None:
        client = per_loop[url] = aioredis.Redis.from_url(url, decode_responses=True)
    return client
