"""Tickets (outage reports, technician visits, handoffs) stored in Redis.

A ticket is one JSON document under ``<prefix>:<id>``, with two indexes so the
assistant can find a customer's tickets again: a list per conversation and a
sorted set (by creation time) per account. Redis runs with append-only
persistence (see scripts/redis_server.py), so tickets survive restarts.

Demo tickets from the knowledge files can be read like stored ones; changing
one writes a stored copy, which from then on wins over the demo.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from typing import Any, Callable, Dict, Iterable, List, Mapping

import redis

from actions import settings
from actions.knowledge_base import load_knowledge_base
from bot.nlu.arabic_text import fold_digits

TICKET_PREFIX = "T-"
_SIX_DIGITS = re.compile(r"(?<!\d)(\d{6})(?!\d)")
# Statuses after which a ticket no longer needs anything from anyone.
FINISHED = frozenset({"resolved", "closed", "cancelled"})


def canonical_ticket_id(value: Any) -> str | None:
    """The canonical ticket id (``T-123456``) in what the customer typed.

    Accepts ``T-123456``, ``t123456``, ``T 123456`` and bare ``123456`` in any
    digit script, alone or inside a sentence; a list uses its first item.

    Returns:
        ``T-`` plus the six digits, or ``None`` when there is no single
        six-digit number (five or seven digits are not guessed at).
    """
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    if value is None:
        return None
    runs = _SIX_DIGITS.findall(fold_digits(str(value)))
    digit_runs = re.findall(r"\d+", fold_digits(str(value)))
    if len(runs) != 1 or len(digit_runs) != 1:
        return None
    return TICKET_PREFIX + runs[0]


@dataclass
class Ticket:
    """A customer request the organisation tracks.

    Attributes:
        id: ``T-`` and six digits.
        kind: ``outage``, ``appointment``, ``handoff``, ``complaint`` …
        status: ``open``, ``in_progress``, ``scheduled``, ``rescheduled``,
            ``resolved``, ``closed``.
        created_at: ISO 8601 local time of creation.
        updated_at: ISO 8601 local time of the last change.
        service: service id, when the request concerns one.
        district: district as the customer typed it.
        city: city id or name.
        account: account number.
        conversation_id: the Rasa sender id, so a colleague can read the chat.
        reason: why a handoff was asked for (the intent behind it).
        reasons: escalation reasons of a handoff (escalation.yml), most urgent first.
        date: visit date, ISO ``YYYY-MM-DD``.
        window: visit time-window id.
        priority: ``urgent`` for essential services, else ``normal``; handoffs take
            the priority names of escalation.yml (urgent, high, normal).
        summary: the customer's latest messages, for the colleague who calls.
        demo: True for tickets read from the knowledge files.
    """

    id: str
    kind: str
    status: str = "open"
    created_at: str | None = None
    updated_at: str | None = None
    service: str | None = None
    district: str | None = None
    city: str | None = None
    account: str | None = None
    conversation_id: str | None = None
    reason: str | None = None
    reasons: List[str] = field(default_factory=list)
    date: str | None = None
    window: str | None = None
    priority: str | None = None
    summary: List[str] = field(default_factory=list)
    demo: bool = False

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], demo: bool = False) -> Ticket:
        """A ticket from stored data, ignoring fields this version does not know."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("account", "date", "created_at", "updated_at"):
            if values.get(key) is not None:
                values[key] = str(values[key])
        values["demo"] = demo or bool(values.get("demo", False))
        return cls(**values)

    def to_dict(self) -> Dict[str, Any]:
        """The ticket as JSON-ready data."""
        return asdict(self)

    @property
    def finished(self) -> bool:
        """Whether nothing is pending on this ticket any more."""
        return self.status in FINISHED


