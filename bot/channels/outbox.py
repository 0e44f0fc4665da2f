"""A persistent outbox: replies survive an API outage and a process restart.

Every outgoing message of a channel is first written to Redis, then sent by a worker
task in the Rasa process. A failed send is retried with exponential backoff; after
``max_attempts`` the message goes to a dead-letter list and is logged. Messages to one
recipient leave in the order they were queued, because a recipient's queue is only
advanced once its oldest message was delivered.

Redis keys (``<channel>`` is e.g. ``whatsapp``):
    ``outbox:<channel>:due``       sorted set: recipient -> time its next attempt is due
                                   (while a worker serves it: when that worker's lease ends)
    ``outbox:<channel>:lease``     hash: recipient -> id of the worker serving it
    ``outbox:<channel>:q:<to>``    list of jobs (JSON), oldest first
    ``outbox:<channel>:dead``      list of jobs that failed for good; expires
                                   ``RETENTION_DAYS_DEAD_LETTERS`` days after its latest entry

Several Rasa processes run a worker on one Redis. A worker claims a recipient for
``lease_seconds`` and renews the lease every third of it while it sends, so a slow
send (or a long queue) is never taken over by a second worker, while a dead worker's
recipients are served again soon after its lease ends. Only the lease holder may
remove a job from the queue, so a worker that lost its lease (it stalled) can never
remove a message that its successor has not sent yet.

Delivery is at least once: a worker that dies after the API accepted a message but
before removing it sends that message again after its lease expires.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from redis import asyncio as aioredis
from redis.exceptions import RedisError

from bot.settings import OutboxSettings, process_settings
from bot.tasks import stop_task

logger = logging.getLogger(__name__)

# Every script checks the lease first. KEYS[1]: due set, KEYS[2]: lease hash.
# Claim due recipients atomically. ARGV: now, lease end, limit, worker id.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], ARGV[2], member)
  redis.call('HSET', KEYS[2], member, ARGV[4])
end
return due
"""
# Extend the leases this worker still holds. ARGV: worker id, lease end, recipients.
# Returns the recipients it no longer holds.
_RENEW = """
local lost = {}
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] and redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[i])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost
"""
# The job at the head was sent: remove it. KEYS[3]: queue. ARGV: worker id, recipient,
# the job as read. Returns 0 when the lease or the head changed (nothing removed).
_SENT = """
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[1] or redis.call('LINDEX', KEYS[3], 0) ~= ARGV[3] then return 0 end
redis.call('LPOP', KEYS[3])
return 1
"""
# A retryable failure: store the job's attempts and wait out the backoff, lease given up.
# KEYS[3]: queue. ARGV: worker id, recipient, job as read, job updated, due time.
_RETRY_LATER = """
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[1] or redis.call('LINDEX', KEYS[3], 0) ~= ARGV[3] then return 0 end
redis.call('LSET', KEYS[3], 0, ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[5], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"""
# A job failed for good: move it to the dead letters. KEYS[3]: queue, KEYS[4]: dead
# letters. ARGV: worker id, recipient, job as read, job updated, retention seconds.
_GIVE_UP = """
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[1] or redis.call('LINDEX', KEYS[3], 0) ~= ARGV[3] then return 0 end
redis.call('LPOP', KEYS[3])
redis.call('RPUSH', KEYS[4], ARGV[4])
redis.call('EXPIRE', KEYS[4], tonumber(ARGV[5]))
return 1
"""
# The queue looks empty: forget the recipient unless something was queued meanwhile
# (then the lease is kept and the worker goes on). KEYS[3]: queue. ARGV: worker id,
# recipient. Returns 1 when released, 0 to go on, -1 when the lease is lost.
_RELEASE_IF_EMPTY = """
if redis.call('HGET', KEYS[2], ARGV[2]) ~= ARGV[1] then return -1 end
if redis.call('LLEN', KEYS[3]) > 0 then return 0 end
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
return 1
"""
# Give the leases this worker holds back (it stops): due again at once. ARGV: worker
# id, now, recipients.
_RELEASE = """
for i = 3, #ARGV do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[1] then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
  end
end
return 0
"""


