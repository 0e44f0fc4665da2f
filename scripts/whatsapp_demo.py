"""Play a WhatsApp conversation end to end against the local fake Graph API.

    python -m scripts.whatsapp_demo                 # starts Redis, actions and Rasa itself
    python -m scripts.whatsapp_demo --rasa-url http://localhost:5005 --fake-port 8089

The first form needs a trained model in ``models/`` (``make train``) and starts
everything on free ports with WhatsApp settings pointing at an in-process fake Graph
API. The second plays against a running Rasa server started with
``WHATSAPP_GRAPH_API_URL=http://127.0.0.1:8089/v19.0`` and the demo secrets below,
and starts the fake on that port.

Each customer message is posted as Meta would: the webhook JSON of Meta's examples,
serialised with escaped unicode and signed (``X-Hub-Signature-256``) over the raw
bytes. The replies are read from what the fake Graph API received.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
import uuid
from typing import Any, Dict, List, Optional

from scripts.fake_graph_api import FakeGraphApi

DEMO_ENV = {
    "WHATSAPP_ACCESS_TOKEN": "demo-access-token",
    "WHATSAPP_APP_SECRET": "demo-app-secret",
    "WHATSAPP_VERIFY_TOKEN": "demo-verify-token",
    "WHATSAPP_PHONE_NUMBER_ID": "106540352242922",
    "WHATSAPP_TEMPLATES": "agent_followup:ar",
}
# the phone on file of demo account 4471203 (accounts.yml): WhatsApp proves the number,
# so its bill needs no one-time code
DEMO_CUSTOMER = "966551000101"
DEMO_CONVERSATION = ["السلام عليكم", "كم فاتورتي هالشهر؟", "٤٤٧١٢٠٣", "<image>", "شكراً"]


def meta_body(payload: Dict[str, Any]) -> bytes:
    """Serialise like Meta: ASCII JSON with \\uXXXX escapes and escaped slashes."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def sign(body: bytes, app_secret: str) -> str:
    """``X-Hub-Signature-256`` of ``body``."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def envelope(messages: List[Dict[str, Any]], phone_number_id: str, name: str = "سارة") -> Dict[str, Any]:
    """A ``messages`` webhook as in Meta's payload examples."""
    wa_id = messages[0]["from"] if messages else DEMO_CUSTOMER
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
        "messages": messages,
    }
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}


def customer_message(text: str, wa_id: str = DEMO_CUSTOMER) -> Dict[str, Any]:
    """A text message, or an image for ``<image>``."""
    base = {"from": wa_id, "id": f"wamid.demo{uuid.uuid4().hex}", "timestamp": str(int(time.time()))}
    if text == "<image>":
        return {**base, "type": "image", "image": {"mime_type": "image/jpeg", "sha256": "demo", "id": "1234567890"}}
    return {**base, "type": "text", "text": {"body": text}}


def post_webhook(rasa_url: str, payload: Dict[str, Any], app_secret: str) -> int:
    body = meta_body(payload)
    request = urllib.request.Request(
        f"{rasa_url}/webhooks/whatsapp/webhook", data=body, method="POST",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body, app_secret)},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(response.status)


def describe(message: Dict[str, Any]) -> str:
    """One line per Graph API message body, for the console."""
    kind = message.get("type")
    if kind == "text":
        return str(message["text"]["body"])
    if kind == "interactive":
        interactive = message["interactive"]
        if interactive["type"] == "button":
            choices = [b["reply"]["title"] for b in interactive["action"]["buttons"]]
        else:
            choices = [r["title"] for s in interactive["action"]["sections"] for r in s["rows"]]
        return f"{interactive['body']['text']}  [{' | '.join(choices)}]"
    return json.dumps(message, ensure_ascii=False)


# A reply is complete when no part of it arrived for this long.
QUIET_S = 1.5


def play(rasa_url: str, fake: FakeGraphApi, conversation: List[str], env: Dict[str, str], wait_s: float = 30.0) -> List[Dict[str, Any]]:
    """Send each customer message and collect the replies that reached the fake Graph API.

    Returns:
        ``[{"customer": text, "replies": [graph bodies]}]``
    """
    transcript = []
    for text in conversation:
        before = len(fake.sent_messages())
        status = post_webhook(rasa_url, envelope([customer_message(text)], env["WHATSAPP_PHONE_NUMBER_ID"]), env["WHATSAPP_APP_SECRET"])
        if status != 200:
            raise RuntimeError(f"webhook answered {status}")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and len(fake.sent_messages()) == before:
            time.sleep(0.1)
        # the rest of a multi-part reply: wait until nothing new came for a while (a
        # loaded machine spaces the parts out), so no part is counted for the next turn
        quiet_since, seen = time.monotonic(), len(fake.sent_messages())
        while time.monotonic() < deadline and time.monotonic() - quiet_since < QUIET_S:
            time.sleep(0.1)
            if len(fake.sent_messages()) != seen:
                quiet_since, seen = time.monotonic(), len(fake.sent_messages())
        transcript.append({"customer": text, "replies": fake.sent_messages()[before:]})
    return transcript


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rasa-url", help="a running Rasa server (default: start one)")
    parser.add_argument("--fake-port", type=int, default=0, help="port of the fake Graph API (0: any free one)")
    parser.add_argument("--model", default="models")
    args = parser.parse_args(argv)

    fake = FakeGraphApi(args.fake_port).start()
    env = {**DEMO_ENV, **{k: os.environ[k] for k in DEMO_ENV if os.environ.get(k)}}
    stack = None
    try:
        rasa_url = args.rasa_url
        if not rasa_url:
            from pathlib import Path

            from scripts import redis_server
            from scripts.stack import Stack

            os.environ.update(env)
            os.environ["WHATSAPP_GRAPH_API_URL"] = fake.graph_url
            os.environ.setdefault("OUTBOX_POLL_SECONDS", "0.1")
            root = Path(__file__).resolve().parents[1]
            stack = Stack(model=Path(args.model), rasa_port=redis_server.free_port(), action_port=redis_server.free_port(),
                          data_dir=root / "data" / "whatsapp-demo-redis", log_dir=root / "data" / "logs" / "whatsapp-demo")
            print("Starting Redis, the action server and Rasa (logs in data/logs/whatsapp-demo) …", flush=True)
            stack.start()
            rasa_url = f"http://127.0.0.1:{stack.rasa_port}"
        print(f"Fake Graph API {fake.graph_url}; Rasa {rasa_url}\n", flush=True)
        for turn in play(rasa_url, fake, DEMO_CONVERSATION, env):
            print(f"👤 {turn['customer']}")
            for reply in turn["replies"]:
                print(f"🤖 {describe(reply)}")
            print(flush=True)
        receipts = [r for r in fake.requests() if (r.get("json") or {}).get("status") == "read"]
        print(f"{len(receipts)} messages marked as read; every request is in the fake's log.")
        return 0
    finally:
        if stack is not None:
            stack.stop()
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
