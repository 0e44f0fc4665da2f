"""Web chat and WhatsApp against the real assistant (trained model, actions, Redis).

One Rasa server for this module, started with WhatsApp settings that point at the
local fake Graph API (the session's ``stack`` cannot be reused: the channels read
their settings when Rasa starts), on a Redis of its own: on the session's, the
session stack's outbox worker would send some of these messages through its own fake.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
import websockets
from polling import poll_until

from scripts import redis_server
from scripts.fake_graph_api import FakeGraphApi
from scripts.stack import Stack
from scripts.whatsapp_demo import DEMO_ENV, play

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fake_graph() -> Iterator[FakeGraphApi]:
    server = FakeGraphApi().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def channel_stack(trained_model: Path, module_redis, artifacts: Path, fake_graph: FakeGraphApi) -> Iterator[Stack]:
    env = {**DEMO_ENV, "WHATSAPP_GRAPH_API_URL": fake_graph.graph_url, "OUTBOX_POLL_SECONDS": "0.1", "WEBCHAT_SECRET": "e2e-secret"}
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    running = Stack(
        model=trained_model, redis_url=module_redis.url, rasa_port=redis_server.free_port(),
        action_port=redis_server.free_port(), log_dir=artifacts / "stack-logs-channels",
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_whatsapp_conversation_end_to_end(channel_stack: Stack, fake_graph: FakeGraphApi) -> None:
    transcript = play(f"http://127.0.0.1:{channel_stack.rasa_port}", fake_graph, ["كم فاتورتي هالشهر؟", "٤٤٧١٢٠٣", "<image>"], DEMO_ENV)
    asked, bill, image = ([r["text"]["body"] for r in turn["replies"] if r["type"] == "text"] for turn in transcript)
    assert any("حساب" in text for text in asked)
    assert any("4471203" in text and "ريال" in text for text in bill)
    assert any("النصية" in text for text in image)
    # each message is marked read by the outbox, which may finish after the replies arrived
    def receipts() -> list:
        return [r for r in fake_graph.requests() if r["json"].get("status") == "read"]

    poll_until(lambda: len(receipts()) >= 3, 20)
    time.sleep(0.5)
    assert len(receipts()) == 3


def test_webchat_conversation_end_to_end_and_widget_files(channel_stack: Stack) -> None:
    base = f"127.0.0.1:{channel_stack.rasa_port}"

    async def talk() -> list:
        async with websockets.connect(f"ws://{base}/webhooks/webchat/socket", extra_headers={"Origin": f"http://127.0.0.1:{channel_stack.rasa_port}"}) as ws:
            await ws.send(json.dumps({"type": "hello", "token": None}))
            session = json.loads(await ws.recv())
            assert session["type"] == "session" and session["session_id"].startswith("web-")
            await ws.send(json.dumps({"type": "message", "text": "كم فاتورتي هالشهر؟"}))
            replies = []
            while not replies:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if frame["type"] == "message" and frame["role"] == "bot":
                    replies.append(frame["text"])
            return replies

    replies = asyncio.run(talk())
    assert "حساب" in replies[0]
    widget = requests.get(f"http://{base}/webhooks/webchat/static/widget.js", timeout=10)
    assert widget.status_code == 200 and "textContent" in widget.text
    demo = requests.get(f"http://{base}/webhooks/webchat/static/demo.html", timeout=10)
    assert demo.text.count("<script") == 1 and "/webhooks/webchat/static/widget.js" in demo.text
    assert requests.get(f"http://{base}/webhooks/webchat/static/..%2Fwebchat.py", timeout=10).status_code == 404
    assert requests.get(f"http://{base}/webhooks/twilio/", timeout=10).json()["configured"] is False