class SendError(Exception):
    """A send that did not go through.

    Attributes:
        retryable: True for outages (5xx, 429, timeouts); False when retrying cannot help.
    """

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


Sender = Callable[[Dict[str, Any]], Awaitable[None]]


def backoff_seconds(attempts: int, settings: OutboxSettings) -> float:
    """Wait before the next attempt after ``attempts`` failures: base * 2**(n-1), capped."""
    return float(min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2 ** max(0, attempts - 1)))


async def enqueue_job(redis: aioredis.Redis, channel: str, recipient: str, payload: Dict[str, Any]) -> str:
    """Persist one message for ``recipient`` in ``channel``'s outbox.

    Any process may queue (the action server queues one-time codes); the channel's
    worker in the Rasa process sends it within its polling interval.

    Returns:
        The job id.
    """
    job = {"id": uuid.uuid4().hex, "to": recipient, "payload": payload, "attempts": 0, "created": time.time()}
    async with redis.pipeline(transaction=True) as pipe:
        pipe.rpush(f"outbox:{channel}:q:{recipient}", json.dumps(job, ensure_ascii=False))
        # NX: a recipient waiting out a backoff keeps its schedule (and its order)
        pipe.zadd(f"outbox:{channel}:due", {recipient: time.time()}, nx=True)
        await pipe.execute()
    return str(job["id"])


