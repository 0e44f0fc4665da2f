"""Frames for WebSockets that another Rasa worker holds, through Redis pub/sub.

With several Rasa workers (``make run WORKERS=N``, replicas in ``deploy/``) a web
chat tab's socket is open in one of them, while the handoff relay's consumer group
hands an agent's message to whichever worker reads it first, and a second tab of the
same session may be open elsewhere. Each push therefore goes to this process's
sockets directly and, through one Redis channel, to every other worker, which pushes
it to the sockets it holds for that session (if any).

Pub/sub is fire-and-forget: a worker whose subscription is down for a moment misses
the live frame, but the message itself is in the session's history (Redis), which
the widget replays when it reconnects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional

from redis.exceptions import RedisError

from bot.channels.redis_client import get_redis
from bot.tasks import stop_task

logger = logging.getLogger(__name__)

Frame = Dict[str, Any]
LocalPush = Callable[[str, Frame], Awaitable[None]]


class Fanout:
    """Publishes this process's frames and delivers the other workers' frames here.

    Args:
        channel: the Redis pub/sub channel (one per input channel).
        push_here: pushes a frame to this process's sockets of a session.
    """

    def __init__(self, channel: str, push_here: LocalPush) -> None:
        self.channel = channel
        self.push_here = push_here
        # frames this process published come back to it too: it skips its own
        self.origin = uuid.uuid4().hex
        self._task: Optional[asyncio.Task] = None
        self._stopping = False

    async def publish(self, session_id: str, frame: Frame) -> None:
        """Send ``frame`` to the other workers; a Redis outage only costs the live copy."""
        message = json.dumps({"origin": self.origin, "session": session_id, "frame": frame}, ensure_ascii=False)
        try:
            await get_redis().publish(self.channel, message)
        except RedisError as error:
            logger.warning("%s: frame for other workers not published (%s)", self.channel, error)

    async def receive(self, raw: Any) -> None:
        """Deliver one published message here unless this process sent it."""
        try:
            item = json.loads(raw)
            session_id, frame = item["session"], item["frame"]
        except (TypeError, ValueError, KeyError):
            logger.warning("%s: malformed message ignored", self.channel)
            return
        if item.get("origin") != self.origin and isinstance(session_id, str) and isinstance(frame, dict):
            await self.push_here(session_id, frame)

    async def run(self) -> None:
        """Subscribe and deliver until stopped; survives Redis outages."""
        while not self._stopping:
            pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                while not self._stopping:
                    # a bounded wait, so a stop request is seen within a second
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        await self.receive(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                if self._stopping:
                    break
                logger.warning("%s: subscription lost (%s); retrying", self.channel, error)
                await asyncio.sleep(1.0)
            finally:
                try:
                    await pubsub.close()
                except (RedisError, OSError):
                    pass

    def start(self) -> asyncio.Task:
        """Start the subscriber on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name=f"fanout-{self.channel}")
        return self._task

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        await stop_task(task)
