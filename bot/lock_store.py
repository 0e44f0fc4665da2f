"""A Redis lock store for Rasa: atomic across processes, first come first served.

Rasa's ``RedisLockStore`` reads a ticket list, changes it in Python and writes it back,
so two processes can both believe they hold a conversation (RasaHQ/rasa#9213), and a
waiting turn polls once a second. Here every decision is one Lua script, run atomically
by Redis, and a waiting turn is woken by the turn before it.

Keys of conversation ``<id>`` (prefix ``lock`` by default), every one with an expiry:

* ``lock:<id>:owner``: the holder's token, ``<process id>.<random>`` (``SET NX PX
  lifetime``). The holder extends it while its turn runs (compare-and-pexpire), so a
  long turn keeps it and a holder that stops renewing it loses it after ``lock_lifetime``.
* ``lock:<id>:queue``: tokens of the waiting turns, in arrival order.
* ``lock:<id>:alive:<token>``: a waiter's heartbeat. A waiter whose heartbeat expired
  (its process died) is dropped when it reaches the head of the queue.
* ``lock:<id>:wake:<token>``: the list a waiter blocks on (``BLPOP``); whoever frees the
  lock pushes to the first live waiter's list. The block times out after
  ``wait_time_in_seconds`` as a safety net, and the waiter asks again.
* ``lock:<id>:tickets``: arrival counter; each turn's number (``HeldLock.ticket``) shows
  the order it was served in. It expires ``lock_lifetime`` after its last use.

One key per process using the store, ``lock-process:<process id>``, is its heartbeat: a
thread of the process sets it every fifth of ``dead_process_timeout`` (default 5 s)
while the process holds a lock, so it exists while a holder lives, even while its
event loop is busy. A killed
process's locks are taken over as soon as that key has expired: the next waiter (or
newcomer) that finds the holder's process gone deletes the lock and goes on, in seconds
instead of the ``lock_lifetime`` a stalled but living holder is given.

The scripts name keys they build from the prefix (heartbeats, wake-up lists), which a
single Redis (6.2 or later) allows but Redis Cluster does not.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, AsyncGenerator, List, Optional
from urllib.parse import urlparse

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig
from redis import Redis
from redis import asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from bot.channels.redis_client import get_redis
from bot.tasks import stop_task

logger = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "lock"
# a waiter's heartbeat outlives this many of its safety-net waits, so a slow event loop
# does not get a live waiter dropped from the queue
HEARTBEAT_WAITS = 3
# the shortest safety-net wait: BLPOP with timeout 0 would block forever
MIN_WAIT_SECONDS = 0.01
# How long a dead holder keeps a conversation locked. A live holder renews its lock
# every third of this, so a long turn never loses it; short, so that a process killed
# mid-turn delays that conversation's next turn by seconds, not by Rasa's 60-s
# TICKET_LOCK_LIFETIME. Longer than any event-loop stall we expect (a model load).
DEFAULT_LOCK_LIFETIME = 20.0
# How long after its last heartbeat a process counts as dead and its locks are taken over.
# Its heartbeat thread beats every fifth of this, so a live process that is merely busy
# (the thread needs the GIL for a moment) never misses it; a Redis outage longer than
# this could let a waiter take a living holder's lock, as an outage longer than
# lock_lifetime always could.
DEFAULT_DEAD_PROCESS_TIMEOUT = 5.0
PROCESS_KEY_INFIX = "-process:"

# Shared by the scripts that decide who goes next. KEYS: owner, queue, tickets.
# ARGV: token, heartbeat key prefix, wake-up key prefix, heartbeat ttl (ms), how long the
# queue and the counter outlive their last use (ms), lock lifetime (ms), process
# heartbeat key prefix, this process's heartbeat key, its ttl (ms).
_PRELUDE = """
local owner, queue, tickets = KEYS[1], KEYS[2], KEYS[3]
local token, alive_prefix, wake_prefix = ARGV[1], ARGV[2], ARGV[3]
local alive_ttl, keep, lifetime = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local process_prefix, own_process, process_ttl = ARGV[7], ARGV[8], tonumber(ARGV[9])

-- a holder whose process no longer beats (it was killed) loses the lock now
local function drop_dead_holder()
  local holder = redis.call('GET', owner)
  if not holder then return end
  local process = string.match(holder, '^(%x+)%.')
  if process and redis.call('EXISTS', process_prefix .. process) == 0 then
    redis.call('DEL', owner)
  end
