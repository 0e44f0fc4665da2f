"""Customer messages: none lost, none handled twice, bursts answered once.

Every channel hands a customer message to :func:`accept`, which appends it to the
conversation's Redis stream before anything else happens. A drain task of the
process, detached from the request that brought the message, then works through the
stream under the conversation's lock in Rasa's lock store (every Rasa process
shares it), one turn after another, and deletes each entry once its turn is saved:

- a request that gives up (REST's reply timeout) no longer cancels the turn;
- messages arriving while a turn runs wait in the stream and are drained after it,
  never interleaved;
- exactly once: the turn records the message id on its ``UserUttered`` event; after
  a crash between the tracker's save and the entry's deletion the next drain finds
  the id in the tracker and skips it (:mod:`bot.channels.turns`);
- a process that dies mid-turn leaves its conversation in the pending index; the
  sweeper of every process takes up conversations that waited too long
  (``INBOUND_STALE_SECONDS``), a sender's retry of a message already stored drains
  its conversation at once, and the lock keeps two from doing the same work (a dead
  process's lock goes once its heartbeat stops: ``bot/lock_store.py``);
- bursts: on a channel with a burst window (WhatsApp, Twilio: ``BURST_WINDOW_SECONDS``)
  a turn starts once the conversation has been quiet for the window, at most
  ``BURST_CAP_FACTOR`` windows after its first waiting message, and takes every
  waiting message: one ``UserUttered`` each, one answer after the last;
- a turn that fails is retried later; after ``INBOUND_MAX_ATTEMPTS`` failures its
  messages go to the dead-letter list, so one bad message cannot block the rest.

Replies reach the customer from whichever process ran the turn: each channel
registers an output factory (web chat: history and hub; WhatsApp/Twilio: their
outbox). A caller that waits for its message's replies (REST, web chat) passes
``wait_seconds`` and calls :func:`wait`; a turn hands a collecting channel's replies
to the waiting request through Redis (any process), or, when that request has given
up, to the channel's ``unclaimed`` callback (REST: the next reply carries them).

Redis keys (expire; ``<c>`` is the conversation id):
    ``inbound:stream:<c>``        stream of waiting messages (fields ``m`` message id,
                                  ``c`` channel, ``t`` text, ``md`` metadata JSON,
                                  ``w`` 1 when a request waits); the entry id is the arrival time
    ``inbound:pending``           sorted set: conversation -> time by which it must be drained
    ``inbound:attempts:<c>``      hash: entry id -> failed turns
    ``inbound:waiting:<id>``      a request waits for message ``<id>``'s replies
    ``inbound:replies:<id>``      list: the replies handed to that request (JSON)
    ``inbound:dead``              list of messages whose turn kept failing (JSON)
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any, AsyncContextManager, Awaitable, Callable, ClassVar, Dict, List, Optional, Protocol, Set, Tuple

from rasa.core.channels.channel import CollectingOutputChannel, OutputChannel, UserMessage
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from bot.channels.redis_client import get_redis
from bot.per_loop import PerLoop
from bot.settings import Settings, process_settings
from bot.tasks import stop_task

logger = logging.getLogger(__name__)

# Claim due members of a schedule (sorted set: member -> due time) atomically, pushing
# their due time to a lease's end: several Rasa processes sweep one Redis.
CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return due
"""

# Store one customer message: its delivery mark (when the channel gives one) and its
# stream entry in one step, so a process killed between the two can neither lose the
# message (marked, never stored: the sender's retry would be refused) nor store it twice.
# KEYS: stream, pending index, waiting mark, delivery mark. ARGV: stream retention,
# conversation, drain deadline, waiting ttl (0: none), delivery mark ttl (0: none),
# then the entry's fields. Returns 0 when the delivery mark was already set.
_ACCEPT = """
if tonumber(ARGV[5]) > 0 and not redis.call('SET', KEYS[4], 1, 'NX', 'EX', tonumber(ARGV[5])) then return 0 end
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[3], 1, 'EX', tonumber(ARGV[4])) end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 6))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('ZADD', KEYS[2], 'NX', tonumber(ARGV[3]), ARGV[2])
return 1
"""
PENDING = "inbound:pending"
DEAD = "inbound:dead"
BURST_CAP_FACTOR = 3.0  # a burst never waits longer than this many windows
TURN_BATCH = 50  # entries read at once; a burst turn takes at most this many messages
REPLIES_TTL_SECONDS = 300
WAITING_GRACE_SECONDS = 5  # a waiting mark outlives its request this long (the request deletes it)
DRAIN_TRIES = 4  # a drain that keeps failing (Redis down) is left to the sweeper
MAX_HOLD_SECONDS = 20.0  # no new turn under one hold of the lock after this long

