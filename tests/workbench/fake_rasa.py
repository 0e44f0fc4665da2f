"""A stand-in for the Rasa server's HTTP API: ``GET /conversations/{id}/tracker`` only.

It answers the way Rasa 3.6's ``server.py`` does, with Rasa's own code: the tracker
comes from the project's tracker store (``bot.tracker_store.SessionTrackerStore``,
``key_prefix: tracker``, as in endpoints.yml) through ``get_or_create_full_tracker`` (so an unknown id is created and saved, as
Rasa does), serialised by ``tracker.current_state(include_events)``; ``?token=`` is
required. Every requested id is recorded in :attr:`FakeRasa.requested`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import List, Optional

from aiohttp import web

from scripts import redis_server


class FakeRasa:
    """The fake server, in a thread of the test process, on a free loopback port."""

    def __init__(self, redis_url: str, token: str) -> None:
        self.redis_url = redis_url
        self.token = token
        self.port = redis_server.free_port()
        self.requested: List[str] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _tracker(self, request: web.Request) -> web.Response:
        from rasa.shared.core.trackers import EventVerbosity

        if request.query.get("token") != self.token:
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
        conversation_id = request.match_info["conversation_id"]
        self.requested.append(conversation_id)
        verbosity = EventVerbosity[request.query.get("include_events", "AFTER_RESTART").upper()]
        try:
            tracker = await self._store().get_or_create_full_tracker(conversation_id, False)
            return web.json_response(tracker.current_state(verbosity))
        except Exception as error:  # noqa: BLE001 - Rasa answers 500 ConversationError likewise
            return web.json_response({"status": "failure", "reason": "ConversationError", "message": str(error)}, status=500)

    def _store(self):
        from rasa.shared.core.domain import Domain

        from bot.tracker_store import SessionTrackerStore

        return SessionTrackerStore(Domain.empty(), host=self.redis_url, key_prefix="tracker")

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_get("/conversations/{conversation_id}/tracker", self._tracker)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> FakeRasa:
        self._thread.start()
        self._ready.wait(30)
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
