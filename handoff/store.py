"""Redis store of the handoff service: tickets, queue, events, outbox, accounts.

Only this module knows the ``handoff:`` keys (see ``handoff/PROTOCOL.md``);
the service, the relay inside the Rasa process, the auth module and the
benchmark all go through :class:`HandoffStore`.

Keys:
    handoff:seq                         ticket number counter
    handoff:ticket:<id>                 hash: ``data`` (creation JSON) + live fields
    handoff:queue                       zset of waiting tickets, score = priority then creation time
    handoff:open                        zset of open tickets (waiting or with an agent)
    handoff:conv:<conversation_id>      id of the conversation's open ticket
    handoff:events:<id>                 stream: transcript after the handoff, notes, state changes
    handoff:feed                        stream every console follows (capped)
    handoff:outbound                    stream read by the relay (consumer group ``relay``)
    handoff:dedupe:<id>:<message_id>    a channel's message id already stored
    handoff:online                      zset agent -> last console heartbeat (ms)
    handoff:account:<username>          hash: an agent's account
    handoff:session:<token>             hash: a console sign-in (expires)
    handoff:login:failures:<scope>:<id> failed sign-ins of a username / address (expires)
    handoff:login:lock:<scope>:<id>     sign-in refused until this key expires
    handoff:outbox:<channel>:<sender>   list: relay deliveries waiting for a pull channel (REST)
    handoff:relayed:<message_id>        a control message the relay carried out

Every state change is one Lua script, so two agents claiming the same ticket at
the same moment cannot both win.

Retention: when a ticket is closed (resolved or returned to the bot) its hash and its
event stream expire ``RETENTION_DAYS_TICKETS`` days later (default 365), counted from
closing; open tickets never expire.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.env import env_float
from handoff.contract import INBOX, INBOX_GROUP

PREFIX = "handoff:"
QUEUE = PREFIX + "queue"
OPEN = PREFIX + "open"
FEED = PREFIX + "feed"
OUTBOUND = PREFIX + "outbound"
RELAY_GROUP = "relay"
ONLINE = PREFIX + "online"
SEQ = PREFIX + "seq"
ACCOUNTS = PREFIX + "accounts"
FEED_MAXLEN = 20000
OUTBOUND_MAXLEN = 100000
DEFAULT_RETENTION_DAYS_TICKETS = 365.0


def ticket_retention_seconds() -> int:
    """How long a closed ticket and its events are kept (``RETENTION_DAYS_TICKETS``)."""
    days = env_float("RETENTION_DAYS_TICKETS", DEFAULT_RETENTION_DAYS_TICKETS)
    if days <= 0:
        raise ValueError(f"RETENTION_DAYS_TICKETS must be positive, got {days}")
    return max(1, int(days * 86400))

# Ticket states. "queued" and "with_agent" are open: the conversation is with a person.
QUEUED, WITH_AGENT, BOT, RESOLVED = "queued", "with_agent", "bot", "resolved"
OPEN_STATES = (QUEUED, WITH_AGENT)

TICKET_ID = re.compile(r"^HO-\d{6,12}$")

# Queue scores sort by priority first; creation times in ms stay below 1e13 until the year 2286.
# (Computed in Python: Lua would print large scores with only 14 significant digits.)
_PRIORITY_WEIGHT = 10**13

_CREATE = """
local existing = redis.call('GET', KEYS[1])
if existing and redis.call('EXISTS', ARGV[5] .. existing) == 1 then
  return {existing, 0}
end
local id = string.format('HO-%06d', redis.call('INCR', KEYS[2]))
local key = ARGV[5] .. id
redis.call('HSET', key, 'data', ARGV[1], 'state', 'queued', 'priority', ARGV[2],
           'created_ms', ARGV[3], 'conversation_id', ARGV[4], 'channel', ARGV[6], 'agent', '')
