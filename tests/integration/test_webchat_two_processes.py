"""Two real Rasa processes on one Redis: the web chat socket open on process A gets
what process B produces (its relay consumer's agent replies, its HTTP API's bot replies).

The session's stack runs Redis, the handoff service, the action server and Rasa A;
process B is a second Rasa server started the same way (same environment and
secrets), on another port. The customer's socket stays on A throughout.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests
from websockets.client import connect

from handoff.auth import Accounts
from handoff.settings import HandoffSettings
from handoff.store import HandoffStore
from scripts import redis_server
from scripts.stack import Stack

pytestmark = pytest.mark.slow

ANGRY_OUTAGE = "والله للمرة الثالثة أتصل وما أحد يرد عليّ، النت فاصل من ثلاث أيام!!"
AGENT, PASSWORD = "noura", "noura-secret-123"


@pytest.fixture(scope="module")
def process_b(stack: Stack, artifacts: Path) -> Iterator[Stack]:
    """A second Rasa server with the stack's environment (same Redis, tokens, services)."""
    other = dataclasses.replace(stack, rasa_port=redis_server.free_port(), processes=[], log_dir=artifacts / "stack-logs-rasa-b")
    try:
        other.start_rasa()
        yield other
    finally:
        other.stop()


def with_store(stack: Stack, use: Any) -> Any:
    async def go() -> Any:
        store = HandoffStore(stack.redis_url or "")
        try:
            return await use(store)
        finally:
            await store.close()

    return asyncio.run(go())


class Socket:
    """The customer's web chat socket; keeps every frame it got."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.frames: List[Dict[str, Any]] = []

    async def next(self, kind: str, role: Optional[str] = None, text: Optional[str] = None, state: Optional[str] = None, timeout: float = 60) -> Dict[str, Any]:
        """The next frame of ``kind`` with this role, text (part of it) and state; others are kept."""
        deadline = time.monotonic() + timeout
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), max(0.01, deadline - time.monotonic())))
            self.frames.append(frame)
            if (
                frame["type"] == kind
                and role in (None, frame.get("role"))
                and (text is None or text in str(frame.get("text")))
                and state in (None, frame.get("state"))
            ):
                return frame

    async def drain(self, seconds: float) -> None:
        try:
            while True:
                self.frames.append(json.loads(await asyncio.wait_for(self.ws.recv(), seconds)))
        except asyncio.TimeoutError:
            return


def test_the_socket_on_a_gets_the_agent_replies_b_relays_and_the_bot_replies_b_sends(stack: Stack, process_b: Stack) -> None:
    with_store(stack, lambda store: Accounts(store, HandoffSettings(redis_url=stack.redis_url or "")).add(AGENT, PASSWORD, "agent", "نورة"))
    with_store(stack, lambda store: store.heartbeat(AGENT))  # on duty: the ticket waits for her
    console = requests.Session()
    base = f"http://127.0.0.1:{stack.handoff_port}"
    csrf = {"X-CSRF-Token": console.post(f"{base}/api/login", json={"username": AGENT, "password": PASSWORD}, timeout=10).json()["csrf"]}
    b_relay = f"{socket.gethostname()}-{process_b.processes[0].pid}-"

    def tracker(sid: str) -> Dict[str, Any]:
        return dict(requests.get(stack.api_url(f"/conversations/{sid}/tracker"), timeout=30).json())

    def relayed_by(sid: str, text: str) -> str:
        for event in tracker(sid)["events"]:
            if event["event"] == "bot" and event.get("text") == text:
                return str(event["metadata"]["handoff"]["relay"])
        return ""

    def execute_on_b(sid: str, action: str) -> None:
        url = f"http://127.0.0.1:{process_b.rasa_port}/conversations/{sid}/execute?output_channel=webchat&token={process_b.rasa_token}"
        assert requests.post(url, json={"name": action}, timeout=60).status_code == 200

    async def scenario() -> None:
        url = f"ws://127.0.0.1:{stack.rasa_port}/webhooks/webchat/socket"
        origin = {"Origin": f"http://127.0.0.1:{stack.rasa_port}"}
        async with connect(url, extra_headers=origin) as ws:
            tab = Socket(ws)
            await ws.send(json.dumps({"type": "hello", "token": None}))
            session = await tab.next("session")
            sid = session["session_id"]
            await ws.send(json.dumps({"type": "message", "text": ANGRY_OUTAGE, "client_id": "c1"}))
            await tab.next("message", "bot", text="HO-")
            ticket_id = (await asyncio.to_thread(with_store, stack, lambda store: store.open_ticket(sid)))["ticket_id"]
            claim = await asyncio.to_thread(console.post, f"{base}/api/tickets/{ticket_id}/claim", headers=csrf, timeout=10)
            assert claim.status_code == 200
            await tab.next("state", state="with_agent")

            # agent replies: each comes to this socket, whichever process's relay took it;
            # the tracker names the relay: go on until process B has relayed one
            relays = []
            for n in range(8):
                text = f"رسالة رقم {n} من نورة"
                sent = await asyncio.to_thread(console.post, f"{base}/api/tickets/{ticket_id}/messages", json={"text": text}, headers=csrf, timeout=10)
                assert sent.status_code == 201
                await tab.next("message", "agent", text=text)
                relays.append(await asyncio.to_thread(relayed_by, sid, text))
                if relays[-1].startswith(b_relay):
                    break
            assert relays[-1].startswith(b_relay), relays

            # back to the bot; then bot replies that process B sends (its HTTP API)
            back = await asyncio.to_thread(console.post, f"{base}/api/tickets/{ticket_id}/return", headers=csrf, timeout=10)
            assert back.status_code == 200
            await tab.next("state", state="bot")
            await asyncio.to_thread(execute_on_b, sid, "utter_greet")
            greeting = await tab.next("message", "bot")
            await tab.drain(1.0)
        # nothing arrived twice: A's own frames are not echoed back from Redis
        ids = Counter(frame["id"] for frame in tab.frames if frame["type"] in ("message", "state"))
        assert all(count == 1 for count in ids.values()), ids

        # the browser is away while B sends: it finds the reply in the history on its return
        await asyncio.to_thread(execute_on_b, sid, "utter_goodbye")
        async with connect(url, extra_headers=origin) as ws:
            await ws.send(json.dumps({"type": "hello", "token": session["token"]}))
            history = (await Socket(ws).next("session"))["history"]
        assert greeting["id"] in [item["id"] for item in history]
        assert history[-1]["role"] == "bot" and history[-1]["id"] not in ids

    asyncio.run(scenario())