end

-- extend, never shorten: another waiter may have asked for longer
local function keep_alive(key)
  if redis.call('PTTL', key) < keep then redis.call('PEXPIRE', key, keep) end
end

-- the first waiter whose heartbeat is alive; dead ones in front of it are dropped
local function live_head()
  while true do
    local head = redis.call('LINDEX', queue, 0)
    if not head then return nil end
    if redis.call('EXISTS', alive_prefix .. head) == 1 then return head end
    redis.call('LPOP', queue)
    redis.call('DEL', wake_prefix .. head)
  end
end

local function wake(waiter)
  redis.call('LPUSH', wake_prefix .. waiter, '1')
  redis.call('PEXPIRE', wake_prefix .. waiter, alive_ttl)
end

local function take()
  redis.call('SET', owner, token, 'NX', 'PX', lifetime)
  -- beating from the first lock on, before the process's heartbeat thread first runs
  redis.call('SET', own_process, '1', 'PX', process_ttl)
  redis.call('DEL', alive_prefix .. token, wake_prefix .. token)
end
"""

# A turn arrives: it takes a free lock nobody waits for, else it queues. Returns
# {1 if it holds the lock, its ticket number}.
_ARRIVE = (
    _PRELUDE
    + """
local ticket = redis.call('INCR', tickets)
keep_alive(tickets)
drop_dead_holder()
if redis.call('EXISTS', owner) == 0 then
  local head = live_head()
  if not head then
    take()
    return {1, ticket}
  end
  -- the lock is free and it is the head's turn: wake it (again, should a wake-up be lost)
  wake(head)
end
redis.call('SET', alive_prefix .. token, '1', 'PX', alive_ttl)
redis.call('RPUSH', queue, token)
keep_alive(queue)
return {0, ticket}
"""
)

# A waiter was woken (or its safety-net wait ran out): it renews its heartbeat and takes
# the lock if it is free and the waiter is first. Returns 1 if it now holds the lock.
_TRY = (
    _PRELUDE
    + """
redis.call('SET', alive_prefix .. token, '1', 'PX', alive_ttl)
drop_dead_holder()
if redis.call('EXISTS', owner) == 0 then
  local head = live_head()
  -- no head at all: this waiter was dropped as dead (a stalled process) and nobody else waits
  if head == token or not head then
    if head then redis.call('LPOP', queue) end
    take()
    return 1
  end
  wake(head)
end
-- dropped as dead while it was stalled: it queues again, at the back
if not redis.call('LPOS', queue, token) then redis.call('RPUSH', queue, token) end
keep_alive(queue)
keep_alive(tickets)
return 0
"""
)

# A turn leaves, holding the lock or still waiting: compare-and-delete of the lock (never
# someone else's), out of the queue, and the next live waiter is woken. Returns 1 if it
# held the lock.
_DEPART = (
    _PRELUDE
    + """
local held = 0
if redis.call('GET', owner) == token then
  redis.call('DEL', owner)
  held = 1
end
redis.call('LREM', queue, 0, token)
redis.call('DEL', alive_prefix .. token, wake_prefix .. token)
if redis.call('EXISTS', owner) == 0 then
  local head = live_head()
  if head then wake(head) end
end
return held
"""
)

# The holder extends its lock, if it still holds it. KEYS: owner. ARGV: token, lifetime (ms).
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass(frozen=True)
class _ConversationKeys:
    """The Redis keys of one conversation's lock."""

    owner: str
    queue: str
    tickets: str
    alive_prefix: str
    wake_prefix: str

    @classmethod
    def of(cls, key_prefix: str, conversation_id: str) -> _ConversationKeys:
        base = f"{key_prefix}:{conversation_id}:"
        return cls(base + "owner", base + "queue", base + "tickets", base + "alive:", base + "wake:")

    @property
    def shared(self) -> List[str]:
        return [self.owner, self.queue, self.tickets]


