"""Shared fixtures: a real Redis server for the whole test session."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts import redis_server  # noqa: E402


class RedisServer:
    """A real redis-server process the tests may stop and restart."""

    def __init__(self, data_dir: Path) -> None:
        self.port = redis_server.free_port()
        self.data_dir = data_dir
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = redis_server.start(self.port, self.data_dir)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def redis_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def module_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of the module's own, for a module that runs a second deployment.

    Two deployments on one Redis are one deployment with two configurations: the
    outbox workers of both Rasa processes serve the same WhatsApp queues (each through
    its own Graph API) and both handoff services read one consumer group, so each takes
    some of the other's work (the session ``stack`` runs the whole session).
    """
    server = RedisServer(tmp_path_factory.mktemp("module-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server_process: RedisServer) -> Iterator[str]:
    """URL of the session's Redis server, emptied before each test."""
    import redis

    client = redis.Redis.from_url(redis_server_process.url)
    client.flushall()
    yield redis_server_process.url
    client.close()


@pytest.fixture(autouse=True)
def settings_from_the_current_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The action server and the Rasa process read their environment once per process
    (``get_settings``, ``process_settings``); tests change the environment per test
    (``monkeypatch.setenv``), so they read it afresh."""
    from actions import settings
    from bot import settings as bot_settings

    monkeypatch.setattr(settings, "get_settings", settings.read_settings)
    bot_settings.process_settings.cache_clear()
    yield
    bot_settings.process_settings.cache_clear()
