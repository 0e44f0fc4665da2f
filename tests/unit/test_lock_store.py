"""AtomicRedisLockStore (bot/lock_store.py) on a real Redis, with real OS processes.

Workers are separate Python processes (tests/unit/lock_store_worker.py) that record
their turns in Redis; the test process holds, waits and kills as each case needs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterator, List
from urllib.parse import quote

import pytest
import redis
from rasa.core.lock_store import LockError, LockStore
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from bot.channels.redis_client import get_redis
from bot.lock_store import AtomicRedisLockStore
from scripts import redis_server
from scripts.stack import ROOT, redis_env, retention_env

WORKER = Path(__file__).with_name("lock_store_worker.py")
CONVERSATION = "whatsapp-966500000001"
QUEUE_KEY = f"lock:{CONVERSATION}:queue"
OWNER_KEY = f"lock:{CONVERSATION}:owner"
# Rasa's RedisLockStore looks again once a second; a woken waiter must be far quicker
HANDOFF_LIMIT_SECONDS = 0.3


@pytest.fixture
def workers(redis_url: str) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start worker processes on the test's Redis; every one is killed at the end."""
    started: List[subprocess.Popen] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"}

    def start(
        name: str, turns: int = 1, hold: str = "0.05", lifetime: float = 30, wait: float = 1, peers: int = 1, dead_after: float = 5,
    ) -> subprocess.Popen:
        args = [redis_url, CONVERSATION, name, str(turns), hold, str(lifetime), str(wait), str(peers), str(dead_after)]
        proc = subprocess.Popen([sys.executable, str(WORKER), *args], env=env, cwd=ROOT)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def sync_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, decode_responses=True)


def trace(client: redis.Redis) -> List[Dict[str, Any]]:
    return [json.loads(item) for item in client.lrange("test:trace", 0, -1)]


async def wait_until(condition: Callable[[], Awaitable[Any]], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout}s")


def test_four_processes_take_turns_one_at_a_time_in_arrival_order(redis_url: str, workers) -> None:
    # waiters also look every 50 ms (safety net): none may take a free lock out of turn
    procs = [workers(f"p{i}", turns=6, hold="0.02", lifetime=10, wait=0.05, peers=4) for i in range(4)]
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    client = sync_client(redis_url)
    turns = sorted(trace(client), key=lambda turn: turn["enter"])
    assert len(turns) == 24
    assert client.lrange("test:overlaps", 0, -1) == [] and client.lrange("test:errors", 0, -1) == []
    for before, after in pairwise(turns):
        assert before["exit"] <= after["enter"], f"{before} overlaps {after}"
    # the arrival counter is taken in the script that queues the turn: served in arrival order
    tickets = [turn["ticket"] for turn in turns]
    assert tickets == sorted(tickets) and len(set(tickets)) == 24
    # they contended: most turns ran with others queued behind them
    assert sum(turn["waiting"] >= 2 for turn in turns) >= 12, [turn["waiting"] for turn in turns]
    # only the arrival counter is left, and it expires
    assert client.keys("lock:*") == [f"lock:{CONVERSATION}:tickets"]
    assert 0 < client.pttl(f"lock:{CONVERSATION}:tickets") <= 10_000


def test_waiters_in_other_processes_are_served_in_arrival_order_and_woken_at_once(redis_url: str, workers) -> None:
    store = AtomicRedisLockStore(url=redis_url)
    client = sync_client(redis_url)

    async def scenario() -> float:
        redis_client = get_redis(redis_url)
        async with store.lock(CONVERSATION, lock_lifetime=30):
            for position, name in enumerate(["first", "second", "third"], start=1):
                # a 5 s safety net: only a wake-up explains a handoff under 0.3 s
                workers(name, hold="0.05", lifetime=30, wait=5)

                async def queued(position: int = position) -> bool:
                    return await redis_client.llen(QUEUE_KEY) == position

                await wait_until(queued)
            # every key of a busy conversation has an expiry
            assert all(client.pttl(key) > 0 for key in client.keys("lock:*"))
            released = time.time()
        return released

    released = asyncio.run(scenario())
    deadline = time.monotonic() + 20
    while client.llen("test:trace") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    turns = sorted(trace(client), key=lambda turn: turn["enter"])
    assert [turn["name"] for turn in turns] == ["first", "second", "third"]
    handoffs = [turns[0]["enter"] - released] + [after["enter"] - before["exit"] for before, after in pairwise(turns)]
    assert all(0 <= gap < HANDOFF_LIMIT_SECONDS for gap in handoffs), handoffs