class ProcessHeartbeat:
    """This process's heartbeat key, set by a thread of its own while it holds a lock.

    A thread rather than a task: the event loop may be busy for seconds (a model load,
    a long turn) without the process being dead, and its locks must not be taken then.
    Only a holder's process is ever looked up, so the thread runs while the process
    holds at least one lock and ends soon after the last is released (no traffic from
    an idle process); the script that takes a lock sets the key too, so there is no gap
    before the thread's first beat.

    Args:
        url: the Redis URL.
        key_prefix: the lock store's key prefix.
        timeout: seconds after the last beat at which the process counts as dead.
    """

    def __init__(self, url: str, key_prefix: str, timeout: float) -> None:
        self.process_id = uuid.uuid4().hex
        self.prefix = key_prefix + PROCESS_KEY_INFIX
        self.key = self.prefix + self.process_id
        self.ttl_ms = max(1, int(timeout * 1000))
        self._url = url
        self._period = timeout / 5
        self._holding = 0
        self._beating = False
        self._mutex = threading.Lock()

    def acquired(self) -> None:
        """A lock of this process was taken: beat (starts the thread if it is not running)."""
        with self._mutex:
            self._holding += 1
            if not self._beating:
                self._beating = True
                threading.Thread(target=self._beat_while_holding, name="lock-process-heartbeat", daemon=True).start()

    def released(self) -> None:
        """A lock of this process was let go (the thread stops after the last one)."""
        with self._mutex:
            self._holding -= 1

    def _beat_while_holding(self) -> None:
        client = Redis.from_url(self._url, socket_timeout=self._period, socket_connect_timeout=self._period)
        failing = False
        try:
            while True:
                with self._mutex:
                    if self._holding <= 0:
                        self._beating = False
                        return
                try:
                    client.set(self.key, "1", px=self.ttl_ms)
                    failing = False
                except (RedisError, OSError) as error:
                    if not failing:  # once per outage, not every beat
                        logger.warning("lock store: could not renew this process's heartbeat (retrying): %s", error)
                    failing = True
                threading.Event().wait(self._period)
        finally:
            client.close()


@dataclass(frozen=True)
class _Turn:
    """One ``lock()`` call: who it is and its timings, as the scripts need them."""

    keys: _ConversationKeys
    token: str
    lifetime_ms: int
    wait_seconds: float
    process: ProcessHeartbeat

    @property
    def heartbeat_ms(self) -> int:
        return int((HEARTBEAT_WAITS * self.wait_seconds + 1) * 1000)

    def script_args(self) -> List[Any]:
        keep_ms = max(self.lifetime_ms, 2 * self.heartbeat_ms)
        return [
            self.token, self.keys.alive_prefix, self.keys.wake_prefix, self.heartbeat_ms, keep_ms, self.lifetime_ms,
            self.process.prefix, self.process.key, self.process.ttl_ms,
        ]


@dataclass(frozen=True)
class _Scripts:
    """The four Lua scripts, registered once (``AsyncScript`` keeps only their SHA)."""

    arrive: AsyncScript
    try_take: AsyncScript
    depart: AsyncScript
    renew: AsyncScript


class HeldLock(TicketLock):
    """What ``lock()`` yields (Rasa's callers ignore it).

    Attributes:
        token: the random value stored in the lock key while this turn holds it.
        ticket: the turn's arrival number within the conversation (1, 2, ...; it starts
            again once the conversation has been idle for ``lock_lifetime``).
    """

    def __init__(self, conversation_id: str, token: str, ticket: int) -> None:
        super().__init__(conversation_id)
        self.token = token
        self.ticket = ticket


