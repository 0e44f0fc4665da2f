"""End-to-end throughput and reply latency through the REST webhook.

The whole assistant runs as in production, started by :class:`scripts.stack.Stack`:
a fresh local Redis (tracker and lock stores) on a free loopback port, the action
server and the Rasa server. N conversations (distinct senders) then talk to
``/webhooks/rest/webhook`` at the same time, each sending its messages one after
another and waiting for every reply, like customers in a chat window. Request
counts are fixed, so a slow machine makes the run slower, never longer than planned
by more than the replies themselves take.

The load generator shares the machine's cores with the servers; the figures are
therefore a lower bound of what the servers do on a machine of their own.
"""

from __future__ import annotations

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


def _conversation(url: str, sender: str, messages: List[str], timeout: float) -> List[tuple]:
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


def run_level(base_url: str, texts: Sequence[str], level: Level, timeout: float = 60) -> Dict[str, Any]:
    """Send one level's conversations concurrently and summarise the replies.

    Returns:
        requests, ok, errors (status → count), wall_seconds, messages_per_second
        (successful replies per wall-clock second) and latency_ms of successful replies.
    """
    url = base_url.rstrip("/") + WEBHOOK
    run_id = uuid.uuid4().hex[:6]
    scripts = scripts_for(texts, level)
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=level.conversations) as pool:
        futures = [pool.submit(_conversation, url, f"bench-{run_id}-{level.conversations}-{c}", s, timeout) for c, s in enumerate(scripts)]
        outcomes = [item for future in futures for item in future.result()]
    wall = time.perf_counter() - start
    ok = [ms for status, ms in outcomes if status == 200]
    errors = Counter(str(status) for status, _ in outcomes if status != 200)
    return {
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

    def measure(self, texts: Sequence[str], levels: Sequence[Level], warmup: int = 5) -> Dict[str, Any]:
        """Run every level in order against the running stack.

        Args:
            texts: real customer messages to send.
            levels: load levels.
            warmup: messages sent and not counted first (the first replies build
                parts of the models lazily).
        """
        base = f"http://127.0.0.1:{self.stack.rasa_port}"
        run_level(base, texts, Level(1, warmup))
        result: Dict[str, Any] = {"model": str(self.model), "startup_seconds": self.startup_seconds, "levels": []}
        for level in levels:
            figures = run_level(base, texts, level)
            result["levels"].append(figures)
            latency = figures["latency_ms"]
            self.say(
                f"{level.conversations:>3} conversations: {figures['messages_per_second']} msg/s, "
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