OutputFactory = Callable[[str], OutputChannel]
Unclaimed = Callable[[str, List[Dict[str, Any]]], Awaitable[None]]

# The end of a turn, atomically: hand its replies to the requests still waiting for
# them (a request that gave up deleted its mark: ``claimed`` tells), delete the
# handled entries, and forget the conversation when nothing waits any more, else
# set its deadline. KEYS: stream, attempts, pending, n waiting marks, n reply lists.
# ARGV: conversation, deadline, reply TTL, n, n payloads, then the entry ids to delete.
_FINISH = """
local n = tonumber(ARGV[4])
local claimed = 0
for i = 1, n do
  if redis.call('DEL', KEYS[3 + i]) == 1 then
    redis.call('RPUSH', KEYS[3 + n + i], ARGV[4 + i])
    redis.call('EXPIRE', KEYS[3 + n + i], ARGV[3])
    if i == n then claimed = 1 end
  end
end
if #ARGV > 4 + n then
  redis.call('XDEL', KEYS[1], unpack(ARGV, 5 + n))
  redis.call('HDEL', KEYS[2], unpack(ARGV, 5 + n))
end
local left = redis.call('XLEN', KEYS[1])
if left == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
end
return {left, claimed}
"""


class AlreadyAccepted(Exception):
    """The message's delivery mark was set: a sender's retry of a message already stored."""


@dataclass(frozen=True)
class DeliveryMark:
    """The key that says a sender's message id was stored, and how long it is kept
    (:func:`bot.channels.validation.delivery_key`)."""

    key: str
    ttl_seconds: int


class TurnFailed(Exception):
    """The turn of a message a caller waited for failed; it is retried later."""


class TurnRunner(Protocol):
    """What runs a conversation's turns (:class:`bot.channels.turns.RasaTurns`)."""

    def lock(self, conversation_id: str) -> AsyncContextManager[Any]:
        """The conversation's lock, shared by every process."""

    async def run(self, conversation_id: str, messages: List[UserMessage]) -> None:
        """Record ``messages`` (skipping ids already recorded) and answer once, after the last."""


@dataclass(frozen=True)
class ChannelHooks:
    """How a turn of a channel's conversation reaches its customer.

    Attributes:
        output: ``factory(sender_id)``: the channel's output, usable from any process.
        burst_window: seconds of quiet that end a burst (0: every message is a turn).
        unclaimed: what to do with a collecting output's replies that no request took.
    """

    output: OutputFactory
    burst_window: float = 0.0
    unclaimed: Optional[Unclaimed] = None


@dataclass(frozen=True)
class Entry:
    """One waiting customer message (a stream entry)."""

    entry_id: str
    conversation_id: str
    message_id: str
    channel: str
    text: str
    metadata: Optional[Dict[str, Any]]
    waited_for: bool

    @property
    def arrived(self) -> float:
        """Arrival time (Unix seconds, Redis's clock): the entry id's milliseconds."""
        return int(self.entry_id.split("-")[0]) / 1000.0

    @classmethod
    def from_stream(cls, conversation_id: str, entry_id: str, fields: Dict[str, str]) -> Entry:
        metadata = json.loads(fields["md"]) if fields.get("md") else None
        return cls(entry_id, conversation_id, fields["m"], fields["c"], fields["t"], metadata, fields.get("w") == "1")

    def user_message(self, output: OutputChannel) -> UserMessage:
        # the channel's metadata as it was: with an entry id and arrival time added, a REST
        # turn took ~4 ms (10 %) longer in Rasa (bench/inbound.py), so the intake adds none
        return UserMessage(self.text, output, self.conversation_id, input_channel=self.channel, message_id=self.message_id, metadata=self.metadata)

    def as_record(self) -> Dict[str, Any]:
        return {"entry_id": self.entry_id, "conversation_id": self.conversation_id, "message_id": self.message_id, "channel": self.channel, "text": self.text, "metadata": self.metadata}


