"""Channel test harness: the real channel blueprints on a real Sanic server.

The bot behind them is a small scripted stand-in (the real Rasa model is used by
``test_channels_e2e.py``); Redis is real and the WhatsApp/Twilio APIs are the local
fake server of ``scripts/fake_graph_api.py``, reached over real HTTP.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any, Callable, List, Optional

from polling import poll_until
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic

from bot.channels import relay
from scripts import redis_server
from scripts.fake_graph_api import FakeGraphApi

__all__ = ["ChannelServer", "FakeGraphApi", "ScriptedBot", "wait_until"]


class ScriptedBot:
    """Answers like a tiny bot: ``buttons`` -> 3 choices, ``menu`` -> 5, else an echo."""

    def __init__(self) -> None:
        self.received: List[UserMessage] = []

    async def __call__(self, message: UserMessage) -> None:
        self.received.append(message)
        out, to = message.output_channel, message.sender_id
        if message.text == "buttons":
            await out.send_text_with_buttons(to, "اختر الخدمة", [{"title": t, "payload": f"/choose{{\"service\":\"{p}\"}}"} for t, p in [("الكهرباء", "electricity"), ("الماء", "water"), ("الإنترنت", "internet")]])
        elif message.text == "menu":
            await out.send_text_with_buttons(to, "اختر", [{"title": f"خيار {i}", "payload": f"/opt{i}"} for i in range(1, 6)])
        elif message.text == "rate":
            await out.send_text_with_buttons(to, "كيف تقيّم الخدمة؟", [{"title": str(i), "payload": f"/rate{{\"rating\":{i}}}"} for i in range(1, 6)])
        else:
            await out.send_text_message(to, f"وصلتني رسالتك: {message.text}")


class ChannelServer:
    """A Sanic app serving one input channel on a background thread's loop."""

    def __init__(self, channel: InputChannel, bot: Optional[Callable[[UserMessage], Any]] = None) -> None:
        self.channel = channel
        self.bot = bot or ScriptedBot()
        self.port = redis_server.free_port()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/{self.channel.name()}"

    def start(self) -> ChannelServer:
        # the relay is a per-process singleton bound to one event loop; each test
        # server (its own loop) gets a fresh one, as a fresh Rasa process would
        relay.HandoffRelay._instance = None
        Sanic.test_mode = True
        app = Sanic(f"channels_test_{uuid.uuid4().hex[:8]}")
        app.blueprint(self.channel.blueprint(self.bot), url_prefix=f"/webhooks/{self.channel.name()}")
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self.loop = loop
            server = loop.run_until_complete(app.create_server(host="127.0.0.1", port=self.port, return_asyncio_server=True))
            loop.run_until_complete(server.startup())
            loop.run_until_complete(server.before_start())
            loop.run_until_complete(server.after_start())
            ready.set()
            loop.run_forever()
            if relay.HandoffRelay._instance is not None:
                loop.run_until_complete(relay.HandoffRelay._instance.stop())
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
