"""End-to-end throughput and reply latency through the web chat and REST channels.

The whole assistant runs as in production, started by :class:`scripts.stack.Stack`:
a fresh local Redis (tracker and lock stores) on a free loopback port, the action
server and the Rasa server. N conversations then talk to the assistant at the same
time, each sending its messages one after another and waiting for every reply, like
customers in a chat window:

- ``webchat`` (the headline): one WebSocket per conversation on
  ``/webhooks/webchat/socket``, exactly the frames the widget sends. A reply is
  complete when the server's ``typing off`` frame for the bot arrives, which it sends
  after the turn's last bot message.
- ``rest``: ``POST /webhooks/rest/webhook``, one HTTP request per message.

Request counts are fixed, so a slow machine makes the run slower, never longer than
planned by more than the replies themselves take.

The load generator shares the machine's cores with the servers; the figures are
therefore a lower bound of what the servers do on a machine of their own.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

from bench.stats import summarize
from scripts import redis_server
from scripts.stack import Stack

WEBHOOK = "/webhooks/rest/webhook"
WEBCHAT_SOCKET = "/webhooks/webchat/socket"
CHANNELS = ("webchat", "rest")
# Every benchmark client connects from 127.0.0.1, so the per-address and
# per-conversation limits (meant for abuse: 60 web chat sessions an hour, 20 messages
# a minute, 600 REST requests a minute per address) would throttle the load generator
# instead of measuring the assistant.
LIFTED_LIMITS = {
    "WEBCHAT_RATE_LIMIT": "1000000", "WEBCHAT_SESSIONS_PER_IP_PER_HOUR": "1000000",
    "RATE_LIMIT_MESSAGES": "1000000", "REST_RATE_LIMIT_PER_ADDRESS": "1000000",
}


@dataclass(frozen=True)
class Level:
    """One load level: how many conversations at once, how many messages each."""

    conversations: int
    messages_each: int

    @property
    def requests(self) -> int:
        """Requests sent at this level."""
        return self.conversations * self.messages_each


class BenchStack(Stack):
    """The project's stack with every address pinned to this run's free ports.

    ``Stack.env`` keeps an ``ACTION_SERVER_URL`` already set in the caller's
    environment; a benchmark must talk to the action server it started.
    """

    def env(self) -> Dict[str, str]:
        """Stack's environment, with the action server URL of this run."""
        env = super().env()
        env["ACTION_SERVER_URL"] = f"http://127.0.0.1:{self.action_port}/webhook"
        env["RASA_TELEMETRY_ENABLED"] = "false"
        env.update(LIFTED_LIMITS)
        return env

    def start_fresh_redis(self) -> None:
        """Start an empty Redis on a free port, stopped with the other services."""
        port = redis_server.free_port()
        self.processes.append(redis_server.start(port, self.data_dir))
        self.redis_url = f"redis://127.0.0.1:{port}/0"


def scripts_for(texts: Sequence[str], level: Level) -> List[List[str]]:
    """The messages each conversation sends, cycling through ``texts``.

    Conversation c starts at a different offset, so that concurrent
    conversations are in different intents and forms at any moment.
    """
    if not texts:
        raise ValueError("no messages to send")
    step = max(1, len(texts) // max(1, level.conversations))
    return [[texts[(c * step + j) % len(texts)] for j in range(level.messages_each)] for c in range(level.conversations)]


def _rest_conversation(url: str, sender: str, messages: List[str], timeout: float) -> List[tuple]:
    """One REST conversation: (HTTP status or error name, milliseconds) per message."""
    import requests

    results = []
    with requests.Session() as session:
        for text in messages:
            start = time.perf_counter()
            status: Union[int, str]
            try:
                status = session.post(url, json={"sender": sender, "message": text}, timeout=timeout).status_code
            except requests.RequestException as error:
                status = type(error).__name__
            results.append((status, (time.perf_counter() - start) * 1000))
    return results


async def _webchat_turn(ws: Any, text: str, timeout: float) -> tuple:
    """Send one message on an open web chat socket; wait for the bot's ``typing off``.

    Returns:
        ``("ok", ms)``, or the server's error code / the client's exception name
        with the milliseconds it took to learn of it.
    """
    client_id = uuid.uuid4().hex
    start = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "text": text, "client_id": client_id}, ensure_ascii=False))
    deadline = start + timeout
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            return "timeout", (time.perf_counter() - start) * 1000
        frame = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        kind = frame.get("type")
        if kind == "typing" and frame.get("role") == "bot" and frame.get("on") is False:
            return "ok", (time.perf_counter() - start) * 1000
        if kind == "error":
            return str(frame.get("error") or frame.get("code") or "error"), (time.perf_counter() - start) * 1000


