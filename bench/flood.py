"""Messages lost or doubled when many arrive at once (issue 15's measurement).

Starts the whole assistant (:class:`bench.e2e.BenchStack`: fresh Redis, action server,
handoff service, Rasa) with one or more Rasa processes sharing that Redis, then sends
``conversations × messages`` REST messages all at once (message ``i`` of a conversation
to process ``i mod processes``), and counts, from the trackers Rasa stored, how many
customer messages are recorded once, missing, or recorded twice. The HTTP answers
are counted too: ``200`` (replied in time), ``202`` (kept, answered with the next
reply: ``REPLY_TIMEOUT_SECONDS`` ran out), anything else.

Usage:
    python -m bench.flood                              # 10 × 30, one then two Rasa processes
    python -m bench.flood --processes 1 --conversations 5 --messages 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

import aiohttp
import requests

from bench.e2e import WEBHOOK, BenchStack
from scripts import redis_server
from scripts.evaluate_nlu import latest_model
from scripts.stack import ROOT

TEXTS = ("السلام عليكم", "الكهرباء مقطوعة عندنا", "كم فاتورتي؟", "شكرا", "هل أنت روبوت؟", "النت فاصل من امس")


async def fire(urls: List[str], conversations: int, messages: int, timeout: float) -> Dict[str, Any]:
    """Send every message at once; the HTTP statuses and the senders used."""
    run = uuid.uuid4().hex[:6]
    senders = [f"flood-{run}-{c}" for c in range(conversations)]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout), connector=aiohttp.TCPConnector(limit=0)) as session:

        async def send(sender: str, n: int) -> str:
            body = {"sender": sender, "message": f"{TEXTS[n % len(TEXTS)]} {n}"}
            try:
                async with session.post(urls[n % len(urls)] + WEBHOOK, json=body) as reply:
                    await reply.read()
                    return str(reply.status)
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                return type(error).__name__

        statuses = await asyncio.gather(*(send(sender, n) for sender in senders for n in range(messages)))
    return {"senders": senders, "statuses": dict(Counter(statuses))}


def recorded(stack: BenchStack, sender: str) -> List[str]:
    """The texts of the customer messages the conversation's tracker holds."""
    tracker = requests.get(stack.api_url(f"/conversations/{sender}/tracker"), timeout=30).json()
    return [e["text"] for e in tracker.get("events", []) if e.get("event") == "user"]


def settle(stack: BenchStack, senders: List[str], expected: int, patience: float) -> Dict[str, List[str]]:
    """Trackers once every conversation holds ``expected`` messages or nothing changed for ``patience`` s."""
    last: Dict[str, List[str]] = {}
    quiet_since = time.monotonic()
    while True:
        now = {sender: recorded(stack, sender) for sender in senders}
        if now != last:
            last, quiet_since = now, time.monotonic()
        if all(len(texts) >= expected for texts in now.values()) or time.monotonic() - quiet_since > patience:
            return now
        time.sleep(1.0)


def measure(model: Path, processes: int, conversations: int, messages: int, work: Path) -> Dict[str, Any]:
    first = BenchStack(model=model, rasa_port=redis_server.free_port(), action_port=redis_server.free_port(), handoff_port=redis_server.free_port(), data_dir=work / "redis", log_dir=work / "logs")
    stacks = [first]
    try:
        first.start_fresh_redis()
        first.start_handoff()
        first.start_actions()
        for n in range(1, processes):  # more Rasa processes on the same Redis, action server and handoff service
            stacks.append(BenchStack(
                model=model, redis_url=first.redis_url, rasa_port=redis_server.free_port(), action_port=first.action_port,
                handoff_port=first.handoff_port, log_dir=work / f"logs-{n}", service_token=first.service_token,
                rasa_token=first.rasa_token, action_token=first.action_token,
            ))
        for stack in stacks:
            stack.start_rasa(timeout=600)
        started = time.perf_counter()
        sent = asyncio.run(fire([f"http://127.0.0.1:{s.rasa_port}" for s in stacks], conversations, messages, timeout=300))
        trackers = settle(first, sent["senders"], messages, patience=30)
        wall = time.perf_counter() - started
    finally:
        for stack in reversed(stacks):
            stack.stop()
    expected = {f"{TEXTS[n % len(TEXTS)]} {n}" for n in range(messages)}
    lost = sum(len(expected - set(texts)) for texts in trackers.values())
    doubled = sum(len(texts) - len(set(texts)) for texts in trackers.values())
    return {
        "rasa_processes": processes, "sent": conversations * messages, "http": sent["statuses"],
        "recorded_once": conversations * messages - lost, "lost": lost, "recorded_twice": doubled, "wall_seconds": round(wall, 1),
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="Rasa processes of each run")
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--messages", type=int, default=30, help="messages per conversation, all sent at once")
    args = parser.parse_args(argv)
    model = latest_model(args.model)
    for processes in args.processes:
        with tempfile.TemporaryDirectory(prefix="flood-bench-") as tmp:
            print(json.dumps(measure(model, processes, args.conversations, args.messages, Path(tmp)), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