class AtomicRedisLockStore(LockStore):
    """Rasa lock store in Redis with atomic, first-come-first-served locks.

    ``endpoints.yml``::

        lock_store:
          type: bot.lock_store.AtomicRedisLockStore
          url: ${REDIS_URL}
          key_prefix: lock
          lock_lifetime: 20   # seconds a holder that stops renewing keeps the lock (optional)
          dead_process_timeout: 5   # seconds after which a killed process's locks go (optional)

    Rasa 3.6 (processor, agent, HTTP API) only ever calls :meth:`lock`; the ticket
    methods of Rasa's base class have no meaning here and raise.
    """

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        *,
        url: Optional[str] = None,
        key_prefix: str = DEFAULT_KEY_PREFIX,
        lock_lifetime: float = DEFAULT_LOCK_LIFETIME,
        dead_process_timeout: Optional[float] = None,
    ) -> None:
        """Read the settings; connects lazily, from the event loop that uses the lock.

        Args:
            endpoint_config: the ``lock_store`` section of ``endpoints.yml`` (Rasa passes
                it): ``url`` and optionally ``key_prefix`` and ``lock_lifetime``, nothing else.
            url: the Redis URL when there is no ``endpoint_config``.
            key_prefix: the first part of every key when there is no ``endpoint_config``.
            lock_lifetime: seconds a holder that stopped renewing (a stalled event loop)
                keeps the lock, for callers that name none (Rasa never does).
            dead_process_timeout: seconds after its process's last heartbeat at which a
                holder's lock is taken over (the process was killed); at most
                ``lock_lifetime``. None: ``DEFAULT_DEAD_PROCESS_TIMEOUT`` or
                ``lock_lifetime``, whichever is shorter.

        Raises:
            ValueError: a missing or non-Redis URL, a bad prefix or an unknown setting.
        """
        if endpoint_config is not None:
            unknown = set(endpoint_config.kwargs) - {"key_prefix", "lock_lifetime", "dead_process_timeout"}
            if unknown:
                raise ValueError(
                    f"lock_store: unknown setting(s) {sorted(unknown)}; AtomicRedisLockStore takes `url` "
                    "(redis:// or rediss://, password and db inside it), `key_prefix`, `lock_lifetime` and "
                    "`dead_process_timeout` (seconds)"
                )
            url = endpoint_config.url
            key_prefix = str(endpoint_config.kwargs.get("key_prefix", key_prefix))
            lock_lifetime = endpoint_config.kwargs.get("lock_lifetime", lock_lifetime)
            dead_process_timeout = endpoint_config.kwargs.get("dead_process_timeout", dead_process_timeout)
        if not url or urlparse(url).scheme not in ("redis", "rediss"):
            # the URL may carry the password: name only what is wrong with it
            raise ValueError("lock_store: `url` must be a redis:// or rediss:// URL (REDIS_URL)")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", key_prefix):
            raise ValueError(f"lock_store: key_prefix must be letters, digits, _ or -, got {key_prefix!r}")
        try:
            lock_lifetime = float(lock_lifetime)
        except (TypeError, ValueError):
            lock_lifetime = 0.0
        if not 1.0 <= lock_lifetime <= 3600.0:
            raise ValueError("lock_store: lock_lifetime must be a number of seconds between 1 and 3600")
        if dead_process_timeout is None:
            dead_process_timeout = min(DEFAULT_DEAD_PROCESS_TIMEOUT, lock_lifetime)
        try:
            dead_process_timeout = float(dead_process_timeout)
        except (TypeError, ValueError):
            dead_process_timeout = 0.0
        if not 1.0 <= dead_process_timeout <= lock_lifetime:
            raise ValueError("lock_store: dead_process_timeout must be a number of seconds between 1 and lock_lifetime")
        self.url = url
        self.key_prefix = key_prefix
        self.lock_lifetime = lock_lifetime
        self.process = ProcessHeartbeat(url, key_prefix, dead_process_timeout)
        self._scripts: Optional[_Scripts] = None
        super().__init__()

    def _scripts_for(self, redis: aioredis.Redis) -> _Scripts:
        """The Lua scripts; each call passes the running event loop's client."""
        if self._scripts is None:
            self._scripts = _Scripts(*(redis.register_script(source) for source in (_ARRIVE, _TRY, _DEPART, _RENEW)))
        return self._scripts

    @asynccontextmanager
    async def lock(
        self,
        conversation_id: str,
        lock_lifetime: Optional[float] = None,
        wait_time_in_seconds: float = 1,
    ) -> AsyncGenerator[TicketLock, None]:
        """Hold the conversation's lock for the body of the ``async with``.

        Turns are served in arrival order. As in Rasa, a turn waits at most
        ``lock_lifetime`` seconds for its turn and ``wait_time_in_seconds`` is the
        longest pause between two looks at the lock; here a waiter is also woken the
        moment the lock is free.

        Args:
            conversation_id: the conversation (Rasa's sender id).
            lock_lifetime: seconds the lock outlives a holder that stopped renewing it
                (a dead process), and the longest wait for it. None (Rasa's callers):
                the store's ``lock_lifetime`` for the first, Rasa's
                ``TICKET_LOCK_LIFETIME`` (60 s) for the second, since a turn may queue
                behind several others.
            wait_time_in_seconds: a waiter's safety-net pause; its heartbeat lasts
                ``3 * wait_time_in_seconds + 1`` seconds.

        Raises:
            LockError: the turn did not come within ``lock_lifetime`` seconds, or Redis
                failed while the turn asked for the lock.
        """
        turn = _Turn(
            keys=_ConversationKeys.of(self.key_prefix, conversation_id),
            token=f"{self.process.process_id}.{uuid.uuid4().hex}",
            lifetime_ms=max(1, int((self.lock_lifetime if lock_lifetime is None else lock_lifetime) * 1000)),
            wait_seconds=max(MIN_WAIT_SECONDS, float(wait_time_in_seconds)),
            process=self.process,
        )
        redis = get_redis(self.url)
        scripts = self._scripts_for(redis)
        renewal: Optional[asyncio.Task] = None
        held = False
        try:
            max_wait = max(LOCK_LIFETIME, self.lock_lifetime) if lock_lifetime is None else lock_lifetime
            ticket = await self._acquire(redis, scripts, conversation_id, turn, max_wait)
            self.process.acquired()
            held = True
            renewal = asyncio.create_task(
                self._renew_while_held(redis, scripts, conversation_id, turn), name=f"lock-renewal-{turn.token[:8]}"
            )
            yield HeldLock(conversation_id, turn.token, ticket)
        finally:
            await stop_task(renewal)
            # shielded: a turn cancelled while it leaves must still leave the queue
            await asyncio.shield(self._depart(redis, scripts, conversation_id, turn))
            if held:
                self.process.released()

    async def _acquire(self, redis: aioredis.Redis, scripts: _Scripts, conversation_id: str, turn: _Turn, max_wait: float) -> int:
        """Queue the turn and wait until it holds the lock; returns its ticket number."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        try:
            granted, ticket = await scripts.arrive(turn.keys.shared, turn.script_args(), client=redis)
            while not granted:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
                await redis.blpop([turn.keys.wake_prefix + turn.token], timeout=max(MIN_WAIT_SECONDS, min(turn.wait_seconds, remaining)))
                granted = await scripts.try_take(turn.keys.shared, turn.script_args(), client=redis)
        except RedisError as error:
            raise LockError(f"Redis failed while locking conversation '{conversation_id}': {error}") from error
        logger.debug("Acquired lock for conversation '%s' (ticket %s).", conversation_id, ticket)
        return int(ticket)

    async def _renew_while_held(self, redis: aioredis.Redis, scripts: _Scripts, conversation_id: str, turn: _Turn) -> None:
        """Extend the lock every third of its lifetime until cancelled or lost."""
        period = turn.lifetime_ms / 3000
        while True:
            await asyncio.sleep(period)
            try:
                still_held = await scripts.renew([turn.keys.owner], [turn.token, turn.lifetime_ms], client=redis)
            except RedisError as error:
                logger.warning("Could not extend the lock of conversation '%s' (retrying): %s", conversation_id, error)
                continue
            if not still_held:
                logger.error(
                    "LOST the lock of conversation '%s' while its turn is still running: it expired or was "
                    "taken (a stalled event loop or Redis outage longer than lock_lifetime %.1f s); another "
                    "turn of this conversation may run at the same time.",
                    conversation_id,
                    turn.lifetime_ms / 1000,
                )
                return

    async def _depart(self, redis: aioredis.Redis, scripts: _Scripts, conversation_id: str, turn: _Turn) -> None:
        """Release the lock or leave the queue, and wake the next waiter; never raises."""
        try:
            await scripts.depart(turn.keys.shared, turn.script_args(), client=redis)
        except (RedisError, OSError) as error:
            logger.error(
                "Could not release the lock of conversation '%s' (or leave its queue); it expires within %.1f s: %s",
                conversation_id,
                turn.lifetime_ms / 1000,
                error,
            )

    # --- Rasa's ticket-lock API: not used by Rasa 3.6 outside LockStore.lock ----------

    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        """Not supported: the lock lives in Redis scripts, use :meth:`lock`."""
        raise NotImplementedError("AtomicRedisLockStore keeps no ticket list; use `async with lock_store.lock(...)`")

    def delete_lock(self, conversation_id: str) -> None:
        """Not supported: a lock is released by the turn that holds it."""
        raise NotImplementedError("AtomicRedisLockStore locks are released by their holder; they expire otherwise")

    def save_lock(self, lock: TicketLock) -> None:
        """Not supported: the lock lives in Redis scripts, use :meth:`lock`."""
        raise NotImplementedError("AtomicRedisLockStore keeps no ticket list; use `async with lock_store.lock(...)`")