async def _webchat_conversation(url: str, messages: List[str], timeout: float) -> List[tuple]:
    """One web chat conversation: hello, then each message in turn, as the widget does."""
    from websockets.client import connect
    from websockets.exceptions import WebSocketException

    results: List[tuple] = []
    try:
        async with connect(url, open_timeout=timeout, max_size=2**22) as ws:
            await ws.send(json.dumps({"type": "hello", "token": None}))
            session = json.loads(await asyncio.wait_for(ws.recv(), timeout))
            if session.get("type") != "session":
                return [(str(session.get("error") or "no_session"), 0.0) for _ in messages]
            for text in messages:
                try:
                    results.append(await _webchat_turn(ws, text, timeout))
                except (asyncio.TimeoutError, WebSocketException, OSError) as error:
                    results.append((type(error).__name__, timeout * 1000))
                    break
    except (asyncio.TimeoutError, WebSocketException, OSError) as error:
        results = [(type(error).__name__, 0.0)]
    # a conversation cut short still accounts for every message it was meant to send
    return results + [("not_sent", 0.0)] * (len(messages) - len(results))


async def _webchat_level(url: str, scripts: List[List[str]], timeout: float) -> List[tuple]:
    outcomes = await asyncio.gather(*(_webchat_conversation(url, script, timeout) for script in scripts))
    return [item for conversation in outcomes for item in conversation]


def _rest_level(url: str, scripts: List[List[str]], run_id: str, timeout: float) -> List[tuple]:
    with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        futures = [pool.submit(_rest_conversation, url, f"bench-{run_id}-{len(scripts)}-{c}", s, timeout) for c, s in enumerate(scripts)]
        return [item for future in futures for item in future.result()]


