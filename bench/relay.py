"""Relay latency benchmark: customer → agent console and console → customer.

Starts what it needs: a real Redis (append-only, like ``make run``) and the
handoff service as its own process (``python -m handoff``, real HTTP and
WebSocket). The relay runs in this process exactly as inside the Rasa server
(``bot.channels.relay.HandoffRelay``) and records every agent message in Rasa's
own Redis tracker store under Rasa's Redis lock store; only Rasa's HTTP
channel handler and NLU are left out, because they are measured by the ``e2e``
step of ``bench/run.py``.

What is timed, per message:

* customer → console: from the channel's call to ``relay.on_customer_message``
  (the message is persisted in Redis) to its arrival on a signed-in console's
  WebSocket feed;
* console → customer: from the console's ``POST /api/tickets/<id>/messages`` to
  the channel's deliverer receiving it (after the relay recorded it in the tracker).

``conversations`` tickets are in flight at once, each exchanging ``messages``
customer and agent messages with short pauses. Target: p95 ≤ 100 ms both ways.

Usage:
    python -m bench.relay --out bench/results/relay           # 20 × 10 = 200 each way
    python -m bench.relay --conversations 20 --messages 15 --out DIR

From Python (``bench/run.py``): ``figures = run_relay_benchmark(out=Path(...))``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List, Optional
from urllib.parse import urlparse

import aiohttp

from bench.stats import summarize
from scripts import redis_server
from scripts.stack import ROOT, wait_http

TARGET_P95_MS = 100.0


class Clock:
    """Send and arrival times of every benchmark message, keyed by its unique text."""

    def __init__(self) -> None:
        self.sent: Dict[str, float] = {}
        self.arrived: Dict[str, float] = {}
        self.waiters: Dict[str, asyncio.Event] = {}

    def start(self, key: str) -> None:
        self.waiters[key] = asyncio.Event()
        self.sent[key] = time.perf_counter()

    def arrive(self, key: str, at: Optional[float] = None) -> None:
        if key in self.sent and key not in self.arrived:
            self.arrived[key] = at if at is not None else time.perf_counter()
            self.waiters[key].set()

    async def wait(self, key: str, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self.waiters[key].wait(), timeout)

    def latencies_ms(self, prefix: str) -> List[float]:
        return [(self.arrived[k] - self.sent[k]) * 1000 for k in self.sent if k.startswith(prefix) and k in self.arrived]


class RelayThread:
    """A :class:`HandoffRelay` running on its own event loop in a background thread."""

    def __init__(self, redis_url: str, app: Any, deliver: Any) -> None:
        from bot.channels.handoff_streams import HandoffStreams
        from bot.channels.relay import HandoffRelay

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.relay = HandoffRelay(streams=None, consumer="bench")

        async def start() -> None:
            self.relay._streams = HandoffStreams(redis_url)
            self.relay.register_channel("webchat", deliver)
            await self.relay.start(app)

        asyncio.run_coroutine_threadsafe(start(), self.loop).result(30)

    async def call(self, coro: Any) -> Any:
        """Await a coroutine on the relay's loop from another loop."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.relay.stop(), self.loop).result(30)
        asyncio.run_coroutine_threadsafe(self.relay.streams.close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def rasa_stores_app(redis_url: str) -> Any:
    """The Rasa server's tracker store and Redis lock store, where the relay finds them (``app.ctx.agent``)."""
    from rasa.core.lock_store import RedisLockStore
    from rasa.shared.core.domain import Domain

    from bot.tracker_store import SessionTrackerStore

    parsed = urlparse(redis_url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379
    agent = SimpleNamespace(
        tracker_store=SessionTrackerStore(Domain.empty(), host=redis_url, key_prefix="tracker"),
        lock_store=RedisLockStore(host=host, port=port, db=0, key_prefix="lock"),
        is_ready=lambda: True,
    )
    return SimpleNamespace(ctx=SimpleNamespace(agent=agent))


async def save_paused_tracker(app: Any, conversation_id: str, text: str = "الكهرباء مقطوعة") -> None:
    """A tracker whose customer wrote ``text`` and was handed to a person."""
    from rasa.shared.core.events import ActionExecuted, ConversationPaused, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker(conversation_id, [])
    for event in (ActionExecuted("action_listen"), UserUttered(text), ConversationPaused()):
        tracker.update(event)
    await app.ctx.agent.tracker_store.save(tracker)


async def _bench(base_url: str, redis_url: str, token: str, conversations: int, messages: int, seed: int) -> Dict[str, Any]:
    from handoff.auth import Accounts
    from handoff.settings import HandoffSettings
    from handoff.store import HandoffStore

    rng = random.Random(seed)
    clock = Clock()
    store = HandoffStore(redis_url)
    password = secrets.token_urlsafe(12)
    await Accounts(store, HandoffSettings(redis_url=redis_url)).add("bench_agent", password, "agent", "Bench")
    app = rasa_stores_app(redis_url)
    bench_loop = asyncio.get_running_loop()

    async def deliver(sender_id: str, message: Dict[str, Any]) -> None:
        if message.get("kind") == "agent":
            # timed here, in the relay's thread, then handed to the benchmark's loop
            bench_loop.call_soon_threadsafe(clock.arrive, message["text"], time.perf_counter())

    # The relay gets its own thread and event loop, as it has its own process (Rasa) in
    # production: the benchmark's console client must not slow it down, nor it the client.
    relay_host = RelayThread(redis_url, app, deliver)
    relay = relay_host.relay

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        async with http.post(f"{base_url}/api/login", json={"username": "bench_agent", "password": password}) as response:
            csrf = (await response.json())["csrf"]
        headers = {"X-CSRF-Token": csrf}
        service_headers = {"Authorization": f"Bearer {token}"}
        tickets = []
        for index in range(conversations):
            conversation_id = f"web-bench-{index}-{secrets.token_hex(3)}"
            await save_paused_tracker(app, conversation_id)
            body = {"conversation_id": conversation_id, "channel": "webchat", "priority": 1 + index % 3, "reasons": ["angry"]}
            async with http.post(f"{base_url}/api/internal/tickets", json=body, headers=service_headers) as response:
                ticket_id = (await response.json())["ticket_id"]
            async with http.post(f"{base_url}/api/tickets/{ticket_id}/claim", headers=headers) as response:
                assert response.status == 200, await response.text()
            tickets.append((ticket_id, conversation_id))

        ws = await http.ws_connect(f"{base_url}/api/ws")

        async def read_feed() -> None:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT or frame.data == "pong":
                    continue
                entry = json.loads(frame.data)
                if entry.get("kind") == "event" and entry["event"]["role"] == "customer":
                    clock.arrive(entry["event"]["text"])

        reader = asyncio.create_task(read_feed())
        await asyncio.sleep(0.3)  # the console is subscribed before the first message
        # warm-up: first connections and scripts are not what an agent waits for
        warm_ticket, warm_conversation = tickets[0]
        await relay_host.call(relay.on_customer_message("webchat", warm_conversation, "warm-up"))
        async with http.post(f"{base_url}/api/tickets/{warm_ticket}/messages", json={"text": "warm-up"}, headers=headers):
            pass
        await asyncio.sleep(0.5)

        async def conversation(ticket_id: str, conversation_id: str, number: int) -> None:
            for turn in range(messages):
                await asyncio.sleep(rng.uniform(0.02, 0.12))
                key = f"c2a {number}.{turn} الكهرباء ما رجعت {secrets.token_hex(3)}"
                clock.start(key)
                await relay_host.call(relay.on_customer_message("webchat", conversation_id, key))
                await clock.wait(key)
                await asyncio.sleep(rng.uniform(0.02, 0.12))
                reply = f"a2c {number}.{turn} نعمل على إعادة الخدمة {secrets.token_hex(3)}"
                clock.start(reply)
                async with http.post(f"{base_url}/api/tickets/{ticket_id}/messages", json={"text": reply}, headers=headers) as response:
                    if response.status != 201:
                        raise RuntimeError(f"agent message refused: {response.status} {await response.text()}")
                await clock.wait(reply)

        started = time.perf_counter()
        await asyncio.gather(*(conversation(t, c, n) for n, (t, c) in enumerate(tickets)))
        elapsed = time.perf_counter() - started
        reader.cancel()
        await ws.close()
    relay_host.close()
    await store.close()
    to_console = clock.latencies_ms("c2a ")
    to_customer = clock.latencies_ms("a2c ")
    return {
        "conversations_in_flight": conversations,
        "messages_per_direction": len(to_console),
        "elapsed_s": round(elapsed, 2),
        "customer_to_console_ms": summarize(to_console),
        "console_to_customer_ms": summarize(to_customer),
        "target_p95_ms": TARGET_P95_MS,
        "target_met": bool(to_console and to_customer and
                           summarize(to_console)["p95"] <= TARGET_P95_MS and summarize(to_customer)["p95"] <= TARGET_P95_MS),
    }


def run_relay_benchmark(
    out: Optional[Path] = None, conversations: int = 20, messages: int = 10, seed: int = 7, redis_url: Optional[str] = None
) -> Dict[str, Any]:
    """Start Redis and the handoff service, measure the relay both ways, stop them.

    Args:
        out: folder for ``relay.json`` (None: do not write).
        conversations: tickets in flight at once.
        messages: customer messages (and as many agent replies) per conversation.
        seed: pauses between messages are random but repeatable.
        redis_url: use this Redis instead of starting one (it must be disposable: the
            benchmark writes tickets and accounts into it).

    Returns:
        The figures (also written as JSON when ``out`` is given).
    """
    processes: List[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="relay-bench-") as tmp:
        try:
            if redis_url is None:
                port = redis_server.free_port()
                processes.append(redis_server.start(port, Path(tmp) / "redis"))
                redis_url = f"redis://127.0.0.1:{port}/0"
            handoff_port = redis_server.free_port()
            token = secrets.token_urlsafe(24)
            env = dict(os.environ, REDIS_URL=redis_url, HANDOFF_PORT=str(handoff_port), HANDOFF_SERVICE_TOKEN=token,
                       HANDOFF_LOCAL_MODE="1",  # plain http: the session cookie must not be Secure
                       PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
            log = open(Path(tmp) / "handoff.log", "wb")
            service = subprocess.Popen([sys.executable, "-m", "handoff"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            processes.append(service)
            base_url = f"http://127.0.0.1:{handoff_port}"
            wait_http(f"{base_url}/health", 60, service)
            figures = asyncio.run(_bench(base_url, redis_url, token, conversations, messages, seed))
        finally:
            for proc in reversed(processes):
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    figures["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the machine inflates every figure
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "relay.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    return figures


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Handoff relay latency, customer → console and console → customer.")
    parser.add_argument("--out", type=Path, help="folder for relay.json")
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--messages", type=int, default=10, help="per conversation and direction")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    figures = run_relay_benchmark(args.out, args.conversations, args.messages, args.seed)
    for direction in ("customer_to_console_ms", "console_to_customer_ms"):
        stats = figures[direction]
        print(f"{direction:<24} n={stats.get('count', 0):<4} p50={stats.get('p50')} ms  p95={stats.get('p95')} ms  max={stats.get('max')} ms")
    print(f"{figures['conversations_in_flight']} conversations in flight; target p95 <= {TARGET_P95_MS:.0f} ms: "
          f"{'met' if figures['target_met'] else 'NOT met'} (load average {figures['machine']['load_average_1m']} "
          f"on {figures['machine']['cpus']} CPUs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
