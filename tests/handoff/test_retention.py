"""Retention: a closed ticket and its event stream expire RETENTION_DAYS_TICKETS days after
closing (open tickets never do); dead letters expire RETENTION_DAYS_DEAD_LETTERS days after
the latest one. Checked on the real Redis."""

from __future__ import annotations

import asyncio
from typing import Any, Dict

import pytest
import redis
from handoff_helpers import Console, add_account, internal, ticket_payload
from redis import asyncio as aioredis

from bot.channels.outbox import Outbox, SendError
from bot.settings import OutboxSettings
from handoff.store import DEFAULT_RETENTION_DAYS_TICKETS, ticket_retention_seconds

DAY = 86400


def test_closed_tickets_expire_counted_from_closing(service_factory: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_DAYS_TICKETS", "2")
    service = service_factory()
    add_account(service, "amal")
    amal = Console(service, "amal")
    client = redis.Redis.from_url(redis_url)
    for conversation, action in (("ret-resolved", "resolve"), ("ret-returned", "return")):
        ticket_id = internal(service, "POST", "/api/internal/tickets", json=ticket_payload(conversation)).json()["ticket_id"]
        assert amal.post(f"/api/tickets/{ticket_id}/claim").status_code == 200
        assert amal.post(f"/api/tickets/{ticket_id}/messages", {"text": "مرحبا"}).status_code == 201
        # while open, nothing expires
        assert client.ttl(f"handoff:ticket:{ticket_id}") == -1
        assert client.ttl(f"handoff:events:{ticket_id}") == -1
        assert amal.post(f"/api/tickets/{ticket_id}/{action}").status_code == 200
        for key in (f"handoff:ticket:{ticket_id}", f"handoff:events:{ticket_id}"):
            assert 2 * DAY - 60 <= client.ttl(key) <= 2 * DAY, key
        # a rating after closing keeps the expiry (XADD/HSET do not clear a TTL)
        assert internal(service, "POST", f"/api/internal/tickets/{ticket_id}/rating", json={"rating": 5}).status_code in (200, 201, 204)
        for key in (f"handoff:ticket:{ticket_id}", f"handoff:events:{ticket_id}"):
            assert 2 * DAY - 60 <= client.ttl(key) <= 2 * DAY, key
    client.close()


def test_ticket_retention_default_and_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETENTION_DAYS_TICKETS", raising=False)
    assert ticket_retention_seconds() == int(DEFAULT_RETENTION_DAYS_TICKETS * DAY) == 365 * DAY
    monkeypatch.setenv("RETENTION_DAYS_TICKETS", "0")
    with pytest.raises(ValueError):
        ticket_retention_seconds()


def test_dead_letters_expire(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETENTION_DAYS_DEAD_LETTERS", "3")
    settings = OutboxSettings.from_env()
    assert settings.dead_letter_retention_seconds == 3 * DAY
    fast = OutboxSettings(max_attempts=1, backoff_base_seconds=0.01, backoff_max_seconds=0.01, poll_seconds=0.01,
                          lease_seconds=0.5, dead_letter_retention_seconds=settings.dead_letter_retention_seconds)

    async def failing(payload: Dict[str, Any]) -> None:
        raise SendError("Graph API answered 400", retryable=False)

    async def scenario() -> int:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        outbox = Outbox(client, "rettest", failing, fast)
        await outbox.enqueue("bob", {"n": 1})
        for _ in range(50):
            await outbox.process_due()
            if await outbox.dead():
                break
            await asyncio.sleep(0.02)
        assert len(await outbox.dead()) == 1
        ttl = await client.ttl(outbox.dead_key)
        await client.close()
        return ttl

    assert 3 * DAY - 60 <= asyncio.run(scenario()) <= 3 * DAY
    monkeypatch.delenv("RETENTION_DAYS_DEAD_LETTERS")
    assert OutboxSettings.from_env().dead_letter_retention_seconds == 30 * DAY
    monkeypatch.setenv("RETENTION_DAYS_DEAD_LETTERS", "-1")
    with pytest.raises(ValueError):
        OutboxSettings.from_env()