def run_level(base_url: str, texts: Sequence[str], level: Level, timeout: float = 60, channel: str = "rest") -> Dict[str, Any]:
    """Send one level's conversations concurrently and summarise the replies.

    Args:
        base_url: the Rasa server, ``http://host:port``.
        texts: real customer messages to send.
        level: how many conversations, how many messages each.
        timeout: seconds one reply may take.
        channel: ``webchat`` (WebSocket) or ``rest`` (HTTP webhook).

    Returns:
        channel, requests, ok, errors (status → count), wall_seconds,
        messages_per_second (successful replies per wall-clock second) and
        latency_ms of successful replies.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {CHANNELS}")
    scripts = scripts_for(texts, level)
    start = time.perf_counter()
    if channel == "webchat":
        url = base_url.rstrip("/").replace("http", "ws", 1) + WEBCHAT_SOCKET
        outcomes = asyncio.run(_webchat_level(url, scripts, timeout))
        success: Union[int, str] = "ok"
    else:
        outcomes = _rest_level(base_url.rstrip("/") + WEBHOOK, scripts, uuid.uuid4().hex[:6], timeout)
        success = 200
    wall = time.perf_counter() - start
    ok = [ms for status, ms in outcomes if status == success]
    errors = Counter(str(status) for status, _ in outcomes if status != success)
    return {
        "channel": channel,
        "conversations": level.conversations,
        "requests": len(outcomes),
        "ok": len(ok),
        "errors": dict(errors),
        "wall_seconds": round(wall, 2),
        "messages_per_second": round(len(ok) / wall, 2) if wall else None,
        "latency_ms": summarize(ok),
    }


def _rss_mb(processes: Sequence[Any]) -> Dict[str, float]:
    import psutil

    names = {0: "redis"}
    out = {}
    for i, proc in enumerate(processes):
        try:
            out[names.get(i, f"process_{i}")] = round(psutil.Process(proc.pid).memory_info().rss / 2**20, 1)
        except psutil.Error:
            pass
    return out


class Session:
    """The stack on one model: started once, measured, stopped.

    Starting is separate from measuring so that a quick run can start the
    servers while it is still scoring accuracy, and measure once they are idle.
    """

    def __init__(self, model: Path, work_dir: Path, log_dir: Path, progress: Optional[Callable[[str], None]] = None) -> None:
        self.model = model
        self.say = progress or (lambda line: None)
        self.stack = BenchStack(
            model=model,
            rasa_port=redis_server.free_port(),
            action_port=redis_server.free_port(),
            data_dir=work_dir / "redis",
            log_dir=log_dir,
        )
        self.startup_seconds: Optional[float] = None

    def start(self) -> float:
        """Start Redis, the action server and the Rasa server; return the seconds it took."""
        start = time.perf_counter()
        try:
            self.stack.start_fresh_redis()
            self.stack.start_actions()
            self.stack.start_rasa()
        except BaseException:
            self.stack.stop()
            raise
        self.startup_seconds = round(time.perf_counter() - start, 1)
        s = self.stack
        self.say(f"stack up in {self.startup_seconds:.0f}s (Redis {s.redis_url}, Rasa :{s.rasa_port}, actions :{s.action_port})")
        return self.startup_seconds

    def measure(self, texts: Sequence[str], levels: Sequence[Level], warmup: int = 5, channels: Sequence[str] = CHANNELS) -> Dict[str, Any]:
        """Run every level on every channel, in order, against the running stack.

        Args:
            texts: real customer messages to send.
            levels: load levels.
            warmup: messages sent and not counted first on each channel (the first
                replies build parts of the models lazily).
            channels: which channels to load, in order.
        """
        base = f"http://127.0.0.1:{self.stack.rasa_port}"
        result: Dict[str, Any] = {"model": str(self.model), "startup_seconds": self.startup_seconds, "channels": list(channels), "levels": []}
        for channel in channels:
            run_level(base, texts, Level(1, warmup), channel=channel)
            for level in levels:
                figures = run_level(base, texts, level, channel=channel)
                result["levels"].append(figures)
                latency = figures["latency_ms"]
                self.say(
                    f"{channel:>7}, {level.conversations:>3} conversations: {figures['messages_per_second']} msg/s, "
                    f"p50 {latency.get('p50')} ms, p95 {latency.get('p95')} ms, errors {figures['errors'] or 0}"
                )
        rss = _rss_mb(self.stack.processes)
        result["rss_mb"] = {"redis": rss.get("redis"), "actions": rss.get("process_1"), "rasa": rss.get("process_2")}
        return result

    def stop(self) -> None:
        """Stop every service this session started."""
        self.stack.stop()


def run(
    model: Path,
    texts: Sequence[str],
    levels: Sequence[Level],
    work_dir: Path,
    log_dir: Path,
    progress: Optional[Callable[[str], None]] = None,
    warmup: int = 5,
) -> Dict[str, Any]:
    """Start the stack on ``model``, run every level, stop the stack.

    Args:
        model: a full assistant model (NLU and dialogue).
        texts: real customer messages to send.
        levels: load levels, run in order.
        work_dir: Redis's data folder goes here.
        log_dir: each service's log goes here.
        progress: called with a line per finished level.
        warmup: messages sent and not counted before the first level.
    """
    session = Session(model, work_dir, log_dir, progress)
    session.start()
    try:
        return session.measure(texts, levels, warmup)
    finally:
        session.stop()