class TicketStore:
    """Create, read and update tickets in Redis.

    Args:
        client: a redis-py client (``decode_responses=True``).
        demo_tickets: read-only tickets from the knowledge files.
        prefix: prefix of every Redis key this store writes.
        clock: returns the current local time (tests pass a fixed one).
        rng: source of ticket numbers.
    """

    def __init__(
        self,
        client: redis.Redis,
        demo_tickets: Iterable[Mapping[str, Any]] = (),
        prefix: str = "tickets",
        clock: Callable[[], datetime] | None = None,
        rng: random.Random | None = None,
        retention_s: int = 365 * 86400,
    ) -> None:
        self.client = client
        self.prefix = prefix
        # every key expires this long after the ticket's last change (RETENTION_DAYS_TICKETS)
        self.retention_s = retention_s
        # Looked up at call time so the configured time zone is always honoured.
        self.clock = clock or (lambda: settings.now())
        # SystemRandom: worker processes forked from one parent must not draw
        # the same sequence of ticket numbers.
        self.rng = rng or random.SystemRandom()
        self._demo = {t["id"]: Ticket.from_dict(t, demo=True) for t in demo_tickets}

    @classmethod
    def from_url(cls, url: str, timeout_s: float = 2.0, **kwargs: Any) -> TicketStore:
        """A store on the Redis server at ``url``."""
        client = redis.Redis.from_url(
            url, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        return cls(client, **kwargs)

    # ------------------------------------------------------------------ keys
    def _key(self, ticket_id: str) -> str:
        return f"{self.prefix}:{ticket_id}"

    def _conversation_key(self, conversation_id: str) -> str:
        return f"{self.prefix}:by-conversation:{conversation_id}"

    def _account_key(self, account: str) -> str:
        return f"{self.prefix}:by-account:{account}"

    def _stamp(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    # ------------------------------------------------------------------ API
    def create(self, kind: str, *, status: str = "open", conversation_id: str | None = None, **details: Any) -> Ticket:
        """Store a new ticket with a fresh ``T-`` number.

        Args:
            kind: what the ticket is about (outage, appointment, handoff …).
            status: its first status.
            conversation_id: the conversation that created it.
            **details: any other :class:`Ticket` field (service, district …).

        Returns:
            The stored ticket.

        Raises:
            redis.RedisError: Redis is unreachable (callers apologise).
            RuntimeError: no free number was found (practically impossible).
        """
        stamp = self._stamp()
        for _ in range(50):
            ticket_id = f"{TICKET_PREFIX}{self.rng.randrange(10**6):06d}"
            if ticket_id in self._demo:
                continue
            ticket = Ticket(
                id=ticket_id,
                kind=kind,
                status=status,
                created_at=stamp,
                updated_at=stamp,
                conversation_id=conversation_id,
                **details,
            )
            # NX makes the number ours even when two workers draw it at once.
            if self.client.set(self._key(ticket_id), json.dumps(ticket.to_dict(), ensure_ascii=False), nx=True, ex=self.retention_s):
                self._index(ticket)
                return ticket
        raise RuntimeError("no free ticket number after 50 tries")

    def get(self, ticket_id: Any) -> Ticket | None:
        """The ticket with this id (stored first, then demo), or ``None``."""
        canonical = canonical_ticket_id(ticket_id)
        if not canonical:
            return None
        raw = self.client.get(self._key(canonical))
        if raw:
            return Ticket.from_dict(json.loads(raw))
        return self._demo.get(canonical)

    def update(self, ticket_id: str, **changes: Any) -> Ticket:
        """Change fields of a ticket and stamp ``updated_at``.

        A demo ticket is copied into Redis on its first change.

        Raises:
            KeyError: no such ticket.
        """
        ticket = self.get(ticket_id)
        if ticket is None:
            raise KeyError(ticket_id)
        was_demo = ticket.demo
        data = ticket.to_dict()
        data.update(changes)
        data["updated_at"] = self._stamp()
        data["demo"] = False
        updated = Ticket.from_dict(data)
        self.client.set(self._key(updated.id), json.dumps(updated.to_dict(), ensure_ascii=False), ex=self.retention_s)
        self._index(updated, add=was_demo)
        return updated

    def for_conversation(self, conversation_id: str) -> List[Ticket]:
        """The tickets a conversation created, oldest first."""
        ids = self.client.lrange(self._conversation_key(conversation_id), 0, -1)
        return [t for t in (self.get(i) for i in ids) if t]

    def latest_for_account(self, account: str, kind: str | None = None, active_only: bool = True) -> Ticket | None:
        """The account's newest ticket (of a kind), stored or demo.

        Args:
            account: the account number.
            kind: only tickets of this kind.
            active_only: skip resolved, closed and cancelled tickets.
        """
        ids = set(self.client.zrange(self._account_key(account), 0, -1))
        ids.update(t.id for t in self._demo.values() if t.account == account)
        candidates = [t for t in (self.get(i) for i in ids) if t]
        candidates = [
            t for t in candidates if (kind is None or t.kind == kind) and not (active_only and t.finished)
        ]
        candidates.sort(key=lambda t: t.created_at or "", reverse=True)
        return candidates[0] if candidates else None

    def _index(self, ticket: Ticket, add: bool = True) -> None:
        """Index a ticket (``add``) and keep its indexes alive as long as the ticket."""
        pipe = self.client.pipeline()
        if ticket.conversation_id:
            if add:
                pipe.rpush(self._conversation_key(ticket.conversation_id), ticket.id)
            pipe.expire(self._conversation_key(ticket.conversation_id), self.retention_s)
        if ticket.account:
            if add:
                created = ticket.created_at or self._stamp()
                pipe.zadd(self._account_key(ticket.account), {ticket.id: datetime.fromisoformat(created).timestamp()})
            pipe.expire(self._account_key(ticket.account), self.retention_s)
        pipe.execute()


@lru_cache(maxsize=8)
def _store(url: str, prefix: str, timeout_s: float, knowledge_dir: str, retention_s: int) -> TicketStore:
    kb = load_knowledge_base(knowledge_dir)
    return TicketStore.from_url(url, timeout_s=timeout_s, demo_tickets=kb.demo_tickets, prefix=prefix, retention_s=retention_s)


def get_ticket_store() -> TicketStore:
    """The ticket store for the configured Redis (one client per process and URL)."""
    config = settings.get_settings()
    return _store(config.redis_url, config.ticket_key_prefix, config.redis_timeout_s, str(config.knowledge_dir), config.ticket_retention_s)
