"""What the intake costs one REST message: with and without the Redis stream.

Both paths run the shipped model's agent, loaded as ``rasa run`` loads it
(endpoints.yml: Redis tracker and lock stores) against a fresh local Redis:

* ``direct``: what the REST channel did before ``bot/channels/inbound.py``:
  ``agent.handle_message`` (the conversation's lock, then the processor) with a
  collecting output channel;
* ``stream``: what it does now: ``Inbound.accept`` (XADD, pending index, waiting mark),
  a drain task under the same lock running the same processor steps
  (``RasaTurns``), the replies handed over through Redis, ``Inbound.wait``;
* ``stream, no-op turn``: the same with a turn that does nothing: the intake's own
  Redis work alone, without the model's noise.

The two model paths alternate message by message (10 messages per conversation, so
trackers stay short and alike); the figures are milliseconds per message. No HTTP:
the Sanic request handling is the same on both paths.

Usage:
    python -m bench.inbound                    # newest models/*.tar.gz, 100 messages per path
    python -m bench.inbound --messages 300 --model models/x.tar.gz
    python -m bench.inbound --no-model         # the no-op figure only (seconds, no model load)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, AsyncIterator, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from bench.stats import summarize
from bot.channels.inbound import ChannelHooks, Inbound
from bot.channels.turns import RasaTurns
from bot.settings import Settings
from scripts import redis_server
from scripts.evaluate_nlu import latest_model
from scripts.stack import ROOT, redis_env, retention_env

# answered by responses (utter_*): no action server in the measurement
PHRASES = ("السلام عليكم", "شكرا", "هل أنت روبوت؟", "مع السلامة")
ACTIONS_DOWN = "http://127.0.0.1:9/webhook"  # nothing listens (no custom action is predicted)
PER_CONVERSATION = 10


async def load_agent(model: Path, redis_url: str, action_url: str = ACTIONS_DOWN) -> Any:
    """The agent as ``rasa run`` builds it from endpoints.yml, against ``redis_url``."""
    from rasa.core.agent import load_agent as rasa_load_agent
    from rasa.core.utils import AvailableEndpoints

    env = {**redis_env(redis_url), **retention_env({}), "ACTION_SERVER_URL": action_url, "ACTION_SERVER_TOKEN": "unused"}
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return await rasa_load_agent(model_path=str(model), endpoints=endpoints)


class NoTurn:
    """A turn runner that does nothing: the intake's own cost."""

    def lock(self, conversation_id: str) -> contextlib.AbstractAsyncContextManager[None]:
        return _no_lock()

    async def run(self, conversation_id: str, messages: List[UserMessage]) -> None:
        for message in messages:
            await message.output_channel.send_text_message(conversation_id, "ok")


@contextlib.asynccontextmanager
async def _no_lock() -> AsyncIterator[None]:
    yield


def intake_for(runner: Any) -> Inbound:
    intake = Inbound(Settings(), runner=runner)
    intake.register("rest", ChannelHooks(lambda _sender: CollectingOutputChannel()))
    return intake


async def through_stream(intake: Inbound, sender: str, text: str) -> List[Dict[str, Any]]:
    message_id = await intake.accept("rest", sender, text, wait_seconds=60)
    replies = await intake.wait(message_id, 60)
    assert replies is not None, "no reply within 60 s"
    return replies


async def direct(agent: Any, sender: str, text: str) -> List[Dict[str, Any]]:
    output = CollectingOutputChannel()
    await agent.handle_message(UserMessage(text, output, sender, input_channel="rest"))
    return output.messages


async def measure(messages: int, model: Optional[Path], redis_url: str) -> Dict[str, Any]:
    os.environ["REDIS_URL"] = redis_url  # the intake's client (bot/channels/redis_client.py)
    figures: Dict[str, Any] = {}
    noop = intake_for(NoTurn())
    timings: List[float] = []
    for n in range(messages + 10):
        started = time.perf_counter()
        await through_stream(noop, f"noop-{n // PER_CONVERSATION}", PHRASES[n % len(PHRASES)])
        if n >= 10:  # warm-up
            timings.append((time.perf_counter() - started) * 1000)
    await noop.stop()
    figures["stream, no-op turn"] = summarize(timings)
    if model is None:
        return figures
    agent = await load_agent(model, redis_url)
    intake = intake_for(RasaTurns(SimpleNamespace(ctx=SimpleNamespace(agent=agent))))
    paths = {"direct": lambda sender, text: direct(agent, sender, text), "stream": lambda sender, text: through_stream(intake, sender, text)}
    samples: Dict[str, List[float]] = {name: [] for name in paths}
    for n in range(messages + 10):
        for name, send in paths.items():
            started = time.perf_counter()
            replies = await send(f"{name}-{n // PER_CONVERSATION}", PHRASES[n % len(PHRASES)])
            if n >= 10:
                samples[name].append((time.perf_counter() - started) * 1000)
            assert replies, f"{name}: no reply"
    await intake.stop()
    figures.update({name: summarize(values) for name, values in samples.items()})
    figures["stream - direct (p50)"] = round(figures["stream"]["p50"] - figures["direct"]["p50"], 2)
    return figures


def quiet() -> None:
    """Warnings and errors only: Rasa's debug lines would drown the figures (and cost time)."""
    import structlog

    logging.basicConfig(level=logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100, help="messages measured per path (after 10 of warm-up)")
    parser.add_argument("--model", type=Path, default=ROOT / "models", help="model file, or folder whose newest model is used")
    parser.add_argument("--no-model", action="store_true", help="only the no-op turn (no model load)")
    args = parser.parse_args(argv)
    quiet()
    model = None if args.no_model else latest_model(args.model)
    with tempfile.TemporaryDirectory(prefix="inbound-bench-") as tmp:
        port = redis_server.free_port()
        proc = redis_server.start(port, Path(tmp) / "redis")
        try:
            figures = asyncio.run(measure(args.messages, model, f"redis://127.0.0.1:{port}/0"))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"one REST message, ms per message ({args.messages} per path{'' if model is None else f', model {model.name}'}):")
    for name, value in figures.items():
        if isinstance(value, dict):
            print(f"  {name:<22} p50 {value['p50']:>8.2f}   p95 {value['p95']:>8.2f}   mean {value['mean']:>8.2f}")
        else:
            print(f"  {name:<22} {value:+.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
