"""The web chat's open sockets, joined across Rasa processes by Redis pub/sub.

A browser tab's socket is open on one Rasa process, but what it must show can be
produced on any of them: a bot reply triggered through another process's HTTP API,
an agent's reply that another process's relay consumer took from the stream, the
agent typing. Every frame is therefore pushed to this process's sockets at once and
published on one Redis channel, ``webchat:frames``, as ``<hub id> <session id>
<frame JSON>``. Each process listens on one subscriber connection and pushes the
frames of other hubs to its own sockets of that session; its own frames it skips,
as they reached its sockets already.

One channel rather than one per session: the subscription never changes as sockets
come and go (nothing to race with a socket opening), and a frame for a session
without a socket here costs a dictionary lookup.

Pub/sub keeps nothing for a listener that is away. Whatever must not be lost is in
the session's history first (Redis list): a browser that reconnects gets it in its
``session`` frame, and when this hub's subscriber comes back after losing Redis it
pushes each open session the items of its history written since it last heard
from Redis that this process has not pushed to it. Typing frames are only ever live.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from bot.channels.redis_client import get_redis
from bot.pubsub import Subscriber
from bot.tasks import stop_task

logger = logging.getLogger(__name__)

FRAMES_CHANNEL = "webchat:frames"
# a socket that does not take a frame this fast is dropped (its browser reconnects
# and reads the history), so that one stalled tab cannot hold up the others
SEND_TIMEOUT_SECONDS = 5.0
# history items stamped this long before the subscriber last heard from Redis are
# pushed again after it reconnects: the processes' clocks differ a little
RESYNC_MARGIN_SECONDS = 5.0
# ids of the items pushed to a session's sockets remembered for that catch-up
REMEMBERED_IDS = 500

History = Callable[[str], Awaitable[List[Dict[str, Any]]]]


class Hub(Subscriber):
    """The open sockets of this process per session, and its part in the Redis channel.

    Args:
        history: ``history(session_id)``, the session's stored items (oldest first).
        redis: returns the Redis client (default: this loop's shared client).
    """

    def __init__(self, history: History, redis: Callable[[], aioredis.Redis] = get_redis) -> None:
        self.hub_id = uuid.uuid4().hex
        super().__init__(redis, FRAMES_CHANNEL, f"webchat-hub-{self.hub_id[:8]}")
        self.sockets: Dict[str, Dict[Any, asyncio.Lock]] = {}
        # per session with sockets here: ids of the items pushed to them (oldest first)
        self._pushed_ids: Dict[str, Dict[str, None]] = {}
        self._history = history
        self._pushes: Set[asyncio.Task] = set()
        self._heard_at = time.time()  # when the subscriber last knew it was connected

    # ------------------------------------------------------------------ sockets
    def add(self, session_id: str, ws: Any) -> asyncio.Lock:
        """Register a socket; returns its send lock.

        Hold the lock while sending the ``session`` frame: frames for the session wait
        for it, so none reaches the browser before the history it would be added to.
        """
        lock = asyncio.Lock()
        self.sockets.setdefault(session_id, {})[ws] = lock
        return lock

    def remove(self, session_id: str, ws: Any) -> None:
        tabs = self.sockets.get(session_id)
        if tabs is not None:
            tabs.pop(ws, None)
            if not tabs:
                self.sockets.pop(session_id, None)
                self._pushed_ids.pop(session_id, None)

    def shown(self, session_id: str, items: List[Dict[str, Any]]) -> None:
        """Note items a socket got in its ``session`` frame (not pushed again on a catch-up)."""
        for item in items:
            self._remember(session_id, item.get("id"))

    def _remember(self, session_id: str, item_id: Any) -> None:
        if item_id and session_id in self.sockets:
            pushed = self._pushed_ids.setdefault(session_id, {})
            pushed[str(item_id)] = None
            if len(pushed) > REMEMBERED_IDS:
                del pushed[next(iter(pushed))]

    async def push(self, session_id: str, frame: Dict[str, Any]) -> None:
        """Send a frame to the session's sockets here and in every other process."""
        data = json.dumps(frame, ensure_ascii=False)
        await self._push_local(session_id, data, frame.get("id"))
        try:
            await self._redis().publish(FRAMES_CHANNEL, f"{self.hub_id} {session_id} {data}")
        except RedisError as error:
            # sockets elsewhere see a stored item when their browser reconnects
            logger.warning("webchat: frame for %s not published (%s)", session_id, error)

    async def _push_local(self, session_id: str, data: str, item_id: Optional[str]) -> None:
        self._remember(session_id, item_id)
        for ws, lock in list(self.sockets.get(session_id, {}).items()):
            try:
                async with lock:
                    await asyncio.wait_for(ws.send(data), SEND_TIMEOUT_SECONDS)
            except Exception:  # a closing or stalled tab must not stop delivery to the others
                self.remove(session_id, ws)
                # closed, its browser reconnects and reads the history it missed
                self._track(asyncio.create_task(asyncio.wait_for(ws.close(code=1011, reason="too slow"), SEND_TIMEOUT_SECONDS)))

    def _track(self, task: asyncio.Task) -> None:
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)
        task.add_done_callback(lambda done: done.cancelled() or done.exception())  # retrieved: no warning

    # -------------------------------------------------------------- subscriber
    def start(self) -> None:
        """Start listening to the other processes (idempotent; needs a running loop)."""
        if not self.running:
            self._heard_at = time.time()
        super().start()

    async def stop(self) -> None:
        """Stop listening (bounded: see :mod:`bot.tasks`)."""
        await super().stop()
        for push in list(self._pushes):
            await stop_task(push, 1.0)

    async def subscribed(self) -> None:
        await self._catch_up()

    def polled(self) -> None:
        self._heard_at = time.time()

    async def received(self, data: Any) -> None:
        self._dispatch(data)

    async def _catch_up(self) -> None:
        """Push the open sessions what was stored while this subscriber was away."""
        since = self._heard_at - RESYNC_MARGIN_SECONDS
        for session_id in list(self.sockets):
            for item in await self._history(session_id):
                pushed = self._pushed_ids.get(session_id, {})
                if float(item.get("ts") or 0) >= since and str(item.get("id")) not in pushed:
                    await self._push_local(session_id, json.dumps(item, ensure_ascii=False), item.get("id"))

    def _dispatch(self, raw: str) -> None:
        """Hand a frame of another process to this process's sockets of its session."""
        parts = raw.split(" ", 2) if isinstance(raw, str) else []
        if len(parts) != 3:
            logger.warning("webchat: malformed frame on %s ignored", FRAMES_CHANNEL)
            return
        hub_id, session_id, data = parts
        if hub_id == self.hub_id or session_id not in self.sockets:
            return
        try:
            item_id = json.loads(data).get("id")
        except (ValueError, AttributeError):
            logger.warning("webchat: malformed frame on %s ignored", FRAMES_CHANNEL)
            return
        # a task, so that one slow socket does not hold up the frames of other sessions;
        # each socket's lock keeps its frames in order
        self._track(asyncio.create_task(self._push_local(session_id, data, item_id)))
