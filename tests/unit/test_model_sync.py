"""The deployment's model in Redis (``bot/model_sync.py``), on a real Redis.

A stand-in loader records what a process would load; Rasa's own loader is used where
the test is about it (a file that is not a model). Each test has its own key and
channel: the session's Rasa server, should it run, follows the real ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Awaitable, Callable, Dict, List, Optional

import pytest
import redis
from redis import asyncio as aioredis

from bot import model_sync
from bot.model_sync import ModelSync
from bot.pubsub import confirm_subscription


@pytest.fixture
def names() -> Dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {"key": f"test-model:current:{suffix}", "channel": f"test-model:changed:{suffix}"}


@pytest.fixture
def models(tmp_path: Path) -> List[Path]:
    files = [tmp_path / f"model-{n}.tar.gz" for n in range(4)]
    for file in files:
        file.write_bytes(b"a stand-in model file")
    return files


class Process:
    """What a Rasa process does with a model, without Rasa: it serves ``serving``."""

    def __init__(self, serving: Optional[str], fail: bool = False) -> None:
        self.serving = serving
        self.loads: List[str] = []
        self.fail = fail

    async def load(self, model_file: str) -> None:
        self.loads.append(model_file)
        if self.fail:
            raise RuntimeError("not a model")
        self.serving = model_file

    def sync(self, url: str, names: Dict[str, str]) -> ModelSync:
        client = aioredis.Redis.from_url(url, decode_responses=True)
        return ModelSync(self.load, lambda: self.serving, lambda: client, **names)


async def eventually(condition: Callable[[], Any], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


def test_publish_sets_the_key_and_tells_the_subscribers(redis_url: str, names: Dict[str, str]) -> None:
    async def scenario() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        pubsub = client.pubsub()
        try:
            assert await model_sync.read_current(client, names["key"]) is None
            await pubsub.subscribe(names["channel"])
            await confirm_subscription(pubsub)
            before = time.time()
            published = await model_sync.publish(client, "/models/new.tar.gz", "trainer1", **names)
            assert published["model_file"] == "/models/new.tar.gz" and published["by"] == "trainer1"
            assert before <= published["loaded_at"] <= time.time()
            assert await model_sync.read_current(client, names["key"]) == published
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            assert message is not None and json.loads(message["data"]) == published
        finally:
            await pubsub.reset()
            await client.close()

    run(scenario)


def test_a_whole_deployment_start_forgets_the_trainers_choice(redis_url: str, names: Dict[str, str]) -> None:
    """``make run`` (Stack.start_rasa) serves the model it names, not last session's load."""
    async def published() -> Optional[Dict[str, Any]]:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            await model_sync.publish(client, "/models/old.tar.gz", "trainer1", **names)
            return await model_sync.read_current(client, names["key"])
        finally:
            await client.close()

    assert asyncio.run(published()) is not None
    model_sync.forget(redis_url, names["key"])
    assert redis.Redis.from_url(redis_url).exists(names["key"]) == 0