def stream_key(conversation_id: str) -> str:
    return f"inbound:stream:{conversation_id}"


def attempts_key(conversation_id: str) -> str:
    return f"inbound:attempts:{conversation_id}"


def waiting_key(message_id: str) -> str:
    return f"inbound:waiting:{message_id}"


def replies_key(message_id: str) -> str:
    return f"inbound:replies:{message_id}"


class Inbound:
    """The process's intake: accepts messages, drains conversations, sweeps strays.

    Args:
        settings: windows, staleness, attempts and retention (default: environment).
        runner: runs turns; :meth:`start` sets Rasa's (:class:`~bot.channels.turns.RasaTurns`).
        redis: a client; None uses this loop's client for ``REDIS_URL``.
    """

    # one per event loop (bot/per_loop.py), set below the class
    _per_loop: ClassVar[PerLoop[Inbound]]

    def __init__(self, settings: Optional[Settings] = None, runner: Optional[TurnRunner] = None, redis: Optional[aioredis.Redis] = None) -> None:
        self.settings = settings or process_settings().channels
        self.runner = runner
        self._redis = redis
        self.channels: Dict[str, ChannelHooks] = {}
        self._draining: Dict[str, asyncio.Task] = {}
        self._again: Set[str] = set()
        self._sweeper: Optional[asyncio.Task] = None
        self._background: Set[asyncio.Future] = set()
        self._stopping = False

    @classmethod
    def instance(cls) -> Inbound:
        """The intake of this process (of the running event loop), created on first use."""
        return cls._per_loop.current()

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop, intake: Inbound) -> None:
        """Use ``intake`` as the intake of ``loop`` (a test's own turn runner)."""
        cls._per_loop.install(loop, intake)

    @classmethod
    def of_loop(cls, loop: asyncio.AbstractEventLoop) -> Optional[Inbound]:
        """The intake of ``loop``, if any (to stop it after the loop stopped)."""
        return cls._per_loop.of_loop(loop)

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis or get_redis()

    def register(self, channel: str, hooks: ChannelHooks) -> None:
        """Tell the intake how turns of ``channel`` reach customers."""
        self.channels[channel] = hooks

    async def start(self, app: Any) -> None:
        """Run turns with the Rasa agent of ``app`` and start the sweeper (idempotent)."""
        if self.runner is None:
            from bot.channels.turns import RasaTurns

            self.runner = RasaTurns(app)
        self._stopping = False
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="inbound-sweeper")

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop sweeping; give running drains ``grace_seconds``, then cancel them
        (their entries stay in Redis for another process's sweeper)."""
        self._stopping = True
        sweeper, self._sweeper = self._sweeper, None
        await stop_task(sweeper)
        drains = list(self._draining.values())
        if drains:
            await asyncio.wait(drains, timeout=grace_seconds)
        for task in drains:
            await stop_task(task, grace_seconds=1.0)

    # --------------------------------------------------------------- intake
    async def accept(
        self,
        channel: str,
        sender_id: str,
        text: str,
        *,
        message_id: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        wait_seconds: Optional[float] = None,
        delivery: Optional[DeliveryMark] = None,
    ) -> str:
        """Append a customer message to its conversation's stream and start draining.

        Args:
            channel: the registered channel that received it.
            sender_id: the conversation id.
            text: what the bot reads.
            message_id: the channel's id of the message (WhatsApp's ``wamid``); new if None.
            metadata: the channel's metadata (JSON-serialisable).
            wait_seconds: the caller will :meth:`wait` this long for the replies.
            delivery: the sender's delivery mark, set together with the stream entry.

        Returns:
            The message id (also on the tracker's ``UserUttered``).

        Raises:
            AlreadyAccepted: ``delivery`` was marked: this is a retry, nothing was stored.
            redis.exceptions.RedisError: the message was not stored (nothing was acknowledged).
        """
        message_id = message_id or uuid.uuid4().hex
        fields = {"m": message_id, "c": channel, "t": text, "md": json.dumps(metadata, ensure_ascii=False) if metadata else "", "w": "1" if wait_seconds else ""}
        window = self._window(channel)
        deadline = time.time() + self.settings.inbound_stale_seconds + BURST_CAP_FACTOR * window
        keys = [stream_key(sender_id), PENDING, waiting_key(message_id), delivery.key if delivery else "inbound:no-delivery-mark"]
        waiting_ttl = math.ceil(wait_seconds) + WAITING_GRACE_SECONDS if wait_seconds else 0
        args = [self.settings.inbound_retention_seconds, sender_id, deadline, waiting_ttl, delivery.ttl_seconds if delivery else 0]
        args += [part for pair in fields.items() for part in pair]
        if not await self.redis.eval(_ACCEPT, len(keys), *keys, *args):
            # a retry: the first delivery may have come through a process that died
            # before its turn ran; a look now (under the lock) spares it the sweeper's wait
            self.schedule(sender_id, window)
            raise AlreadyAccepted(message_id)
        self.schedule(sender_id, window)
        return message_id

    async def wait(self, message_id: str, timeout: float) -> Optional[List[Dict[str, Any]]]:
        """The replies of an accepted message's turn, or None once ``timeout`` passed.

        After a None the turn still finishes; its replies then go to the channel's
        ``unclaimed`` callback. A message that was not the last of its burst gets [].

        Raises:
            TurnFailed: the turn failed (it is retried; its replies then go to ``unclaimed``).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        raw = None
        try:
            while raw is None and loop.time() < deadline:
                try:
                    popped = await self.redis.blpop([replies_key(message_id)], timeout=max(deadline - loop.time(), 0.01))
                except RedisError:  # a pooled connection that Redis closed: the message is stored
                    logger.warning("inbound: waiting for %s: Redis unavailable; waiting on", message_id, exc_info=True)
                    await asyncio.sleep(0.2)
                    continue
                raw = popped[1] if popped else None
        except asyncio.CancelledError:
            # the client hung up (Sanic cancels its request): the replies go to ``unclaimed``
            self._in_background(self.redis.delete(waiting_key(message_id)))
            raise
        if raw is None:
            try:
                if await self.redis.delete(waiting_key(message_id)):
                    return None  # gave up first: the turn's replies go to ``unclaimed``
                raw = await self.redis.lpop(replies_key(message_id))  # handed over meanwhile
            except RedisError:
                return None  # the mark expires by itself; the replies then go to ``unclaimed``
            if raw is None:
                return None
        outcome = json.loads(raw)
        if isinstance(outcome, dict) and outcome.get("error"):
            raise TurnFailed(str(outcome["error"]))
        return list(outcome)

    def _in_background(self, work: Awaitable[Any]) -> None:
        """Run ``work`` to its end even though its caller is being cancelled."""
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --------------------------------------------------------------- draining
    def schedule(self, conversation_id: str, burst_window: Optional[float] = None) -> None:
        """Drain the conversation in this process (one drain task per conversation).

        Args:
            conversation_id: the conversation.
            burst_window: the window of the channel whose message arrived; 0 skips the
                look for a burst before taking the lock (None: look).
        """
        if self._stopping:
            return
        if conversation_id in self._draining:
            self._again.add(conversation_id)  # the running drain looks once more
            return
        task = asyncio.create_task(self._drain_task(conversation_id, burst_window), name=f"inbound-drain-{conversation_id}")
        self._draining[conversation_id] = task

    async def _drain_task(self, conversation_id: str, burst_window: Optional[float]) -> None:
        failures = 0
        try:
            while not self._stopping:
                self._again.discard(conversation_id)
                try:
                    await self.drain(conversation_id, burst_window)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - Redis restarting, lock expired, agent loading
                    failures += 1
                    if failures >= DRAIN_TRIES:
                        logger.exception("inbound: draining %s failed %d times; the sweeper retries", conversation_id, failures)
                        return
                    logger.warning("inbound: draining %s failed; retrying", conversation_id, exc_info=True)
                    await asyncio.sleep(0.2 * 2**failures)
                    continue
                if conversation_id not in self._again:
                    return
        finally:
            # no await between the last look at _again and this: schedule() either
            # marked us before, or finds no task and starts a new one
            self._draining.pop(conversation_id, None)

    async def drain(self, conversation_id: str, burst_window: Optional[float] = None) -> None:
        """Run turns until the conversation has nothing waiting (or a turn failed).

        Args:
            conversation_id: the conversation.
            burst_window: see :meth:`schedule`.
        """
        while not self._stopping:
            if burst_window is None or burst_window > 0:
                delay = await self._burst_delay(conversation_id)
                if delay is None:
                    await self._finish(conversation_id, [], "[]")  # nothing waits: unlist it
                    return
                if delay > 0:
                    await asyncio.sleep(delay)
                    continue
            assert self.runner is not None, "Inbound.start() sets the turn runner"
            async with self.runner.lock(conversation_id):
                left = await self._turns_under_lock(conversation_id)
            if not left:
                return

    async def _burst_delay(self, conversation_id: str) -> Optional[float]:
        """Seconds until the waiting messages make a turn (None: none wait)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xrange(stream_key(conversation_id), count=1)
            pipe.xrevrange(stream_key(conversation_id), count=1)
            pipe.time()
            first, last, (seconds, micros) = await pipe.execute()
        if not first:
            return None
        window = self._window(first[0][1]["c"])
        if window <= 0:
            return 0.0
        now = seconds + micros / 1e6
        first_arrived = Entry.from_stream(conversation_id, *first[0]).arrived
        last_arrived = Entry.from_stream(conversation_id, *last[0]).arrived
        return max(0.0, min(last_arrived + window, first_arrived + BURST_CAP_FACTOR * window) - now)

    async def _turns_under_lock(self, conversation_id: str) -> Optional[int]:
        """One read of the stream, run as turns; the lock is held.

        Returns:
            How many entries still wait, or None when a turn failed.
        """
        raw = await self.redis.xrange(stream_key(conversation_id), count=TURN_BATCH)
        entries = [Entry.from_stream(conversation_id, entry_id, fields) for entry_id, fields in raw]
        if not entries:
            left, _ = await self._finish(conversation_id, [], "[]")  # drained elsewhere: unlist it
            return left
        left = 0
        held_since = time.monotonic()
        for turn in self._turns(entries):
            outcome = await self._run_turn(conversation_id, turn)
            if outcome is None:
                return None
            left = outcome
            if time.monotonic() - held_since > MAX_HOLD_SECONDS:
                break  # let the lock go before it expires (Rasa's lifetime: 60 s); the drain goes on
        return left

    def _window(self, channel: str) -> float:
        hooks = self.channels.get(channel)
        return hooks.burst_window if hooks else 0.0

    def _turns(self, entries: List[Entry]) -> List[List[Entry]]:
        """A burst channel's leading entries make one turn; otherwise one turn each."""
        channel = entries[0].channel
        if self._window(channel) > 0:
            burst: List[Entry] = []
            for entry in entries:
                if entry.channel != channel:
                    break
                burst.append(entry)
            return [burst]
        return [[entry] for entry in entries]

    def _hooks(self, channel: str) -> ChannelHooks:
        hooks = self.channels.get(channel)
        if hooks is None:
            raise LookupError(f"inbound: channel {channel!r} is not registered in this process")
        return hooks

    async def _run_turn(self, conversation_id: str, entries: List[Entry]) -> Optional[int]:
        """Run one turn and finish it; None when it failed (left for a retry)."""
        assert self.runner is not None
        try:
            hooks = self._hooks(entries[0].channel)
            output = hooks.output(conversation_id)
            await self.runner.run(conversation_id, [entry.user_message(output) for entry in entries])
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one message's failure must not stop the process
            logger.exception("inbound: turn of %s failed (%d message(s))", conversation_id, len(entries))
            return await self._failed(conversation_id, entries)
        replies = list(output.messages) if isinstance(output, CollectingOutputChannel) else []
        left, claimed = await self._finish(conversation_id, entries, json.dumps(replies, ensure_ascii=False), acknowledge=True)
        if replies and not claimed:
            # nobody waits for them (the request gave up, or came through a dead process)
            if hooks.unclaimed is None:
                logger.warning("inbound: %d repl(ies) to %s had nobody to go to", len(replies), conversation_id)
            else:
                await hooks.unclaimed(conversation_id, replies)
        return left

    async def _finish(self, conversation_id: str, entries: List[Entry], last_payload: str, acknowledge: bool = False) -> Tuple[int, bool]:
        """Hand ``last_payload`` to the request waiting for the last entry ([] to those
        of the others), delete the entries when ``acknowledge``, update the pending index.

        Returns:
            (entries still waiting, whether the last entry's request took its payload).
        """
        waited = [entry for entry in entries if entry.waited_for]
        keys = [stream_key(conversation_id), attempts_key(conversation_id), PENDING]
        keys += [waiting_key(e.message_id) for e in waited] + [replies_key(e.message_id) for e in waited]
        payloads = [last_payload if e is entries[-1] else "[]" for e in waited]
        ids = [e.entry_id for e in entries] if acknowledge else []
        deadline = time.time() + self.settings.inbound_stale_seconds
        left, claimed = await self.redis.eval(_FINISH, len(keys), *keys, conversation_id, deadline, REPLIES_TTL_SECONDS, len(waited), *payloads, *ids)
        return int(left), bool(claimed) and waited[-1] is entries[-1]

    async def _failed(self, conversation_id: str, entries: List[Entry]) -> Optional[int]:
        """Count the failure; after the last attempt set the messages aside and go on.

        The conversation stays listed with a new deadline: a sweeper (or its next
        message) retries it.
        """
        await self._finish(conversation_id, entries, json.dumps({"error": "turn_failed"}))
        key = attempts_key(conversation_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, entries[0].entry_id, 1)
            pipe.expire(key, self.settings.inbound_retention_seconds)
            attempts = (await pipe.execute())[0]
        if attempts < self.settings.inbound_max_attempts:
            return None
        logger.error("inbound: %d message(s) of %s set aside in %s after %d failed turns", len(entries), conversation_id, DEAD, attempts)
        async with self.redis.pipeline(transaction=True) as pipe:
            for entry in entries:
                pipe.rpush(DEAD, json.dumps({**entry.as_record(), "attempts": attempts, "failed_at": time.time()}, ensure_ascii=False))
            pipe.expire(DEAD, self.settings.dead_letter_retention_seconds)
            await pipe.execute()
        left, _ = await self._finish(conversation_id, entries, "[]", acknowledge=True)
        return left

    # --------------------------------------------------------------- sweeping
    async def sweep(self, limit: int = 100) -> List[str]:
        """Start draining conversations whose deadline passed (their process died).

        Claiming moves the deadline on, so the sweepers of other processes leave them
        alone meanwhile; the lock would keep them from doing the work twice anyway.

        Returns:
            The conversations taken up.
        """
        now = time.time()
        due: List[str] = await self.redis.eval(CLAIM_DUE, 1, PENDING, now, now + self.settings.inbound_stale_seconds, limit)
        for conversation_id in due:
            self.schedule(conversation_id)
        return due

    async def _sweep_forever(self) -> None:
        while not self._stopping:
            try:
                taken = await self.sweep()
                if taken:
                    logger.warning("inbound: took up %d conversation(s) left waiting: %s", len(taken), ", ".join(taken[:10]))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis restarting: sweep again shortly
                if self._stopping:
                    return
                logger.warning("inbound: sweep failed; retrying", exc_info=True)
            await asyncio.sleep(self.settings.inbound_sweep_seconds)

    async def waiting(self, conversation_id: str) -> List[Entry]:
        """The conversation's messages still waiting for a turn (oldest first)."""
        raw = await self.redis.xrange(stream_key(conversation_id))
        return [Entry.from_stream(conversation_id, entry_id, fields) for entry_id, fields in raw]



Inbound._per_loop = PerLoop(Inbound)

# ------------------------------------------------------------- for the channels
async def attach(app: Any, channel: str, output: OutputFactory, burst_window: float = 0.0, unclaimed: Optional[Unclaimed] = None) -> None:
    """Register ``channel`` with the process's intake and start it (from ``before_server_start``).

    Args:
        app: the Sanic app (Rasa's agent is on ``app.ctx.agent``).
        channel: the channel's name.
        output: ``factory(sender_id) -> OutputChannel`` that works in any process.
        burst_window: seconds of quiet that end a burst (``Settings.burst_window``).
        unclaimed: where a collecting output's replies go when no request took them.
    """
    intake = Inbound.instance()
    intake.register(channel, ChannelHooks(output, burst_window, unclaimed))
    await intake.start(app)


async def accept(channel: str, sender_id: str, text: str, **kwargs: Any) -> str:
    """:meth:`Inbound.accept` of the process's intake."""
    return await Inbound.instance().accept(channel, sender_id, text, **kwargs)


async def wait(message_id: str, timeout: float) -> Optional[List[Dict[str, Any]]]:
    """:meth:`Inbound.wait` of the process's intake."""
    return await Inbound.instance().wait(message_id, timeout)

