"""The persistent outbox on a real Redis: order, retries, dead letters, restarts."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest
from redis import asyncio as aioredis

from bot.channels.outbox import Outbox, SendError, backoff_seconds
from bot.settings import OutboxSettings

FAST = OutboxSettings(max_attempts=3, backoff_base_seconds=0.02, backoff_max_seconds=0.1, poll_seconds=0.02, lease_seconds=0.5)


class FlakySender:
    """Fails the first ``failures`` sends with ``error``, then records."""

    def __init__(self, failures: int = 0, error: SendError = SendError("503")) -> None:
        self.failures, self.error = failures, error
        self.sent: List[Dict[str, Any]] = []
        self.calls = 0

    async def __call__(self, payload: Dict[str, Any]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        self.sent.append(payload)


async def drain(outbox: Outbox, rounds: int = 100) -> None:
    for _ in range(rounds):
        await outbox.process_due()
        if not await outbox.redis.zcard(outbox.due_key):
            return
        await asyncio.sleep(0.02)


def test_backoff_doubles_and_is_capped() -> None:
    settings = OutboxSettings(backoff_base_seconds=1, backoff_max_seconds=10)
    assert [backoff_seconds(n, settings) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 10]


def test_order_per_recipient_survives_a_failure(redis_url: str) -> None:
    async def scenario() -> None:
        redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
        sender = FlakySender(failures=1)
        outbox = Outbox(redis, "test", sender, FAST)
        for i in range(3):
            await outbox.enqueue("alice", {"n": i})
        await drain(outbox)
        assert [p["n"] for p in sender.sent] == [0, 1, 2]  # the first was retried before the others went
        assert await outbox.pending("alice") == [] and await outbox.dead() == []
        await redis.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("retryable", [True, False])
def test_failures_end_in_the_dead_letter_list(redis_url: str, retryable: bool) -> None:
    async def scenario() -> None:
        redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
        sender = FlakySender(failures=100, error=SendError("Graph API answered 400: window closed", retryable=retryable))
        outbox = Outbox(redis, "test", sender, FAST)
        await outbox.enqueue("bob", {"n": 1})
        await outbox.enqueue("bob", {"n": 2})
        await drain(outbox)
        dead = await outbox.dead()
        assert [d["payload"]["n"] for d in dead] == [1, 2]
        assert all(d["attempts"] == (FAST.max_attempts if retryable else 1) for d in dead)
        assert "window closed" in dead[0]["last_error"]
        await redis.close()

    asyncio.run(scenario())


def test_a_worker_that_dies_mid_send_is_taken_over_after_its_lease(redis_url: str) -> None:
    async def scenario() -> None:
        redis = aioredis.Redis.from_url(redis_url, decode_responses=True)

        async def hang(payload: Dict[str, Any]) -> None:
            await asyncio.sleep(60)

        dying = Outbox(redis, "test", hang, FAST)
        await dying.enqueue("carol", {"n": 1})
        task = asyncio.create_task(dying.process_due())
        await asyncio.sleep(0.1)
        task.cancel()  # the process is killed: no clean release of its claim
        sender = FlakySender()
        survivor = Outbox(redis, "test", sender, FAST)
        assert await survivor.process_due() == 0  # still leased
        await asyncio.sleep(FAST.lease_seconds)
        await drain(survivor)
        assert sender.sent == [{"n": 1}]
        await redis.close()

    asyncio.run(scenario())
