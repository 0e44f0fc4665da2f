"""Helpers of the handoff tests: the service on a real port, a signed-in console, payloads."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

import aiohttp
import requests
from aiohttp import web

from handoff.app import create_app
from handoff.auth import Accounts
from handoff.settings import HandoffSettings
from handoff.store import HandoffStore
from scripts import redis_server

SERVICE_TOKEN = "test-service-token"
PASSWORD = "correct horse battery"


@dataclass
class RunningService:
    """A handoff service running in a background thread with its own event loop."""

    url: str
    settings: HandoffSettings
    loop: asyncio.AbstractEventLoop

    def call(self, coro: Any, timeout: float = 30) -> Any:
        """Run a coroutine on the service's loop (e.g. store calls) and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def start_service(settings: HandoffSettings) -> tuple:
    loop = asyncio.new_event_loop()
    runner_box: Dict[str, Any] = {}
    ready = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            runner = web.AppRunner(create_app(settings))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", settings.port).start()
            runner_box["runner"] = runner
            ready.set()

        loop.run_until_complete(boot())
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(20), "handoff service did not start"

    def stop() -> None:
        asyncio.run_coroutine_threadsafe(runner_box["runner"].cleanup(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    return loop, stop


def make_settings(redis_url: str, **overrides: Any) -> HandoffSettings:
    port = redis_server.free_port()
    base = HandoffSettings(
        redis_url=redis_url,
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        service_token=SERVICE_TOKEN,
        position_update_seconds=3600,
        local_mode=True,  # the tests speak plain http: a Secure cookie would never come back
    )
    return base.with_overrides(**overrides)


def add_account(service: RunningService, username: str, role: str = "agent", name: Optional[str] = None) -> None:
    async def add() -> None:
        store = HandoffStore(service.settings.redis_url)
        await Accounts(store, service.settings).add(username, PASSWORD, role, name or username)
        await store.close()

    service.call(add())


def on_duty(service: RunningService, username: str) -> None:
    """The agent's console is open (its heartbeat, as the live feed records it)."""

    async def beat() -> None:
        store = HandoffStore(service.settings.redis_url)
        await store.heartbeat(username)
        await store.close()

    service.call(beat())


class Console:
    """A signed-in console user speaking real HTTP (cookie + CSRF header)."""

    def __init__(self, service: RunningService, username: str) -> None:
        self.service = service
        self.http = requests.Session()
        response = self.http.post(f"{service.url}/api/login", json={"username": username, "password": PASSWORD}, timeout=10)
        assert response.status_code == 200, response.text
        self.user = response.json()
        self.csrf = self.user["csrf"]

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.service.url + path, timeout=10)

    def post(self, path: str, body: Optional[Dict[str, Any]] = None) -> requests.Response:
        return self.http.post(self.service.url + path, json=body or {}, headers={"X-CSRF-Token": self.csrf}, timeout=10)


def internal(service: RunningService, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}", **kwargs.pop("headers", {})}
    return requests.request(method, service.url + path, headers=headers, timeout=10, **kwargs)


def ticket_payload(conversation_id: str, priority: int = 1, **extra: Any) -> Dict[str, Any]:
    payload = {
        "conversation_id": conversation_id,
        "channel": "rest",
        "reasons": ["essential_outage", "angry"],
        "evidence": [
            {"reason": "essential_outage", "rule": "service_with_outage_words", "detail": "electricity: «مقطوعه»",
             "scores": {"urgency": 0.95, "frustration": 0.9}, "message": "الكهرباء مقطوعة من الصبح!!"},
            {"reason": "angry", "rule": "angry_model", "detail": "angry (0.90)", "scores": {"frustration": 0.9}},
        ],
        "priority": priority,
        "signals": [{"ts": 1.0, "frustration": 0.9, "urgency_service": "electricity", "urgency_score": 0.95}],
        "intents": ["report_outage"],
        "slots": {"service_type": "electricity", "district": "النرجس"},
        "entities": [],
        "transcript": [
            {"ts": 1.0, "role": "customer", "text": "الكهرباء مقطوعة من الصبح!!"},
            {"ts": 2.0, "role": "bot", "text": "نعتذر، سأحولك إلى زميل."},
        ],
        "summary_ar": "انقطاع كهرباء في حي النرجس، العميل غاضب.",
    }
    payload.update(extra)
    return payload


ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


async def feed_entries(url: str, username: str, after: str, timeout: float = 10.0, events: Optional[int] = None) -> List[Dict[str, Any]]:
    """Sign in, open the live feed after ``after`` and collect its entries (hello left out).

    Stops after ``events`` entries of kind ``event`` when given, else when the feed is
    quiet until ``timeout`` (to show that nothing else arrives).
    """
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.post(f"{url}/api/login", json={"username": username, "password": PASSWORD}) as response:
            assert response.status == 200
        received: List[Dict[str, Any]] = []
        async with session.ws_connect(f"{url}/api/ws?after={after}") as ws:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if events is not None and len([r for r in received if r["kind"] == "event"]) >= events:
                    break
                try:
                    message = await ws.receive_json(timeout=max(0.1, deadline - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                if message["kind"] != "hello":
                    received.append(message)
        return received
