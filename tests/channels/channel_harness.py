"""Channel test harness: the real channel blueprints on a real Sanic server.

The bot behind them is a small scripted stand-in (the real Rasa model is used by
``test_channels_e2e.py``), or a real Rasa agent when one is given; Redis is real and
the WhatsApp/Twilio APIs are the local fake server of ``scripts/fake_graph_api.py``,
reached over real HTTP. Messages go through the real intake (``bot/channels/inbound.py``):
Redis streams, drains, sweeper.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from typing import Any, AsyncContextManager, Callable, Dict, List, Optional

from polling import poll_until
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic
from websockets.client import connect

from bot.channels import inbound, relay
from bot.channels.redis_client import get_redis
from bot.lock_store import AtomicRedisLockStore
from scripts import redis_server
from scripts.fake_graph_api import FakeGraphApi

__all__ = ["ChannelServer", "FakeGraphApi", "ScriptedBot", "ScriptedTurns", "WebchatClient", "wait_until"]


class ScriptedBot:
    """Answers like a tiny bot: ``buttons`` -> 3 choices, ``menu`` -> 5, else an echo.

    Args:
        think_seconds: how long it takes before answering (a retry may arrive meanwhile).
    """

    def __init__(self, think_seconds: float = 0.0) -> None:
        self.received: List[UserMessage] = []
        self.think_seconds = think_seconds

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        await asyncio.sleep(self.think_seconds)
        out, to = message.output_channel, message.sender_id
        if message.text == "buttons":
            await out.send_text_with_buttons(to, "اختر الخدمة", [{"title": t, "payload": f"/choose{{\"service\":\"{p}\"}}"} for t, p in [("الكهرباء", "electricity"), ("الماء", "water"), ("الإنترنت", "internet")]])
        elif message.text == "menu":
            await out.send_text_with_buttons(to, "اختر", [{"title": f"خيار {i}", "payload": f"/opt{i}"} for i in range(1, 6)])
        elif message.text == "rate":
            await out.send_text_with_buttons(to, "كيف تقيّم الخدمة؟", [{"title": str(i), "payload": f"/rate{{\"rating\":{i}}}"} for i in range(1, 6)])
        else:
            await out.send_text_message(to, f"وصلتني رسالتك: {message.text}")


class ScriptedTurns:
    """Runs turns with the scripted bot where Rasa's processor would run them: under the
    conversation's lock in the real lock store, each message id once, in order.

    As in production, both are shared by every process on the test's Redis (``REDIS_URL``):
    the lock is :class:`bot.lock_store.AtomicRedisLockStore`'s, and the ids handled are a
    Redis set, where Rasa would find them on the tracker's events.
    """

    def __init__(self, bot: Callable[[UserMessage], Any]) -> None:
        self.bot = bot
        self.runs: List[List[str]] = []  # the texts of each turn (of this process)
        self._store: Optional[AtomicRedisLockStore] = None

    def lock(self, conversation_id: str) -> AsyncContextManager[Any]:
        if self._store is None:
            self._store = AtomicRedisLockStore(url=os.environ["REDIS_URL"], key_prefix="test-lock")
        return self._store.lock(conversation_id)

    async def run(self, conversation_id: str, messages: List[UserMessage]) -> None:
        redis = get_redis(os.environ["REDIS_URL"])
        recorded_key = f"test:recorded:{conversation_id}"
        recorded = await redis.smembers(recorded_key)
        fresh = [m for m in messages if str(m.message_id) not in recorded]
        self.runs.append([str(m.text) for m in fresh])
        for message in fresh:
            await self.bot(message)
            await redis.sadd(recorded_key, str(message.message_id))  # as Rasa's tracker: saved once handled


class ChannelServer:
    """A Sanic app serving one input channel on a background thread's loop.

    Args:
        channel: the input channel under test.
        bot: the scripted stand-in (default :class:`ScriptedBot`); ignored with ``agent``.
        agent: a loaded Rasa agent: turns then run in Rasa's processor, as in production.
    """

    def __init__(self, channel: InputChannel, bot: Optional[Callable[[UserMessage], Any]] = None, agent: Any = None) -> None:
        self.channel = channel
        self.bot = bot or ScriptedBot()
        self.agent = agent
        self.turns = None if agent is not None else ScriptedTurns(self.bot)
        self.port = redis_server.free_port()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/{self.channel.name()}"

    def start(self) -> ChannelServer:
        # the relay and the intake are one per event loop: each test server (its own
        # loop) gets its own, as a separate Rasa process would
        Sanic.test_mode = True
        app = Sanic(f"channels_test_{uuid.uuid4().hex[:8]}")
        if self.agent is not None:
            app.ctx.agent = self.agent
        app.blueprint(self.channel.blueprint(self.bot), url_prefix=f"/webhooks/{self.channel.name()}")
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self.loop = loop
            # the test's turn runner (None: Rasa's, from app.ctx.agent)
            inbound.Inbound.install(loop, inbound.Inbound(runner=self.turns))
            server = loop.run_until_complete(app.create_server(host="127.0.0.1", port=self.port, return_asyncio_server=True))
            loop.run_until_complete(server.startup())
            loop.run_until_complete(server.before_start())
            loop.run_until_complete(server.after_start())
            ready.set()
            loop.run_forever()
            for stoppable in (relay.HandoffRelay.of_loop(loop), inbound.Inbound.of_loop(loop)):
                if stoppable is not None:
                    loop.run_until_complete(stoppable.stop())
            loop.run_until_complete(server.before_stop())
            server.close()
            loop.run_until_complete(server.wait_closed())
            loop.run_until_complete(server.after_stop())
            loop.close()
            self._stopped.set()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        assert ready.wait(20), "channel server did not start"
        return self

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._stopped.wait(20)

    def call(self, coro: Any, timeout: float = 10) -> Any:
        """Run a coroutine on the server's loop (e.g. to use the channel's Redis)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def wait_until(predicate: Callable[[], Any], timeout: float = 10, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    return poll_until(predicate, timeout, interval)


class WebchatClient:
    """A WebSocket client of the widget's protocol."""

    def __init__(self, server: ChannelServer, origin: Optional[str] = "http://shop.example") -> None:
        self.url = server.url.replace("http://", "ws://") + "/socket"
        self.origin = origin
        self.ws: Any = None

    async def __aenter__(self) -> WebchatClient:
        headers = {"Origin": self.origin} if self.origin else {}
        self.ws = await connect(self.url, extra_headers=headers)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.ws.close()

    async def hello(self, token: Optional[str] = None) -> Dict[str, Any]:
        await self.ws.send(json.dumps({"type": "hello", "token": token}))
        return await self.next("session")

    async def say(self, text: str, payload: Optional[str] = None) -> None:
        frame: Dict[str, Any] = {"type": "message", "text": text, "client_id": f"c{time.monotonic_ns()}"}
        if payload:
            frame["payload"] = payload
        await self.ws.send(json.dumps(frame))

    async def next(self, kind: str, role: Optional[str] = None, timeout: float = 5) -> Dict[str, Any]:
        """The next frame of ``kind`` (and ``role``), skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - time.monotonic())))
            if frame["type"] == kind and (role is None or frame.get("role") == role):
                return frame

    async def frames_for(self, seconds: float) -> List[Dict[str, Any]]:
        found = []
        try:
            while True:
                found.append(json.loads(await asyncio.wait_for(self.ws.recv(), seconds)))
        except asyncio.TimeoutError:
            return found
