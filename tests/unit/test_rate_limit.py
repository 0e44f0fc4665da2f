"""The sliding-window limiter against a real Redis."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, List, TypeVar

from redis import asyncio as aioredis

from bot import rate_limit

T = TypeVar("T")


def run(redis_url: str, body: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
    async def main() -> T:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            return await body(client)
        finally:
            await client.close()

    return asyncio.run(main())


def test_a_burst_gets_exactly_the_limit_and_is_told_once(redis_url: str) -> None:
    async def body(client: aioredis.Redis) -> List[rate_limit.Verdict]:
        return [await rate_limit.take(client, "t", "sender:1", 3, 60) for _ in range(6)]

    verdicts = run(redis_url, body)
    assert [v.admitted for v in verdicts] == [True, True, True, False, False, False]
    assert [v.count for v in verdicts] == [1, 2, 3, 3, 3, 3]
    assert [v.first_refusal for v in verdicts] == [False, False, False, True, False, False]


def test_the_window_slides_instead_of_resetting_at_a_boundary(redis_url: str) -> None:
    """Hits spread over a window boundary still count: 3 per 1.2 s means 3 in any 1.2 s."""

    async def body(client: aioredis.Redis) -> List[bool]:
        admitted = [await rate_limit.hit(client, "t", "k", 3, 1.2) for _ in range(3)]
        await asyncio.sleep(0.7)  # a fixed 1.2 s window would often have turned over by now
        admitted.append(await rate_limit.hit(client, "t", "k", 3, 1.2))
        await asyncio.sleep(0.7)  # 1.4 s after the first three: they have left the window
        admitted += [await rate_limit.hit(client, "t", "k", 3, 1.2) for _ in range(4)]
        return admitted

    assert run(redis_url, body) == [True, True, True, False, True, True, True, False]


def test_keys_are_limited_separately_and_hits_reads_without_counting(redis_url: str) -> None:
    async def body(client: aioredis.Redis) -> List[int]:
        await rate_limit.hit(client, "t", "a", 2, 60)
        await rate_limit.hit(client, "t", "a", 2, 60)
        assert not await rate_limit.hit(client, "t", "a", 2, 60)
        assert await rate_limit.hit(client, "t", "b", 2, 60)
        return [await rate_limit.hits(client, "t", "a", 60) for _ in range(3)] + [await rate_limit.hits(client, "t", "none", 60)]

    assert run(redis_url, body) == [2, 2, 2, 0]


def test_a_sender_let_through_again_is_told_again_when_flooding_again(redis_url: str) -> None:
    async def body(client: aioredis.Redis) -> List[bool]:
        firsts = []
        for _ in range(2):
            for _ in range(2):
                await rate_limit.take(client, "t", "k", 2, 0.5)
            firsts += [(await rate_limit.take(client, "t", "k", 2, 0.5)).first_refusal for _ in range(2)]
            await asyncio.sleep(0.6)
        return firsts

    assert run(redis_url, body) == [True, False, True, False]


def test_a_flood_of_refusals_stores_no_more_than_the_limit(redis_url: str) -> None:
    async def body(client: aioredis.Redis) -> int:
        for _ in range(200):
            await rate_limit.hit(client, "t", "k", 5, 60)
        ttl = await client.pttl(rate_limit.hits_key("t", "k"))
        assert 0 < ttl <= 60_000
        return int(await client.zcard(rate_limit.hits_key("t", "k")))

    assert run(redis_url, body) == 5


def test_concurrent_processes_never_admit_more_than_the_limit(redis_url: str) -> None:
    async def body(client: aioredis.Redis) -> int:
        clients = [aioredis.Redis.from_url(redis_url) for _ in range(8)]
        try:
            results = await asyncio.gather(*(rate_limit.hit(c, "t", "k", 10, 60) for c in clients for _ in range(10)))
        finally:
            for c in clients:
                await c.close()
        return sum(results)

    assert run(redis_url, body) == 10
