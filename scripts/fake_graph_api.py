"""A local stand-in for Meta's Graph API and Twilio's Messages API that records requests.

Tests and ``scripts/whatsapp_demo.py`` point ``WHATSAPP_GRAPH_API_URL`` (and
``TWILIO_API_URL``) here instead of the real services. It answers like the real APIs
for the calls the channels make, keeps every request for inspection, and can be told
to fail the next N sends to simulate an outage.

Usage:
    python -m scripts.fake_graph_api --port 8089      # then WHATSAPP_GRAPH_API_URL=http://127.0.0.1:8089/v19.0

Control endpoints (not part of the real APIs):
    GET    /_requests                 every recorded send, oldest first
    DELETE /_requests                 forget them
    POST   /_fail {"count": 2, "status": 500}   the next 2 message sends answer 500
                                              (read receipts too with "read_receipts": true)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import urllib.request
import uuid
from typing import Any, Dict, List, Optional

from aiohttp import web


class Recorder:
    """What the fake server received, and the failures it still owes."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.fail_count = 0
        self.fail_status = 500
        self.fail_read_receipts = False

    def take_failure(self, read_receipt: bool = False) -> Optional[int]:
        if read_receipt and not self.fail_read_receipts:
            return None
        if self.fail_count > 0:
            self.fail_count -= 1
            return self.fail_status
        return None


def build_app(recorder: Recorder) -> web.Application:
    """The aiohttp application serving both fake APIs."""

    async def graph_messages(request: web.Request) -> web.Response:
        raw = await request.read()
        entry: Dict[str, Any] = {
            "api": "graph",
            "path": request.path,
            "phone_number_id": request.match_info["phone_number_id"],
            "authorization": request.headers.get("Authorization", ""),
            "ts": time.time(),
        }
        try:
            entry["json"] = json.loads(raw)
        except ValueError:
            entry["json"] = None
        is_receipt = isinstance(entry["json"], dict) and entry["json"].get("status") == "read"
        status = recorder.take_failure(read_receipt=is_receipt)
        entry["status"] = status or 200
        recorder.requests.append(entry)
        if status:
            return web.json_response({"error": {"message": "(#1) fake outage", "type": "OAuthException", "code": 1}}, status=status)
        if not entry["authorization"].startswith("Bearer ") or entry["json"] is None:
            entry["status"] = 401
            return web.json_response({"error": {"message": "Invalid OAuth access token", "code": 190}}, status=401)
        body = entry["json"]
        if body.get("status") == "read":
            return web.json_response({"success": True})
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                "messages": [{"id": f"wamid.fake{uuid.uuid4().hex}"}],
            }
        )

    async def twilio_messages(request: web.Request) -> web.Response:
        form = await request.post()
        entry: Dict[str, Any] = {
            "api": "twilio",
            "path": request.path,
            "account_sid": request.match_info["account_sid"],
            "authorization": request.headers.get("Authorization", ""),
            "form": {key: str(value) for key, value in form.items()},
            "ts": time.time(),
        }
        status = recorder.take_failure()
        entry["status"] = status or 201
        recorder.requests.append(entry)
        if status:
            return web.json_response({"code": 20500, "message": "fake outage", "status": status}, status=status)
        return web.json_response({"sid": f"SM{uuid.uuid4().hex}", "status": "queued", "to": entry["form"].get("To")}, status=201)

    async def list_requests(request: web.Request) -> web.Response:
        return web.json_response(recorder.requests)

    async def clear_requests(request: web.Request) -> web.Response:
        recorder.requests.clear()
        recorder.fail_count = 0
        return web.json_response({"cleared": True})

    async def fail(request: web.Request) -> web.Response:
        plan = await request.json()
        recorder.fail_count = int(plan.get("count", 1))
        recorder.fail_status = int(plan.get("status", 500))
        recorder.fail_read_receipts = bool(plan.get("read_receipts", False))
        return web.json_response({"failing": recorder.fail_count})

    app = web.Application()
    app.router.add_post("/{version}/{phone_number_id}/messages", graph_messages)
    app.router.add_post("/2010-04-01/Accounts/{account_sid}/Messages.json", twilio_messages)
    app.router.add_get("/_requests", list_requests)
    app.router.add_delete("/_requests", clear_requests)
    app.router.add_post("/_fail", fail)
    return app


class FakeGraphApi:
    """The fake server on a background thread, for tests and the demo.

    Args:
        port: TCP port on 127.0.0.1 (0 picks a free one).
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.recorder = Recorder()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def graph_url(self) -> str:
        """Value for ``WHATSAPP_GRAPH_API_URL``."""
        return f"{self.base_url}/v19.0"

    def start(self) -> FakeGraphApi:
        ready = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._runner = web.AppRunner(build_app(self.recorder), access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-graph-api", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake Graph API did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def requests(self, api: str = "graph") -> List[Dict[str, Any]]:
        """Recorded requests of one API (``graph`` or ``twilio``)."""
        return [entry for entry in list(self.recorder.requests) if entry["api"] == api]

    def sent_messages(self) -> List[Dict[str, Any]]:
        """Graph message bodies the fake accepted (read receipts and failures excluded)."""
        return [e["json"] for e in self.requests() if e["status"] == 200 and e["json"] and e["json"].get("status") != "read"]

    def fail_next(self, count: int, status: int = 500, read_receipts: bool = False) -> None:
        """Answer the next ``count`` sends with ``status`` (read receipts too if asked)."""
        self.recorder.fail_status = status
        self.recorder.fail_read_receipts = read_receipts
        self.recorder.fail_count = count

    def clear(self) -> None:
        self.recorder.requests.clear()
        self.recorder.fail_count = 0


def fetch_requests(base_url: str) -> List[Dict[str, Any]]:
    """Recorded requests of a fake server running in another process."""
    with urllib.request.urlopen(f"{base_url}/_requests", timeout=5) as response:
        return list(json.loads(response.read()))


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Graph API / Twilio Messages API that records requests.")
    parser.add_argument("--port", type=int, default=8089)
    args = parser.parse_args(argv)
    print(f"Fake Graph API on http://127.0.0.1:{args.port}/v19.0 (Twilio: http://127.0.0.1:{args.port})", flush=True)
    web.run_app(build_app(Recorder()), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
