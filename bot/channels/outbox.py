"""A persistent outbox: replies survive an API outage and a process restart.

Every outgoing message of a channel is first written to Redis, then sent by a worker
task in the Rasa process. A failed send is retried with exponential backoff; after
``max_attempts`` the message goes to a dead-letter list and is logged. Messages to one
recipient leave in the order they were queued, because a recipient's queue is only
advanced once its oldest message was delivered.

Redis keys (``<channel>`` is e.g. ``whatsapp``):
    ``outbox:<channel>:due``       sorted set: recipient -> time its next attempt is due
    ``outbox:<channel>:q:<to>``    list of jobs (JSON), oldest first
    ``outbox:<channel>:dead``      list of jobs that failed for good; expires
                                   ``RETENTION_DAYS_DEAD_LETTERS`` days after its latest entry

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

from bot.settings import OutboxSettings
from bot.tasks import stop_task

logger = logging.getLogger(__name__)

# Claim due members of a schedule (sorted set: member -> due time) atomically, moving
# them to a lease: several Rasa workers share one Redis (also the inbound sweeper's).
CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due
"""
# Forget a recipient only when nothing was queued for it meanwhile.
_RELEASE_IF_EMPTY = """
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) return 1 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
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
        self.settings = settings or OutboxSettings.from_env()
        self.due_key = f"outbox:{channel}:due"
        self.dead_key = f"outbox:{channel}:dead"
        self._held: Set[str] = set()
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
        claimed = await self.redis.eval(CLAIM_DUE, 1, self.due_key, now, now + self.settings.lease_seconds, limit)
        if not claimed:
            return 0
        self._held.update(claimed)
        try:
            await asyncio.gather(*(self._serve(recipient) for recipient in claimed))
        finally:
            self._held.difference_update(claimed)
        return len(claimed)

    async def _serve(self, recipient: str) -> None:
        """Send ``recipient``'s queue in order until it is empty or a send fails."""
        queue = self.queue_key(recipient)
        while True:
            raw = await self.redis.lindex(queue, 0)
            if raw is None:
                if await self.redis.eval(_RELEASE_IF_EMPTY, 2, self.due_key, queue, recipient, time.time()):
                    return
                continue
            job = json.loads(raw)
            try:
                await self.send(job["payload"])
            except SendError as error:
                job["attempts"] += 1
                job["last_error"] = str(error)
                if error.retryable and job["attempts"] < self.settings.max_attempts:
                    wait = backoff_seconds(job["attempts"], self.settings)
                    logger.warning("%s: send to %s failed (%s); attempt %d, retry in %.1fs", self.channel, recipient, error, job["attempts"], wait)
                    async with self.redis.pipeline(transaction=True) as pipe:
                        pipe.lset(queue, 0, json.dumps(job, ensure_ascii=False))
                        pipe.zadd(self.due_key, {recipient: time.time() + wait})
                        await pipe.execute()
                    return
                logger.error("%s: giving up on a message to %s after %d attempts: %s", self.channel, recipient, job["attempts"], error)
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.lpop(queue)
                    pipe.rpush(self.dead_key, json.dumps(job, ensure_ascii=False))
                    # retention (RETENTION_DAYS_DEAD_LETTERS), counted from the latest dead letter
                    pipe.expire(self.dead_key, self.settings.dead_letter_retention_seconds)
                    await pipe.execute()
                continue
            await self.redis.lpop(queue)

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
        await stop_task(task)
        if self._held:
            try:
                await self.redis.zadd(self.due_key, {recipient: time.time() for recipient in self._held}, xx=True)
            except RedisError:
                pass  # the lease expires on its own
            self._held.clear()
