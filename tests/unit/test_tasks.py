"""Stopping workers whose Redis client turns a cancellation into a connection error."""

import asyncio
from typing import Any, List

from redis.exceptions import ConnectionError as RedisConnectionError

from bot.channels.relay import HandoffRelay
from bot.tasks import stop_task


async def _swallowing_worker(started: asyncio.Event) -> None:
    started.set()
    while True:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            continue  # the behaviour that hung shutdown: the cancellation is lost


def test_stop_task_is_bounded_even_when_the_task_ignores_cancellation():
    async def scenario() -> bool:
        started = asyncio.Event()
        task = asyncio.create_task(_swallowing_worker(started))
        await started.wait()
        stopped = await stop_task(task, grace_seconds=0.2)
        assert not task.done()
        return stopped

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(asyncio.wait_for(scenario(), 5)) is False
    finally:
        for task in asyncio.all_tasks(loop):
            task.cancel()
        loop.close()


def test_stop_task_accepts_none_and_finished_tasks():
    async def scenario() -> List[bool]:
        finished = asyncio.create_task(asyncio.sleep(0))
        await finished
        failed = asyncio.create_task(asyncio.sleep(0, result=None))
        await failed
        return [await stop_task(None), await stop_task(finished), await stop_task(failed)]

    assert asyncio.run(scenario()) == [True, True, True]


class _StoreThatTurnsCancelIntoConnectionError:
    """Like redis-py's asyncio client when a blocking XREADGROUP is cancelled."""

    def __init__(self) -> None:
        self.reading = asyncio.Event()

    async def ensure_relay_group(self) -> None:
        return None

    async def reclaim_outbound(self, consumer: str, min_idle_ms: int) -> List[Any]:
        return []

    async def read_outbound(self, consumer: str, block_ms: int = 2000) -> List[Any]:
        self.reading.set()
        try:
            await asyncio.sleep(block_ms / 1000)
        except asyncio.CancelledError:
            raise RedisConnectionError("Connection closed by server.") from None
        return []


def test_relay_stops_although_its_blocking_read_swallowed_the_cancellation():
    async def scenario() -> bool:
        store = _StoreThatTurnsCancelIntoConnectionError()
        relay = HandoffRelay(streams=store)  # type: ignore[arg-type]
        await relay.start(app=None)
        task = relay._task
        await asyncio.wait_for(store.reading.wait(), 5)
        await relay.stop()
        return task is not None and task.done()

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) is True