class Outbox:
    """One channel's queue of outgoing messages and the worker that sends them.

    Args:
        redis: client of the shared Redis.
        channel: name used in the keys (``whatsapp``, ``twilio``).
        send: coroutine delivering one job's ``payload``; raises :class:`SendError`.
        settings: retry and polling parameters.
    """

    def __init__(self, redis: aioredis.Redis, channel: str, send: Sender, settings: Optional[OutboxSettings] = None) -> None:
        self.redis = redis
        self.channel = channel
        self.send = send
        self.settings = settings or process_settings().outbox
        self.due_key = f"outbox:{channel}:due"
        self.lease_key = f"outbox:{channel}:lease"
        self.dead_key = f"outbox:{channel}:dead"
        # this worker's id in the lease hash: one per Outbox, so two workers of one
        # process (tests) are told apart as well as two processes
        self.worker_id = uuid.uuid4().hex
        self._held: Set[str] = set()
        self._lost: Set[str] = set()
        self._task: Optional[asyncio.Task] = None
        self._stopping = False
        self._wake = asyncio.Event()

    def queue_key(self, recipient: str) -> str:
        return f"outbox:{self.channel}:q:{recipient}"  # the key enqueue_job writes

    async def enqueue(self, recipient: str, payload: Dict[str, Any]) -> str:
        """Persist one message for ``recipient``; the worker sends it soon.

        Returns:
            The job id.
        """
        job_id = await enqueue_job(self.redis, self.channel, recipient, payload)
        self._wake.set()
        return job_id

    async def pending(self, recipient: str) -> List[Dict[str, Any]]:
        """Jobs still queued for ``recipient``, oldest first."""
        return [json.loads(raw) for raw in await self.redis.lrange(self.queue_key(recipient), 0, -1)]

    async def dead(self) -> List[Dict[str, Any]]:
        """Jobs that failed for good."""
        return [json.loads(raw) for raw in await self.redis.lrange(self.dead_key, 0, -1)]

    async def process_due(self, limit: int = 50) -> int:
        """Send what is due now (one pass of the worker).

        Returns:
            How many recipients were served.
        """
        now = time.time()
        claimed = await self._script(_CLAIM, [], [now, now + self.settings.lease_seconds, limit, self.worker_id])
        if not claimed:
            return 0
        self._held.update(claimed)
        renewing = asyncio.create_task(self._renew_leases(), name=f"outbox-{self.channel}-renew")
        try:
            await asyncio.gather(*(self._serve(recipient) for recipient in claimed))
        finally:
            renewing.cancel()  # a cancelled pass (the process stops) renews nothing more
            self._held.difference_update(claimed)
            self._lost.difference_update(claimed)
        return len(claimed)

    async def _script(self, script: str, keys: List[str], args: List[Any]) -> Any:
        """Run one of the lease-checking scripts (KEYS: due set, lease hash, then ``keys``)."""
        all_keys = [self.due_key, self.lease_key, *keys]
        return await self.redis.eval(script, len(all_keys), *all_keys, *args)

    async def _renew_leases(self) -> None:
        """Extend the leases of the recipients being served, every third of a lease."""
        while True:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            if not self._held:
                continue
            try:
                lost = await self._script(_RENEW, [], [self.worker_id, time.time() + self.settings.lease_seconds, *sorted(self._held)])
            except RedisError as error:
                logger.warning("%s outbox: could not renew leases (%s)", self.channel, error)
                continue
            if lost:
                logger.warning("%s outbox: lease lost for %d recipients; another worker serves them", self.channel, len(lost))
                self._lost.update(lost)

    async def _serve(self, recipient: str) -> None:
        """Send ``recipient``'s queue in order until it is empty, a send fails or the lease is lost."""
        queue = self.queue_key(recipient)
        while recipient not in self._lost:
            raw = await self.redis.lindex(queue, 0)
            if raw is None:
                if await self._script(_RELEASE_IF_EMPTY, [queue], [self.worker_id, recipient]) != 0:
                    return
                continue
            job = json.loads(raw)
            try:
                await self.send(job["payload"])
            except SendError as error:
                job["attempts"] += 1
                job["last_error"] = str(error)
                updated = json.dumps(job, ensure_ascii=False)
                if error.retryable and job["attempts"] < self.settings.max_attempts:
                    wait = backoff_seconds(job["attempts"], self.settings)
                    logger.warning("%s: send to %s failed (%s); attempt %d, retry in %.1fs", self.channel, recipient, error, job["attempts"], wait)
                    await self._script(_RETRY_LATER, [queue], [self.worker_id, recipient, raw, updated, time.time() + wait])
                    return
                logger.error("%s: giving up on a message to %s after %d attempts: %s", self.channel, recipient, job["attempts"], error)
                # retention (RETENTION_DAYS_DEAD_LETTERS), counted from the latest dead letter
                if not await self._script(_GIVE_UP, [queue, self.dead_key], [self.worker_id, recipient, raw, updated, self.settings.dead_letter_retention_seconds]):
                    return  # the lease was lost: its new holder decides
                continue
            if not await self._script(_SENT, [queue], [self.worker_id, recipient, raw]):
                logger.warning("%s: lease on %s lost during a send; its new holder sends the queue (the message may arrive twice)", self.channel, recipient)
                return

    async def run(self) -> None:
        """Worker loop: send due messages until cancelled; survives Redis outages."""
        while not self._stopping:
            try:
                await self.process_due()
            except asyncio.CancelledError:
                raise
            except RedisError as error:
                logger.warning("%s outbox: Redis unavailable (%s); retrying", self.channel, error)
                await asyncio.sleep(1.0)
            except Exception:  # a bug in one send must not stop every later reply
                logger.exception("%s outbox worker error", self.channel)
                await asyncio.sleep(1.0)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
            except asyncio.TimeoutError:
                pass

    def start(self) -> asyncio.Task:
        """Start the worker on the running loop (idempotent)."""
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name=f"outbox-{self.channel}")
        return self._task

    async def stop(self) -> None:
        """Stop the worker; recipients it was serving become due again at once."""
        self._stopping = True
        task, self._task = self._task, None
        held = sorted(self._held)  # the cancelled pass forgets them as it ends
        await stop_task(task)
        if held:
            try:
                await self._script(_RELEASE, [], [self.worker_id, time.time(), *held])
            except RedisError:
                pass  # the lease expires on its own
            self._held.clear()