redis.call('ZADD', KEYS[3], ARGV[7], id)
redis.call('ZADD', KEYS[4], tonumber(ARGV[3]), id)
redis.call('SET', KEYS[1], id)
return {id, 1}
"""

# KEYS: ticket hash, queue, open set, conversation key
# ARGV: ticket id, allowed states (comma list), required holder ('' = anyone),
#       new state, new agent ('' = keep), now ms, then field/value pairs to set
_TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {'missing', ''} end
local holder = redis.call('HGET', KEYS[1], 'agent') or ''
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do if s == state then allowed = true end end
if not allowed then return {'state', state} end
if ARGV[3] ~= '' and holder ~= ARGV[3] then return {'holder', holder} end
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'updated_ms', ARGV[6])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'agent', ARGV[5]) end
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[4] ~= 'queued' then redis.call('ZREM', KEYS[2], ARGV[1]) end
if ARGV[4] == 'bot' or ARGV[4] == 'resolved' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  if redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('DEL', KEYS[4]) end
end
return {'ok', holder}
"""


class StoreError(Exception):
    """A ticket operation that cannot be done, with an HTTP-friendly code.

    Attributes:
        status: HTTP status the service answers with.
        code: short English error code.
    """

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.status, self.code, self.detail = status, code, detail


@dataclass(frozen=True)
class Event:
    """One entry of a ticket's event stream (a transcript line, note or state change).

    Attributes:
        id: the Redis stream id; the message id used for de-duplication.
        ticket_id: the ticket it belongs to.
        type: ``message``, ``note``, ``state`` or ``system``.
        role: ``customer``, ``bot``, ``agent`` or ``system``.
        text: what was said (customer text is stored exactly as received).
        agent: the agent's username, when an agent wrote it.
        ts: seconds since the epoch.
        data: anything else (new state, transfer target, channel message id).
    """

    id: str
    ticket_id: str
    type: str
    role: str
    text: str
    agent: str
    ts: float
    data: Dict[str, Any]

    def as_dict(self) -> Dict[str, Any]:
        return {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "type": self.type,
            "role": self.role,
            "text": self.text,
            "agent": self.agent,
            "ts": self.ts,
            "data": self.data,
        }


def now_ms() -> int:
    return int(time.time() * 1000)


def _ticket_key(ticket_id: str) -> str:
    return f"{PREFIX}ticket:{ticket_id}"


def _events_key(ticket_id: str) -> str:
    return f"{PREFIX}events:{ticket_id}"


def _conv_key(conversation_id: str) -> str:
    return f"{PREFIX}conv:{conversation_id}"


def _event_from_entry(ticket_id: str, entry_id: str, fields: Dict[str, str]) -> Event:
    return Event(
        id=entry_id,
        ticket_id=ticket_id,
        type=fields.get("type", "message"),
        role=fields.get("role", "system"),
        text=fields.get("text", ""),
        agent=fields.get("agent", ""),
        ts=float(fields.get("ts", "0") or 0),
        data=json.loads(fields.get("data") or "{}"),
    )

# One failed sign-in, atomically across service processes. KEYS: failure counter,
# lock. ARGV: failures allowed, window s, first lock s, longest lock s. Returns
# the lock just set in seconds (0: none). Each failure past the limit doubles the
# lock; the counter outlives the lock, so the next failure after it doubles again.
_LOGIN_FAILURE = """
local count = redis.call('INCR', KEYS[1])
local allowed, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local lock = 0
if count >= allowed then
  lock = math.floor(math.min(tonumber(ARGV[3]) * 2 ^ (count - allowed), tonumber(ARGV[4])))
  if lock > 0 then redis.call('SET', KEYS[2], count, 'EX', lock) end
end
redis.call('EXPIRE', KEYS[1], window + lock)
return lock
"""


# Set the idle time of relay entries a consumer holds: XCLAIM to itself with IDLE (0 to
# renew what it works on, the reclaim time to hand an entry to the next reclaim pass;
# JUSTID: no delivery counted), only while it still owns them, so a relay that stalled
# past the reclaim time never takes an entry back from its new owner.
# KEYS: the stream. ARGV: group, consumer, idle ms, entry ids. Returns how many it held.
_TOUCH_OUTBOUND = """
local held = 0
for i = 4, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if pending[1] and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    held = held + 1
  end
end
return held
"""