def test_the_lock_is_released_when_the_turn_raises(redis_url: str) -> None:
    store = AtomicRedisLockStore(url=redis_url)

    async def scenario() -> float:
        with pytest.raises(RuntimeError):
            async with store.lock(CONVERSATION):
                raise RuntimeError("the action server failed")
        assert not await get_redis(redis_url).exists(OWNER_KEY)
        started = time.monotonic()
        async with store.lock(CONVERSATION, wait_time_in_seconds=5):
            return time.monotonic() - started

    assert asyncio.run(scenario()) < 0.1


def test_renewal_keeps_a_long_turn_locked_past_its_lifetime(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    store = AtomicRedisLockStore(url=redis_url)
    events: List[str] = []

    async def long_turn(holding: asyncio.Event) -> None:
        async with store.lock(CONVERSATION, lock_lifetime=0.6) as held:
            holding.set()
            await asyncio.sleep(1.5)  # 2.5 lifetimes
            assert await get_redis(redis_url).get(OWNER_KEY) == held.token
            await asyncio.sleep(0.5)
            events.append("long turn ends")

    async def next_turn() -> None:
        async with store.lock(CONVERSATION, lock_lifetime=10, wait_time_in_seconds=0.1):
            events.append("next turn starts")

    async def scenario() -> None:
        holding = asyncio.Event()
        first = asyncio.create_task(long_turn(holding))
        await holding.wait()
        await asyncio.gather(first, next_turn())

    with caplog.at_level(logging.WARNING, logger="bot.lock_store"):
        asyncio.run(scenario())
    assert events == ["long turn ends", "next turn starts"]
    assert not caplog.records


def test_a_lost_lock_is_logged_loudly_and_never_released_for_its_new_owner(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    store = AtomicRedisLockStore(url=redis_url)

    async def scenario() -> None:
        redis_client = get_redis(redis_url)
        async with store.lock(CONVERSATION, lock_lifetime=0.3):
            # as if the lock expired during a stall and another process took it
            await redis_client.set(OWNER_KEY, "another-process", px=10_000)
            await asyncio.sleep(0.3)
        assert await redis_client.get(OWNER_KEY) == "another-process"

    with caplog.at_level(logging.ERROR, logger="bot.lock_store"):
        asyncio.run(scenario())
    assert any(record.levelno == logging.ERROR and "LOST the lock" in record.getMessage() for record in caplog.records)


def kill_the_holder_of_a_waited_for_lock(redis_url: str, store: AtomicRedisLockStore, holder: subprocess.Popen, alive_for: float = 0.0) -> Dict[str, float]:
    """Once ``holder`` (a worker holding the lock forever) has a waiter from ``store``,
    let it live ``alive_for`` seconds more (the waiter must keep waiting), SIGKILL it and
    time the waiter's entry: ``after_kill`` seconds, and ``lock_left`` on the dead lock."""

    async def scenario() -> Dict[str, float]:
        redis_client = get_redis(redis_url)

        async def holding() -> bool:
            return await redis_client.llen("test:entered") == 1

        await wait_until(holding)

        async def wait_for_turn() -> float:
            async with store.lock(CONVERSATION, lock_lifetime=60, wait_time_in_seconds=0.2):
                return time.monotonic()

        waiter = asyncio.create_task(wait_for_turn())

        async def waiting() -> bool:
            return await redis_client.llen(QUEUE_KEY) == 1

        await wait_until(waiting)
        await asyncio.sleep(alive_for)
        assert not waiter.done()
        holder.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        lock_left = await redis_client.pttl(OWNER_KEY) / 1000
        entered = await waiter
        return {"after_kill": entered - killed, "lock_left": lock_left}

    timings = asyncio.run(scenario())
    assert holder.wait(timeout=10) == -signal.SIGKILL
    return timings


def test_a_killed_holder_frees_the_lock_after_its_lifetime(redis_url: str, workers) -> None:
    holder = workers("holder", hold="forever", lifetime=1.5, wait=0.2)
    timings = kill_the_holder_of_a_waited_for_lock(redis_url, AtomicRedisLockStore(url=redis_url), holder)
    # the waiter got the lock once the dead holder's key expired (a live holder renews it)
    assert timings["lock_left"] - 0.1 <= timings["after_kill"] <= timings["lock_left"] + 0.6, timings


def test_a_killed_holders_lock_is_taken_over_once_its_process_stops_beating(redis_url: str, workers) -> None:
    """A 30-s lock of a SIGKILLed process does not keep its customer waiting 30 s."""
    holder = workers("holder", hold="forever", lifetime=30, wait=0.2, dead_after=1.0)
    store = AtomicRedisLockStore(url=redis_url, dead_process_timeout=1.0)
    # the holder lives on for a while: its lock stays, whatever its heartbeat's timeout
    timings = kill_the_holder_of_a_waited_for_lock(redis_url, store, holder, alive_for=1.5)
    # its heartbeat (1 s) ran out long before its lock would have (about 30 s)
    assert timings["lock_left"] > 20, timings
    assert timings["after_kill"] <= 1.0 + 0.2 + 0.6, timings


def test_a_holder_whose_event_loop_stalls_keeps_its_lock(redis_url: str, workers) -> None:
    """A living process busy for longer than dead_process_timeout (a model load) is not
    taken for dead: its heartbeat comes from a thread, so nobody enters beside it."""
    holder = workers("staller", hold="stall:3", lifetime=30, wait=0.2, dead_after=1.0)
    other = workers("other", lifetime=30, wait=0.2, dead_after=1.0)
    client = sync_client(redis_url)
    deadline = time.monotonic() + 30
    while len(trace(client)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert holder.wait(timeout=10) == 0 and other.wait(timeout=10) == 0
    turns = trace(client)
    assert sorted(turn["name"] for turn in turns) == ["other", "staller"]
    assert client.llen("test:overlaps") == 0 and client.llen("test:errors") == 0
    # whoever went first, the two turns did not overlap
    first, second = sorted(turns, key=lambda turn: turn["enter"])
    assert first["exit"] <= second["enter"] + 0.05, turns


def test_rasas_callers_get_the_stores_lifetime_and_still_wait_as_long_as_rasa(redis_url: str) -> None:
    """Rasa calls ``lock(sender_id)``: a dead holder blocks it for the store's
    ``lock_lifetime`` (not Rasa's 60 s), and a queued turn may still wait longer."""
    store = AtomicRedisLockStore(url=redis_url, lock_lifetime=1.5)

    async def scenario() -> Dict[str, float]:
        redis_client = get_redis(redis_url)

        async def next_turn() -> None:
            async with store.lock(CONVERSATION):
                pass

        async with store.lock(CONVERSATION):
            first_ttl = await redis_client.pttl(OWNER_KEY) / 1000
            waiter = asyncio.create_task(next_turn())
            # held past the lifetime: renewed, and the waiter keeps waiting
            await asyncio.sleep(2.0)
            still_waiting = not waiter.done()
            renewed_ttl = await redis_client.pttl(OWNER_KEY) / 1000
        await asyncio.wait_for(waiter, 5)
        return {"first_ttl": first_ttl, "renewed_ttl": renewed_ttl, "waited": float(still_waiting)}

    found = asyncio.run(scenario())
    assert 1.0 < found["first_ttl"] <= 1.5 and 0 < found["renewed_ttl"] <= 1.5 and found["waited"] == 1.0, found


def test_a_killed_waiter_does_not_block_the_queue(redis_url: str, workers) -> None:
    store = AtomicRedisLockStore(url=redis_url)
    client = sync_client(redis_url)

    async def scenario() -> float:
        redis_client = get_redis(redis_url)
        entered: asyncio.Future = asyncio.get_running_loop().create_future()

        async def live_waiter() -> None:
            async with store.lock(CONVERSATION, lock_lifetime=30, wait_time_in_seconds=0.2):
                entered.set_result(time.monotonic())

        async with store.lock(CONVERSATION, lock_lifetime=30):
            dead = workers("dead", lifetime=30, wait=0.2)  # heartbeat: 3 * 0.2 + 1 = 1.6 s

            async def queued(length: int) -> bool:
                return await redis_client.llen(QUEUE_KEY) == length

            await wait_until(lambda: queued(1))
            live = asyncio.create_task(live_waiter())
            await wait_until(lambda: queued(2))
            dead.send_signal(signal.SIGKILL)
            dead.wait(timeout=10)
            # released while the dead waiter's heartbeat still looks alive: it is woken, in vain
            released = time.monotonic()
        await live
        return entered.result() - released

    waited = asyncio.run(scenario())
    assert waited <= 1.6 + 0.2 + 0.5, waited
    assert client.lrange("test:trace", 0, -1) == [] and client.keys("lock:*:alive:*") == []
    assert not client.exists(QUEUE_KEY)


def test_a_turn_that_waits_longer_than_lock_lifetime_gets_rasas_lock_error(redis_url: str) -> None:
    store = AtomicRedisLockStore(url=redis_url)

    async def scenario() -> float:
        redis_client = get_redis(redis_url)
        async with store.lock(CONVERSATION, lock_lifetime=30):
            started = time.monotonic()
            with pytest.raises(LockError, match=CONVERSATION):
                async with store.lock(CONVERSATION, lock_lifetime=0.5, wait_time_in_seconds=0.2):
                    pytest.fail("entered a held lock")
            waited = time.monotonic() - started
            # the turn that gave up left the queue and its keys
            assert not await redis_client.exists(QUEUE_KEY)
            assert await redis_client.keys("lock:*:alive:*") == [] and await redis_client.keys("lock:*:wake:*") == []
        return waited

    assert 0.45 <= asyncio.run(scenario()) <= 1.0


def test_a_cancelled_waiting_turn_leaves_the_queue(redis_url: str) -> None:
    """Sanic cancels a request whose client went away; its turn must not hold up the next."""
    store = AtomicRedisLockStore(url=redis_url)

    async def scenario() -> float:
        redis_client = get_redis(redis_url)

        async def turn() -> None:
            async with store.lock(CONVERSATION, wait_time_in_seconds=5):
                pass

        async with store.lock(CONVERSATION):
            cancelled = asyncio.create_task(turn())
            await wait_until(lambda: redis_client.llen(QUEUE_KEY))
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            assert not await redis_client.exists(QUEUE_KEY)
        started = time.monotonic()
        await turn()
        return time.monotonic() - started

    assert asyncio.run(scenario()) < 0.1


def test_rasa_loads_the_store_from_the_shipped_endpoints_with_a_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rasa.core.utils

    password = "s3cret:with/url@chars"
    port = redis_server.free_port()
    server = redis_server.start(port, tmp_path, password=password)
    url = f"redis://:{quote(password, safe='')}@127.0.0.1:{port}/0"
    try:
        env = {**redis_env(url), **retention_env({}), "ACTION_SERVER_URL": "http://127.0.0.1:1/webhook", "ACTION_SERVER_TOKEN": "x"}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        config = read_endpoint_config(str(ROOT / "endpoints.yml"), "lock_store")
        assert config is not None and config.url == url
        store = LockStore.create(config)
        assert isinstance(store, AtomicRedisLockStore) and store.key_prefix == "lock" and store.lock_lifetime == 20
        # Rasa lets several Sanic workers share this store
        monkeypatch.setenv("SANIC_WORKERS", "2")
        assert rasa.core.utils.number_of_sanic_workers(config) == 2

        client = redis.Redis.from_url(url, decode_responses=True)

        async def hold() -> None:
            async with store.lock("rest-customer-7") as held:
                assert client.get("lock:rest-customer-7:owner") == held.token

        asyncio.run(hold())
        assert not client.exists("lock:rest-customer-7:owner")
        client.close()
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port).keys("*")
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.parametrize(
    "settings, problem",
    [
        ({"url": "127.0.0.1", "port": 6379}, "unknown setting"),
        ({"url": "http://:hunter2@127.0.0.1:6379/0"}, "redis:// or rediss://"),
        ({"url": None}, "redis:// or rediss://"),
        ({"url": "redis://127.0.0.1:6379/0", "key_prefix": "lock:"}, "key_prefix"),
        ({"url": "redis://127.0.0.1:6379/0", "lock_lifetime": "soon"}, "lock_lifetime"),
        ({"url": "redis://127.0.0.1:6379/0", "lock_lifetime": 0.1}, "lock_lifetime"),
        ({"url": "redis://127.0.0.1:6379/0", "dead_process_timeout": "never"}, "dead_process_timeout"),
        ({"url": "redis://127.0.0.1:6379/0", "lock_lifetime": 10, "dead_process_timeout": 30}, "dead_process_timeout"),
    ],
)
def test_a_bad_lock_store_section_stops_the_start_with_a_clear_error(settings: Dict[str, Any], problem: str) -> None:
    config = EndpointConfig.from_dict({"type": "bot.lock_store.AtomicRedisLockStore", **settings})
    with pytest.raises(ValueError, match=problem) as raised:
        LockStore.create(config)
    assert "hunter2" not in str(raised.value)


def test_a_process_beats_only_while_it_holds_a_lock(redis_url: str) -> None:
    """No Redis traffic from an idle process: the heartbeat thread ends after the last release."""
    import threading

    store = AtomicRedisLockStore(url=redis_url, dead_process_timeout=1.0)
    client = sync_client(redis_url)

    def beating() -> bool:
        return any(thread.name == "lock-process-heartbeat" and thread.is_alive() for thread in threading.enumerate())

    async def hold_for(seconds: float) -> None:
        async with store.lock(CONVERSATION):
            await asyncio.sleep(seconds)
            assert beating() and client.pttl(store.process.key) > 0

    asyncio.run(hold_for(0.5))
    deadline = time.monotonic() + 5
    while beating() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not beating()
    time.sleep(1.2)  # its key's time to live
    assert not client.exists(store.process.key)
    asyncio.run(hold_for(0.1))  # and it beats again for the next lock
