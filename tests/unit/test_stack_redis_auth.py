"""The Redis that `make run` (scripts/stack.py) starts requires a password; the password
never appears on a command line; Rasa's trackers get an expiry from RETENTION_DAYS_TRACKERS."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis

from scripts import redis_server
from scripts import stack as stack_module
from scripts.stack import Stack, redis_env, retention_env


def test_the_stacks_redis_refuses_a_client_without_the_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_PASSWORD", raising=False)
    monkeypatch.setenv("REDIS_PORT", str(redis_server.free_port()))  # never a developer's own Redis
    stack = Stack(data_dir=tmp_path / "redis")
    try:
        stack.start_redis()
        assert stack.redis_url and f":{stack.redis_password}@" in stack.redis_url
        port = int(urlparse(stack.redis_url).port or 6379)
        # the attack: a local process that knows the port but not the password
        intruder = redis.Redis(host="127.0.0.1", port=port)
        with pytest.raises(redis.exceptions.AuthenticationError):
            intruder.keys("*")
        intruder.close()
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port, password="wrong-password").ping()
        client = redis.Redis.from_url(stack.redis_url)
        assert client.ping() and client.set("k", "v")
        client.close()
        # every child reads REDIS_URL (with the password) from its environment
        env = stack.env()
        assert env["REDIS_URL"] == stack.redis_url and stack.redis_password in env["REDIS_URL"]
        # and the password is on no command line (ps, /proc/<pid>/cmdline)
        cmdline = Path(f"/proc/{stack.processes[0].pid}/cmdline").read_bytes()
        assert stack.redis_password.encode() not in cmdline
    finally:
        stack.stop()


def test_a_generated_password_is_used_once_per_run_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_PASSWORD", raising=False)
    assert len(Stack().redis_password) >= 32
    monkeypatch.setenv("REDIS_PASSWORD", "from-env-local")
    assert Stack().redis_password == "from-env-local"


def test_redis_url_is_the_one_redis_setting_and_is_checked() -> None:
    assert redis_env("redis://:a%2Fb%40c@127.0.0.1:6390/0") == {"REDIS_URL": "redis://:a%2Fb%40c@127.0.0.1:6390/0"}
    with pytest.raises(ValueError, match="must start with redis://"):
        redis_env("http://127.0.0.1:6390")


def test_the_local_stack_runs_the_rest_channel_in_local_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOOR_LOCAL_MODE", raising=False)
    assert Stack().env()["NOOR_LOCAL_MODE"] == "1"


def test_tracker_expiry_comes_from_retention_days() -> None:
    assert retention_env({}) == {"TRACKER_RECORD_EXP_SECONDS": str(stack_module.DEFAULT_RETENTION_DAYS_TRACKERS * 86400)}
    assert retention_env({"RETENTION_DAYS_TRACKERS": "30"}) == {"TRACKER_RECORD_EXP_SECONDS": str(30 * 86400)}
    assert retention_env({"TRACKER_RECORD_EXP_SECONDS": "60"}) == {"TRACKER_RECORD_EXP_SECONDS": "60"}
    with pytest.raises(ValueError):
        retention_env({"RETENTION_DAYS_TRACKERS": "0"})


def test_rasa_trackers_saved_with_the_shipped_endpoints_expire(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """endpoints.yml + RETENTION_DAYS_TRACKERS -> the tracker store (bot/tracker_store.py) sets a TTL."""
    import asyncio

    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import read_endpoints_from_path
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    monkeypatch.setenv("RETENTION_DAYS_TRACKERS", "7")
    monkeypatch.delenv("TRACKER_RECORD_EXP_SECONDS", raising=False)
    for name, value in {**redis_env(redis_url), **retention_env(), "ACTION_SERVER_URL": "http://127.0.0.1:1/webhook", "ACTION_SERVER_TOKEN": "x"}.items():
        monkeypatch.setenv(name, value)
    endpoints = read_endpoints_from_path(str(stack_module.ROOT / "endpoints.yml"))
    store = TrackerStore.create(endpoints.tracker_store, Domain.empty())
    asyncio.run(store.save(DialogueStateTracker.from_events("ret-sender", [UserUttered("مرحبا")])))
    client = redis.Redis.from_url(redis_url)
    keys = client.keys("*ret-sender*")
    assert keys, "the tracker was not saved"
    assert all(7 * 86400 - 60 <= client.ttl(key) <= 7 * 86400 for key in keys)
    client.close()
