"""The audit log quotes customers' messages: entries older than the retention are trimmed."""

import asyncio
import time

import redis

from workbench.settings import WorkbenchSettings
from workbench.store import WorkbenchStore


def test_old_audit_entries_are_trimmed_on_the_next_write(redis_url: str) -> None:
    async def scenario() -> list:
        store = WorkbenchStore(redis_url, audit_retention_seconds=3600)
        try:
            old_ms = int((time.time() - 2 * 3600) * 1000)
            # an entry written two hours ago (explicit id), then a fresh one
            await store.redis.xadd(store._key("audit"), {"entry": '{"who": "old", "action": "add_example"}'}, id=f"{old_ms}-0")
            await store.record("amal", "dismiss", item="x")
            return [entry["who"] for entry in await store.history()]
        finally:
            await store.close()

    assert asyncio.run(scenario()) == ["amal"]
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert client.xlen("trainer:audit") == 1
    finally:
        client.close()


def test_the_retention_comes_from_the_environment() -> None:
    assert WorkbenchSettings.from_env({"RETENTION_DAYS_AUDIT": "30"}).audit_retention_days == 30
    assert WorkbenchSettings.from_env({}).audit_retention_days == 365