@dataclass(frozen=True)
class PendingEntry:
    """An entry of ``handoff:outbound`` read by a relay but not acknowledged yet.

    Attributes:
        entry_id: the stream id.
        consumer: the relay that holds it.
        idle_ms: time since it was delivered or last renewed.
        deliveries: how often it was read or taken over.
    """

    entry_id: str
    consumer: str
    idle_ms: int
    deliveries: int

class HandoffStore:
    """Async access to every ``handoff:`` key in Redis.

    Args:
        redis_url: the Redis server; connections retry with backoff, so a Redis
            restart delays operations instead of failing them.
    """

    def __init__(self, redis_url: str, closed_ticket_ttl_seconds: Optional[int] = None) -> None:
        self.redis_url = redis_url
        self.closed_ticket_ttl_seconds = closed_ticket_ttl_seconds or ticket_retention_seconds()
        self.redis: aioredis.Redis = aioredis.Redis.from_url(
            redis_url,
            decode_responses=True,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 30),
            retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionResetError],
            health_check_interval=5,
        )
        self._create = self.redis.register_script(_CREATE)
        self._transition = self.redis.register_script(_TRANSITION)
        self._login_failure = self.redis.register_script(_LOGIN_FAILURE)
        self._touch_outbound = self.redis.register_script(_TOUCH_OUTBOUND)

    async def close(self) -> None:
        await self.redis.close()
        await self.redis.connection_pool.disconnect()

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # ------------------------------------------------------------------ tickets
    async def create_ticket(self, payload: Dict[str, Any]) -> Tuple[Dict[str, Any], bool]:
        """Open a ticket for a conversation, or return the one already open.

        Args:
            payload: validated ticket JSON (see PROTOCOL.md); needs
                ``conversation_id``, ``channel`` and ``priority``.

        Returns:
            (ticket, created): created is False when the conversation already had one.
        """
        created_ms = now_ms()
        result = await self._create(
            keys=[_conv_key(payload["conversation_id"]), SEQ, QUEUE, OPEN],
            args=[
                json.dumps(payload, ensure_ascii=False),
                int(payload["priority"]),
                created_ms,
                payload["conversation_id"],
                PREFIX + "ticket:",
                payload.get("channel", ""),
                int(payload["priority"]) * _PRIORITY_WEIGHT + created_ms,
            ],
        )
        ticket_id, created = result[0], bool(int(result[1]))
        ticket = await self.get_ticket(ticket_id)
        assert ticket is not None
        if created:
            await self.publish(ticket_id, "ticket_created", {"ticket": self.summary(ticket)})
        return ticket, created

    async def get_ticket(self, ticket_id: str) -> Optional[Dict[str, Any]]:
        """The ticket with its creation data and live fields, or None."""
        if not TICKET_ID.match(ticket_id or ""):
            return None
        raw = await self.redis.hgetall(_ticket_key(ticket_id))
        if not raw:
            return None
        ticket: Dict[str, Any] = json.loads(raw.pop("data", "{}"))
        ticket.update(
            ticket_id=ticket_id,
            state=raw.get("state", QUEUED),
            priority=int(raw.get("priority", 3)),
            created_ms=int(raw.get("created_ms", 0)),
            agent=raw.get("agent", ""),
            claimed_ms=int(raw["claimed_ms"]) if raw.get("claimed_ms") else None,
            closed_ms=int(raw["closed_ms"]) if raw.get("closed_ms") else None,
            rating=int(raw["rating"]) if raw.get("rating") else None,
            rating_comment=raw.get("rating_comment") or None,
        )
        return ticket

    async def require_ticket(self, ticket_id: str) -> Dict[str, Any]:
        """Like :meth:`get_ticket` but raises a 404 StoreError when unknown."""
        ticket = await self.get_ticket(ticket_id)
        if ticket is None:
            raise StoreError(404, "unknown_ticket", ticket_id)
        return ticket

    async def open_ticket_id(self, conversation_id: str) -> Optional[str]:
        """Id of the conversation's open ticket, or None."""
        value = await self.redis.get(_conv_key(conversation_id))
        return str(value) if value else None

    async def open_ticket(self, conversation_id: str) -> Optional[Dict[str, Any]]:
        ticket_id = await self.open_ticket_id(conversation_id)
        return await self.get_ticket(ticket_id) if ticket_id else None

    @staticmethod
    def summary(ticket: Dict[str, Any]) -> Dict[str, Any]:
        """The fields the queue view needs (no transcript)."""
        keys = (
            "ticket_id", "conversation_id", "channel", "customer_display", "reasons", "priority",
            "state", "agent", "created_ms", "claimed_ms", "summary_ar", "closed_ms",
        )
        return {key: ticket.get(key) for key in keys}

    async def queue(self) -> List[Dict[str, Any]]:
        """Waiting tickets, most urgent first, then longest waiting."""
        ids = await self.redis.zrange(QUEUE, 0, -1)
        return await self._summaries(ids)

    async def open_tickets(self) -> List[Dict[str, Any]]:
        """Every open ticket (waiting or with an agent), oldest first."""
        ids = await self.redis.zrange(OPEN, 0, -1)
        return await self._summaries(ids)

    async def _summaries(self, ids: Sequence[str]) -> List[Dict[str, Any]]:
        tickets = []
        for ticket_id in ids:
            ticket = await self.get_ticket(ticket_id)
            if ticket:
                tickets.append(self.summary(ticket))
        return tickets

    async def position(self, ticket_id: str) -> Optional[int]:
        """1-based place in the queue, or None when not waiting."""
        rank = await self.redis.zrank(QUEUE, ticket_id)
        return None if rank is None else int(rank) + 1

    async def transition(
        self,
        ticket_id: str,
        *,
        allowed: Sequence[str],
        new_state: str,
        holder: str = "",
        new_agent: str = "",
        fields: Optional[Dict[str, Any]] = None,
    ) -> str:
        """Change a ticket's state atomically.

        Args:
            ticket_id: the ticket.
            allowed: states it must be in.
            new_state: the state it goes to.
            holder: when set, the agent who must hold it.
            new_agent: when set, the agent who holds it afterwards.
            fields: other hash fields to set.

        Returns:
            The agent who held it before.

        Raises:
            StoreError: 404 unknown ticket, 409 wrong state, 403 held by someone else.
        """
        if not TICKET_ID.match(ticket_id or ""):
            raise StoreError(404, "unknown_ticket", ticket_id)
        conversation_id = await self.redis.hget(_ticket_key(ticket_id), "conversation_id") or ""
        args: List[Any] = [ticket_id, ",".join(allowed), holder, new_state, new_agent, now_ms()]
        for key, value in (fields or {}).items():
            args += [key, "" if value is None else value]
        outcome, detail = await self._transition(
            keys=[_ticket_key(ticket_id), QUEUE, OPEN, _conv_key(conversation_id)], args=args
        )
        if outcome == "missing":
            raise StoreError(404, "unknown_ticket", ticket_id)
        if outcome == "state":
            raise StoreError(409, "wrong_state", detail)
        if outcome == "holder":
            raise StoreError(403, "not_your_ticket", detail)
        return str(detail)

    async def expire_closed(self, ticket_id: str) -> None:
        """Start the retention clock of a closed ticket: its hash and event stream expire.

        Called after the closing event is stored, so the stream exists; later events
        (a rating) keep the expiry, since XADD and HSET do not clear a key's TTL.
        """
        ttl = self.closed_ticket_ttl_seconds
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.expire(_ticket_key(ticket_id), ttl)
            pipe.expire(_events_key(ticket_id), ttl)
            await pipe.execute()

    async def claim(self, ticket_id: str, agent: str) -> Dict[str, Any]:
        """Give a waiting ticket to ``agent``; exactly one of concurrent claims wins."""
        await self.transition(
            ticket_id, allowed=[QUEUED], new_state=WITH_AGENT, new_agent=agent, fields={"claimed_ms": now_ms()}
        )
        await self.add_event(ticket_id, "state", "system", "", agent=agent, data={"state": WITH_AGENT})
        return await self.require_ticket(ticket_id)

    async def set_rating(self, ticket_id: str, rating: int, comment: Optional[str]) -> None:
        """Store the customer's 1-5 rating and optional comment with the ticket."""
        await self.require_ticket(ticket_id)
        await self.redis.hset(
            _ticket_key(ticket_id), mapping={"rating": rating, "rating_comment": comment or "", "rated_ms": now_ms()}
        )
        await self.add_event(ticket_id, "rating", "customer", comment or "", data={"rating": rating})

    # ------------------------------------------------------------------- events
    async def add_event(
        self,
        ticket_id: str,
        type_: str,
        role: str,
        text: str,
        *,
        agent: str = "",
        data: Optional[Dict[str, Any]] = None,
        publish: bool = True,
    ) -> Event:
        """Persist one event in the ticket's stream and tell the consoles.

        Returns:
            The stored event with its stream id.
        """
        fields = {
            "type": type_,
            "role": role,
            "text": text,
            "agent": agent,
            "ts": f"{time.time():.3f}",
            "data": json.dumps(data or {}, ensure_ascii=False),
        }
        entry_id = await self.redis.xadd(_events_key(ticket_id), fields)
        event = _event_from_entry(ticket_id, entry_id, fields)
        if publish:
            await self.publish(ticket_id, "event", {"event": event.as_dict()})
        return event

    async def events(self, ticket_id: str, after: str = "-") -> List[Event]:
        """The ticket's events in order (after a stream id, exclusive, when given)."""
        start = f"({after}" if after not in ("-", "") else "-"
        entries = await self.redis.xrange(_events_key(ticket_id), min=start, max="+")
        return [_event_from_entry(ticket_id, entry_id, fields) for entry_id, fields in entries]

    async def claim_message_id(self, ticket_id: str, message_id: str) -> bool:
        """Remember a channel's message id; False when it was stored before (a retry)."""
        key = f"{PREFIX}dedupe:{ticket_id}:{message_id}"
        return bool(await self.redis.set(key, "1", nx=True, ex=7 * 24 * 3600))

    # --------------------------------------------------------------------- feed
    async def publish(self, ticket_id: str, kind: str, payload: Dict[str, Any]) -> str:
        """Append to the feed every console follows; returns the feed id."""
        body = json.dumps({"kind": kind, "ticket_id": ticket_id, **payload}, ensure_ascii=False)
        return str(await self.redis.xadd(FEED, {"body": body}, maxlen=FEED_MAXLEN, approximate=True))

    async def read_feed(self, after: str, block_ms: int = 15000, count: int = 200) -> List[Tuple[str, Dict[str, Any]]]:
        """Feed entries after ``after`` (a feed id, or ``$`` for only new ones)."""
        result = await self.redis.xread({FEED: after}, block=block_ms, count=count)
        entries: List[Tuple[str, Dict[str, Any]]] = []
        for _stream, items in result or []:
            for entry_id, fields in items:
                entries.append((entry_id, json.loads(fields["body"])))
        return entries

    async def feed_last_id(self) -> str:
        info = await self.redis.xrevrange(FEED, count=1)
        return str(info[0][0]) if info else "0-0"

    # ----------------------------------------------------------------- outbound
    async def push_outbound(self, ticket: Dict[str, Any], kind: str, text: str = "", **extra: Any) -> Dict[str, Any]:
        """Queue a message for the customer; the relay delivers it at least once.

        Returns:
            The OutboundMessage (see PROTOCOL.md).
        """
        message = {
            "id": extra.pop("id", None) or uuid.uuid4().hex,
            "ticket_id": ticket["ticket_id"],
            "conversation_id": ticket["conversation_id"],
            "channel": ticket.get("channel", ""),
            "kind": kind,
            "text": text,
            "ts": time.time(),
            **extra,
        }
        await self.redis.xadd(
            OUTBOUND, {"id": message["id"], "body": json.dumps(message, ensure_ascii=False)},
            maxlen=OUTBOUND_MAXLEN, approximate=True,
        )
        return message

    async def read_inbox(self, consumer: str, block_ms: int = 5000, pending: bool = False) -> List[Tuple[str, Dict[str, str]]]:
        """Tickets the action server queued while the HTTP API was unreachable
        (:mod:`handoff.contract`): this consumer's unacknowledged ones when ``pending``."""
        try:
            await self.redis.xgroup_create(INBOX, INBOX_GROUP, id="0", mkstream=True)
        except Exception as error:  # noqa: BLE001 - BUSYGROUP means it exists already
            if "BUSYGROUP" not in str(error):
                raise
        result = await self.redis.xreadgroup(INBOX_GROUP, consumer, {INBOX: "0" if pending else ">"}, count=50, block=None if pending else block_ms)
        return [(entry_id, fields) for _stream, items in result or [] for entry_id, fields in items if fields]

    async def ack_inbox(self, entry_id: str) -> None:
        await self.redis.xack(INBOX, INBOX_GROUP, entry_id)
        await self.redis.xdel(INBOX, entry_id)

    async def ensure_relay_group(self) -> None:
        """Create the relay's consumer group (and the stream) when missing."""
        try:
            await self.redis.xgroup_create(OUTBOUND, RELAY_GROUP, id="0", mkstream=True)
        except Exception as error:  # noqa: BLE001 - BUSYGROUP means it exists already
            if "BUSYGROUP" not in str(error):
                raise

    async def read_outbound(
        self, consumer: str, block_ms: int = 5000, count: int = 50, pending: bool = False
    ) -> List[Tuple[str, Dict[str, Any]]]:
        """Entries for this relay consumer: its unacknowledged ones when ``pending``, else new ones."""
        result = await self.redis.xreadgroup(
            RELAY_GROUP, consumer, {OUTBOUND: "0" if pending else ">"}, count=count,
            block=None if pending else block_ms,
        )
        entries = []
        for _stream, items in result or []:
            for entry_id, fields in items:
                if fields and "body" in fields:
                    entries.append((entry_id, json.loads(fields["body"])))
        return entries

    async def reclaim_outbound(self, consumer: str, min_idle_ms: int, count: int = 50) -> List[Tuple[str, Dict[str, Any]]]:
        """Take over entries read but not acknowledged for ``min_idle_ms`` (a relay died or failed)."""
        result = await self.redis.xautoclaim(OUTBOUND, RELAY_GROUP, consumer, min_idle_ms, start_id="0-0", count=count)
        entries = []
        for entry_id, fields in result[1] if len(result) > 1 else []:
            if fields and "body" in fields:
                entries.append((entry_id, json.loads(fields["body"])))
            elif entry_id:
                await self.ack_outbound(entry_id)  # trimmed away: nothing left to deliver
        return entries

    async def pending_outbound(self, first: str = "-", last: str = "+", count: int = 1000) -> List[PendingEntry]:
        """Entries from ``first`` to ``last`` (``(id`` excludes it) that a relay read and has
        not acknowledged, oldest first."""
        rows = await self.redis.xpending_range(OUTBOUND, RELAY_GROUP, min=first, max=last, count=count)
        return [
            PendingEntry(str(row["message_id"]), str(row["consumer"]), int(row["time_since_delivered"]), int(row["times_delivered"]))
            for row in rows
        ]

    async def outbound_messages(self, entry_ids: Sequence[str]) -> Dict[str, Dict[str, Any]]:
        """The messages of these entries (trimmed ones are missing from the answer)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for entry_id in entry_ids:
                pipe.xrange(OUTBOUND, min=entry_id, max=entry_id)
            found = await pipe.execute()
        return {
            entry_id: json.loads(items[0][1]["body"])
            for entry_id, items in zip(entry_ids, found, strict=True)
            if items and items[0][1] and "body" in items[0][1]
        }

    async def touch_outbound(self, consumer: str, entry_ids: Sequence[str], idle_ms: int = 0) -> int:
        """Set the idle time of the entries ``consumer`` still holds: 0 renews them (it works
        on them: no relay reclaims them), the reclaim time leaves them to the next reclaim
        pass (a retry). Returns how many it still held."""
        if not entry_ids:
            return 0
        return int(await self._touch_outbound(keys=[OUTBOUND], args=[RELAY_GROUP, consumer, idle_ms, *entry_ids]))

    async def was_relayed(self, message_id: str) -> bool:
        """True when a control message (return, resolve) was already carried out."""
        return bool(await self.redis.exists(f"{PREFIX}relayed:{message_id}"))

    async def mark_relayed(self, message_id: str) -> None:
        await self.redis.set(f"{PREFIX}relayed:{message_id}", "1", ex=7 * 24 * 3600)

    async def ack_outbound(self, entry_id: str) -> None:
        await self.redis.xack(OUTBOUND, RELAY_GROUP, entry_id)

    async def push_outbox(self, channel: str, sender_id: str, message: Dict[str, Any]) -> None:
        """Keep a delivery for a channel that cannot push (REST: the next reply carries it)."""
        key = f"{PREFIX}outbox:{channel}:{sender_id}"
        await self.redis.rpush(key, json.dumps(message, ensure_ascii=False))
        await self.redis.expire(key, 7 * 24 * 3600)

    async def pop_outbox(self, channel: str, sender_id: str) -> List[Dict[str, Any]]:
        """Take every delivery waiting for this sender (atomically)."""
        raw = await self.redis.lpop(f"{PREFIX}outbox:{channel}:{sender_id}", 1000)
        return [json.loads(item) for item in raw or []]

    # ------------------------------------------------------------------- agents
    async def heartbeat(self, agent: str) -> None:
        await self.redis.zadd(ONLINE, {agent: now_ms()})

    async def agents_on_duty(self, within_seconds: int) -> List[str]:
        """Agents whose console was heard from in the last ``within_seconds``."""
        since = now_ms() - within_seconds * 1000
        return list(await self.redis.zrangebyscore(ONLINE, since, "+inf"))

    async def save_account(self, username: str, record: Dict[str, str]) -> None:
        await self.redis.hset(f"{PREFIX}account:{username}", mapping=record)
        await self.redis.sadd(ACCOUNTS, username)

    async def get_account(self, username: str) -> Optional[Dict[str, str]]:
        record = await self.redis.hgetall(f"{PREFIX}account:{username}")
        return dict(record) if record else None

    async def delete_account(self, username: str) -> bool:
        await self.redis.srem(ACCOUNTS, username)
        return bool(await self.redis.delete(f"{PREFIX}account:{username}"))

    async def list_accounts(self) -> List[Dict[str, str]]:
        names = sorted(await self.redis.smembers(ACCOUNTS))
        accounts = []
        for name in names:
            record = await self.get_account(name)
            if record:
                accounts.append({"username": name, "role": record.get("role", ""), "name": record.get("name", "")})
        return accounts

    async def save_session(self, token_hash: str, record: Dict[str, str], ttl_seconds: int) -> None:
        key = f"{PREFIX}session:{token_hash}"
        await self.redis.hset(key, mapping=record)
        await self.redis.expire(key, ttl_seconds)

    async def get_session(self, token_hash: str) -> Optional[Dict[str, str]]:
        record = await self.redis.hgetall(f"{PREFIX}session:{token_hash}")
        return dict(record) if record else None

    async def delete_session(self, token_hash: str) -> None:
        await self.redis.delete(f"{PREFIX}session:{token_hash}")

    # ------------------------------------------------------- sign-in throttle
    async def login_locked_for(self, scope: str, key: str) -> int:
        """Seconds until sign-ins of ``key`` (a hashed username or address) are allowed again; 0 now."""
        remaining_ms = await self.redis.pttl(f"{PREFIX}login:lock:{scope}:{key}")
        return max(0, -(-remaining_ms // 1000))

    async def record_login_failure(self, scope: str, key: str, allowed: int, window_s: int, lock_s: int, max_lock_s: int) -> int:
        """Count a failed sign-in; returns the lock it started in seconds (0 when none)."""
        keys = [f"{PREFIX}login:failures:{scope}:{key}", f"{PREFIX}login:lock:{scope}:{key}"]
        return int(await self._login_failure(keys=keys, args=[allowed, window_s, lock_s, max_lock_s]))

    async def clear_login_failures(self, scope: str, key: str) -> None:
        await self.redis.delete(f"{PREFIX}login:failures:{scope}:{key}", f"{PREFIX}login:lock:{scope}:{key}")