def test_a_process_ignores_the_model_it_serves(redis_url: str, names: Dict[str, str], models: List[Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    process = Process(str(models[0]))
    sync = process.sync(redis_url, names)
    # the same file named relative to the working directory is the same model
    monkeypatch.chdir(models[0].parent)

    async def scenario() -> None:
        assert not await sync.follow({"model_file": models[0].name})
        assert not await sync.follow({"model_file": str(models[0])})
        assert not await sync.follow(None) and not await sync.follow({"by": "x"})
        assert await sync.follow({"model_file": str(models[1]), "by": "t"})

    run(scenario)
    assert process.loads == [str(models[1])] and process.serving == str(models[1])


def test_a_missing_or_broken_model_leaves_the_process_serving_its_own(redis_url: str, names: Dict[str, str],
                                                                      models: List[Path], tmp_path: Path) -> None:
    process = Process(str(models[0]))
    sync = process.sync(redis_url, names)

    async def scenario() -> None:
        assert not await sync.follow({"model_file": str(tmp_path / "no-such-model.tar.gz")})
        assert process.loads == [] and process.serving == str(models[0])
        process.fail = True
        assert not await sync.follow({"model_file": str(models[1])})
        assert process.loads == [str(models[1])] and process.serving == str(models[0])

    run(scenario)


def test_a_starting_process_loads_the_published_model_then_follows(redis_url: str, names: Dict[str, str],
                                                                   models: List[Path]) -> None:
    """A worker (re)started after a load serves the trainer's model, not its --model."""
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    admin.set(names["key"], json.dumps({"model_file": str(models[1]), "loaded_at": 1.0, "by": "t"}))
    process = Process(str(models[0]))
    sync = process.sync(redis_url, names)

    async def scenario() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        sync.start()
        try:
            await eventually(lambda: sync.listening)
            assert process.serving == str(models[1])
            await model_sync.publish(client, str(models[2]), "t", **names)
            await eventually(lambda: process.serving == str(models[2]))
            # malformed messages are skipped; the next good one is followed
            await client.publish(names["channel"], "not json")
            await model_sync.publish(client, str(models[3]), "t", **names)
            await eventually(lambda: process.serving == str(models[3]))
        finally:
            await sync.stop()
            await client.close()

    try:
        run(scenario)
    finally:
        admin.close()
    assert process.loads == [str(models[1]), str(models[2]), str(models[3])]


def test_the_subscription_comes_back_after_losing_redis(module_redis: Any, names: Dict[str, str], models: List[Path]) -> None:
    process = Process(str(models[0]))
    sync = process.sync(module_redis.url, names)
    admin = redis.Redis.from_url(module_redis.url, decode_responses=True)

    async def scenario() -> None:
        sync.start()
        try:
            await eventually(lambda: sync.listening)
            # the connection drops, and a model is published before the process is back:
            # it reads the key after subscribing again
            sync.reconnect_min_seconds = 1.0
            admin.client_kill_filter(_type="pubsub")
            await eventually(lambda: not sync.listening)
            admin.set(names["key"], json.dumps({"model_file": str(models[1]), "loaded_at": 1.0, "by": "t"}))
            await eventually(lambda: process.serving == str(models[1]))
            # Redis itself restarts: the process subscribes again and follows the next load
            sync.reconnect_min_seconds = 0.1
            await asyncio.to_thread(module_redis.restart)
            await eventually(lambda: sync.listening, timeout=30)
            publisher = aioredis.Redis.from_url(module_redis.url, decode_responses=True)
            try:
                await model_sync.publish(publisher, str(models[2]), "t", **names)
            finally:
                await publisher.close()
            await eventually(lambda: process.serving == str(models[2]))
        finally:
            await sync.stop()

    try:
        run(scenario)
    finally:
        admin.close()


# ------------------------------------------------------------------ Rasa side
def test_rasa_keeps_its_agent_when_the_file_is_not_a_model(tmp_path: Path) -> None:
    """Rasa's own loader (as PUT /model) refuses the file; the running agent stays."""
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a model")
    agent = SimpleNamespace(lock_store=object(), processor=None)
    app = SimpleNamespace(ctx=SimpleNamespace(agent=agent))

    from rasa.server import ErrorResponse

    async def scenario() -> None:
        with pytest.raises(ErrorResponse):
            await model_sync.load_into(app, None, str(broken))

    run(scenario)
    assert app.ctx.agent is agent


def test_the_served_file_of_a_folder_is_the_one_rasa_loaded(tmp_path: Path) -> None:
    (tmp_path / "old.tar.gz").write_bytes(b"x")
    (tmp_path / "newer.tar.gz").write_bytes(b"x")
    from_folder = SimpleNamespace(model_path=tmp_path, model_filename="old.tar.gz")
    assert model_sync.serving_file(SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(processor=from_folder)))) == \
        os.path.join(str(tmp_path), "old.tar.gz")
    from_file = SimpleNamespace(model_path=tmp_path / "newer.tar.gz", model_filename="newer.tar.gz")
    assert model_sync.serving_file(SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(processor=from_file)))) == \
        str(tmp_path / "newer.tar.gz")
    assert model_sync.serving_file(SimpleNamespace(ctx=SimpleNamespace(agent=None))) is None


def test_install_gives_every_rasa_server_the_listeners(monkeypatch: pytest.MonkeyPatch) -> None:
    import rasa.core.run

    seen: Dict[str, Any] = {}

    def serve_application(model_path: Optional[str] = None, endpoints: Any = None,
                          server_listeners: Optional[list] = None) -> None:
        seen.update(model_path=model_path, endpoints=endpoints, listeners=server_listeners)

    monkeypatch.setattr(rasa.core.run, "serve_application", serve_application)
    model_sync.install()
    model_sync.install()  # once only
    endpoints = object()
    rasa.core.run.serve_application("models", endpoints=endpoints, server_listeners=[("mine", "after_server_stop")])
    assert seen["model_path"] == "models" and seen["endpoints"] is endpoints
    assert [event for _listener, event in seen["listeners"]] == ["after_server_stop", "after_server_start", "before_server_stop", "after_server_stop"]
