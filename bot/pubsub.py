"""Redis pub/sub listeners of the Rasa process (web chat frames, the deployment's model).

Pub/sub keeps nothing for a listener that is away, and a Redis restart drops every
subscription: :class:`Subscriber` listens in a task, subscribes again with backoff after
losing Redis, and after each subscription lets its subclass catch up from what Redis
stores, before reading the messages published meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Callable, Optional

from redis import asyncio as aioredis

from bot.tasks import stop_task

logger = logging.getLogger(__name__)

RECONNECT_MIN_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 5.0


async def confirm_subscription(pubsub: Any, timeout: float = 10.0) -> None:
    """Wait for Redis to confirm a subscription: whatever is published after it arrives.

    Args:
        pubsub: a ``redis.asyncio`` PubSub that has just sent SUBSCRIBE.
        timeout: seconds to wait for the confirmation.

    Raises:
        TimeoutError: no confirmation came (the caller subscribes again).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await pubsub.get_message(timeout=1.0)
        if message is not None and message.get("type") == "subscribe":
            return
    raise TimeoutError("no subscription confirmation from Redis")


class Subscriber:
    """One channel, listened to in a task for as long as the process runs.

    Subclasses implement :meth:`received` and, where something must not be missed while
    away, :meth:`subscribed`.

    Args:
        redis: returns the Redis client (called for each subscription).
        channel: the pub/sub channel.
        task_name: the listening task's name, also in log lines.
    """

    def __init__(self, redis: Callable[[], aioredis.Redis], channel: str, task_name: str) -> None:
        self._redis = redis
        self.channel = channel
        self.task_name = task_name
        self._task: Optional[asyncio.Task] = None
        self._stopping = False
        self.listening = False  # subscribed: what is published now arrives
        self.reconnect_min_seconds = RECONNECT_MIN_SECONDS

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start listening (idempotent; needs a running loop)."""
        self._stopping = False
        if not self.running:
            self._task = asyncio.create_task(self._listen(), name=self.task_name)

    async def stop(self) -> None:
        """Stop listening (bounded: see :mod:`bot.tasks`)."""
        self._stopping = True
        task, self._task = self._task, None
        await stop_task(task)

    async def subscribed(self) -> None:
        """After each subscription, before its first message: catch up from stored state."""

    async def received(self, data: Any) -> None:
        """A message's data."""
        raise NotImplementedError

    def polled(self) -> None:
        """After each wait for a message (at least once a second while subscribed)."""

    async def _listen(self) -> None:
        """Subscribe, catch up, hand on messages; after losing Redis, again (with backoff)."""
        wait = self.reconnect_min_seconds
        while not self._stopping:
            pubsub = self._redis().pubsub()
            try:
                await pubsub.subscribe(self.channel)
                await confirm_subscription(pubsub)
                # before reading messages: what was published meanwhile waits in the connection
                await self.subscribed()
                self.listening, wait = True, self.reconnect_min_seconds
                while not self._stopping:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    self.polled()
                    if message is not None:
                        await self.received(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - Redis restarting: subscribe again
                if self._stopping:
                    return
                self.listening = False
                logger.warning("%s: lost Redis (%r); subscribing again in %.1fs", self.task_name, error, wait)
                await asyncio.sleep(wait)
                wait = min(RECONNECT_MAX_SECONDS, wait * 2)
            finally:
                self.listening = False
                try:
                    await pubsub.reset()
                except Exception:  # noqa: BLE001 - the connection is gone already
                    pass
