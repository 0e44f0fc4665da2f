"""Conversation trackers in Redis at a cost per turn that does not grow with the conversation.

Rasa's ``RedisTrackerStore`` keeps a conversation as one JSON value: every turn reads
and parses all of it (twice: ``retrieve`` and again in ``save``), replays it, and
writes all of it back, and Rasa's policies featurise the whole session. A WhatsApp
conversation is the customer's phone number, so that value grows for years
(measured: 66 ms per reply at message 10, 439 ms at message 300 of one session).
This store (``endpoints.yml``: ``type: bot.tracker_store.SessionTrackerStore``)

* keeps the **current session** as a Redis list of events and **appends** only the
  new events of each save (``RPUSH``);
* loads a **window** of it: the latest ``window_turns`` customer turns after a
  snapshot of the state where they begin (``bot/tracker_window.py``);
* moves a finished session to an **archive** list of its own, which expires
  ``record_exp`` seconds after its last event, like the conversation itself;
  ``retrieve_full_tracker`` (Rasa's HTTP API, ``GET /conversations/<id>/tracker``,
  read by the trainer workbench) returns the archives and the whole current session;
* converts a conversation Rasa's ``RedisTrackerStore`` wrote (one JSON string under
  the same key) the first time it is read or written.

Keys (``key_prefix: tracker``; ``<id>`` is the conversation id)::

    tracker:tracker:<id>      hash: format, session number, window start, snapshot,
                              events stored, last event. Rasa's own key name, so the
                              workbench finds conversations as before (a SCAN of names)
    tracker:session:<id>      list: the current session's events (JSON), oldest first
    tracker:archives:<id>     sorted set: archived session numbers, scored by expiry time
    tracker:archive:<id>:<n>  list: the events of archived session n

Writes are one MULTI/EXEC under WATCH of the hash (Rasa's lock store already keeps
two workers apart; the WATCH keeps the keys consistent if something else writes).
Reads of the window are one Lua script, so they see one consistent state. Redis 6.2
is enough (no Redis 7 command).
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Type, Union
from urllib.parse import urlparse

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.constants import SESSION_START_METADATA_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses
from redis import asyncio as aioredis
from redis.exceptions import ResponseError, WatchError

from bot import fast_json
from bot.channels.redis_client import get_redis
from bot.tracker_window import slide_window, split_sessions

logger = logging.getLogger(__name__)

FORMAT_VERSION = "1"
# Customer turns a loaded tracker keeps after its snapshot: beyond the history the
# policies featurise (max_history 5). The 330 evaluation conversations played as three
# long sessions: every action and policy predicted on 10-turn windows is the whole
# session's (bench/windowed_predictions.py; a few differ in the 4th decimal of
# conversation_frustration, carried over in a rounded slot). 10 rather than 20: the
# featurisation of the window is part of every turn's cost, and with 10 the 300th
# message of a conversation costs no more than the 10th (bench/long_conversation.py).
DEFAULT_WINDOW_TURNS = 10
# Optimistic transactions retried this often when another writer changed the keys.
MAX_WRITE_ATTEMPTS = 5
# The attribute of a tracker this store loaded or saved: what of it is in Redis.
_STORED = "_session_tracker_store"

# Reads the current session's window in one step (TYPE first: a string is a tracker
# in Rasa's format, converted by the caller).
_LOAD_WINDOW = """
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'hash' then return {kind} end
local meta = redis.call('HGETALL', KEYS[1])
local start = 0
for i = 1, #meta, 2 do
  if meta[i] == 'window' then start = tonumber(meta[i + 1]) end
end
return {'hash', meta, redis.call('LRANGE', KEYS[2], start, -1)}
"""


class TrackerFormatError(ValueError):
    """A stored value is not a tracker this store can read; it is left untouched."""


@dataclass(frozen=True)
class TrackerKeys:
    """The Redis keys of one conversation."""

    meta: str
    session: str
    archives: str
    archive_prefix: str

    def archive(self, number: int) -> str:
        """The list of archived session ``number``."""
        return f"{self.archive_prefix}{number}"


@dataclass(frozen=True)
class StoredState:
    """The hash ``<prefix>:tracker:<id>``: what is stored of a conversation."""

    exists: bool = False
    session: int = 0
    window: int = 0
    stored: int = 0
    snapshot: str = "[]"
    last: str = ""
    last_time: Optional[float] = None

    @classmethod
    def from_hash(cls, fields: Dict[str, str]) -> StoredState:
        if not fields:
            return cls()
        if fields.get("format") != FORMAT_VERSION:
            raise TrackerFormatError(f"tracker hash of format {fields.get('format')!r}, expected {FORMAT_VERSION!r}")
        last_time = fields.get("last_time")
        return cls(
            exists=True,
            session=int(fields.get("session", 0)),
            window=int(fields.get("window", 0)),
            stored=int(fields.get("stored", 0)),
            snapshot=fields.get("snapshot", "[]"),
            last=fields.get("last", ""),
            last_time=float(last_time) if last_time else None,
        )


@dataclass
class Loaded:
    """What a tracker object holds of the stored conversation (kept on the tracker).

    Attributes:
        session: the stored session number when it was loaded or last saved.
        window: the session list index where ``window_index`` points.
        window_index: index in ``tracker.events`` of that list element.
        snapshot: the events before ``window_index`` that recreate its state.
        position: ``tracker.events[:position]`` are stored.
        marker: :func:`marker` of the last stored event ("" when none).
    """

    session: int
    window: int
    window_index: int
    snapshot: List[Event]
    position: int
    marker: str


@dataclass
class SavePlan:
    """The writes of one save.

    Attributes:
        fresh: no hash was stored: whatever else is left of the conversation (a list
            whose hash was deleted) is removed first, so no stale event comes back.
        new_events: the tracker's events that were not stored yet.
        append: new events that continue the stored current session.
        rotate: the current session ended: it is archived as ``ended`` and
            ``current`` becomes the new current session.
        ended: number, event count and last event time of the session archived
            from the current list (count 0: there is nothing to archive).
        archives: whole sessions among the new events, written as archives.
        current: the new current session's events (when ``rotate``).
        state: the hash after the save.
        loaded: what the tracker object holds of the store after the save.
    """

    fresh: bool = False
    new_events: List[Event] = field(default_factory=list)
    append: List[Event] = field(default_factory=list)
    rotate: bool = False
    ended: Tuple[int, int, Optional[float]] = (0, 0, None)
    archives: List[Tuple[int, List[Event]]] = field(default_factory=list)
    current: List[Event] = field(default_factory=list)
    state: StoredState = field(default_factory=StoredState)
    loaded: Optional[Loaded] = None


def _last_activity(events: Sequence[Event], otherwise: Optional[float]) -> Optional[float]:
    """When a session's last event happened. Rasa records the next session's start
    metadata (a slot) just before that session starts, so in the ended one; its
    retention runs from the event before."""
    for event in reversed(events):
        if not (isinstance(event, SlotSet) and event.key == SESSION_START_METADATA_SLOT):
            return event.timestamp
    return otherwise


def marker(event: Event) -> str:
    """Identifies an event within its conversation: its type and timestamp."""
    return f"{event.type_name}@{event.timestamp!r}"


@functools.lru_cache(maxsize=1)
def _event_classes() -> Dict[str, Type[Event]]:
    # Rasa's Event.resolve_by_type walks every Event subclass for every event (half
    # the time of loading a long tracker in the profile); the first match, as there
    classes: Dict[str, Type[Event]] = {}
    for cls in all_subclasses(Event):
        classes.setdefault(cls.type_name, cls)
    return classes


def decode_event(data: Union[str, Dict[str, Any]]) -> Optional[Event]:
    """An event from its stored JSON (or parsed dict); None for Rasa's skipped kinds."""
    parameters = fast_json.loads(data) if isinstance(data, str) else data
    if not isinstance(parameters, dict):
        raise TrackerFormatError(f"an event must be a JSON object, got {type(parameters).__name__}")
    cls = _event_classes().get(str(parameters.get("event")))
    if cls is None:
        return Event.from_parameters(parameters)  # raises ValueError for unknown kinds
    return cls._from_parameters(parameters)


def decode_events(items: Iterable[Union[str, Dict[str, Any]]]) -> List[Event]:
    """Events from their stored JSON, oldest first."""
    return [event for event in map(decode_event, items) if event is not None]


def encode_event(event: Event) -> str:
    """The stored JSON of an event (UTF-8 Arabic, not \\u escapes: half the bytes)."""
    return json.dumps(event.as_dict(), ensure_ascii=False)


def _positive_seconds(value: Any) -> Optional[int]:
    if value in (None, ""):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"tracker_store record_exp must be a number of seconds, got {value!r}") from error
    if seconds <= 0:
        raise ValueError(f"tracker_store record_exp must be positive, got {value!r}")
    return max(1, int(seconds))


class SessionTrackerStore(TrackerStore):
    """Rasa tracker store on Redis that appends events and loads a bounded window.

    Args:
        domain: the model's domain (Rasa sets it again when a model is loaded).
        host: the ``url`` of endpoints.yml, a ``redis://`` or ``rediss://`` URL with
            the password in it (``REDIS_URL``).
        event_broker: Rasa's event broker; new events are published to it.
        key_prefix: letters and digits; keys begin with ``<key_prefix>:``.
        record_exp: seconds a conversation (and each archived session) is kept after
            its last event; None keeps them for ever.
        window_turns: customer turns a loaded tracker keeps after its snapshot.
    """

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[str] = None,
        event_broker: Optional[EventBroker] = None,
        key_prefix: str = "tracker",
        record_exp: Optional[Union[int, float, str]] = None,
        window_turns: Union[int, str] = DEFAULT_WINDOW_TURNS,
        **kwargs: Any,
    ) -> None:
        # Rasa replaces a custom store that raises AttributeError or ImportError by an
        # in-memory one without a word: every configuration error is a ValueError.
        if kwargs:
            raise ValueError(f"tracker_store: unknown settings {sorted(kwargs)} (url, key_prefix, record_exp, window_turns)")
        url = str(host or "")
        if urlparse(url).scheme not in ("redis", "rediss"):
            raise ValueError("tracker_store url must be a redis:// or rediss:// URL (REDIS_URL)")
        if not str(key_prefix).isalnum():
            raise ValueError(f"tracker_store key_prefix must be letters and digits, got {key_prefix!r}")
        try:
            turns = int(window_turns)
        except (TypeError, ValueError) as error:
            raise ValueError(f"tracker_store window_turns must be a whole number, got {window_turns!r}") from error
        if turns < 1:
            raise ValueError(f"tracker_store window_turns must be at least 1, got {window_turns!r}")
        self.url = url
        self.key_prefix = str(key_prefix)
        self.record_exp = _positive_seconds(record_exp)
        self.window_turns = turns
        self._load_window: Optional[Any] = None  # the Lua script, registered on first use
        super().__init__(domain, event_broker)

    # ------------------------------------------------------------------ keys
    def keys_for(self, sender_id: str) -> TrackerKeys:
        """The keys of conversation ``sender_id``."""
        p = self.key_prefix
        return TrackerKeys(
            meta=f"{p}:tracker:{sender_id}",
            session=f"{p}:session:{sender_id}",
            archives=f"{p}:archives:{sender_id}",
            archive_prefix=f"{p}:archive:{sender_id}:",
        )

    def _redis(self) -> aioredis.Redis:
        return get_redis(self.url)

    async def keys(self) -> Iterable[str]:
        """Conversation ids (a SCAN of key names; no value is read)."""
        prefix = f"{self.key_prefix}:tracker:"
        return [key[len(prefix) :] async for key in self._redis().scan_iter(match=prefix + "*", count=500)]

    async def exists(self, conversation_id: str) -> bool:
        return bool(await self._redis().exists(self.keys_for(conversation_id).meta))

    # ------------------------------------------------------------------ reading
    async def retrieve(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """The current session's window: a snapshot and its latest turns."""
        keys = self.keys_for(sender_id)
        redis = self._redis()
        for _ in range(MAX_WRITE_ATTEMPTS):
            if self._load_window is None:
                self._load_window = redis.register_script(_LOAD_WINDOW)
            # EVALSHA: the script's text travels once per server, not once per turn
            reply = await self._load_window(keys=[keys.meta, keys.session], client=redis)
            kind = reply[0]
            if kind == "string":
                try:
                    await self._convert(sender_id)
                except WatchError:
                    pass  # changed while converting: read again
                continue
            if kind != "hash":
                if kind != "none":
                    raise TrackerFormatError(f"{keys.meta} is a Redis {kind}, not a tracker")
                return None
            state = StoredState.from_hash(dict(zip(reply[1][::2], reply[1][1::2], strict=True)))
            snapshot = decode_events(fast_json.loads(state.snapshot))
            events = [*snapshot, *decode_events(reply[2])]
            tracker = self._tracker(sender_id, events)
            self._remember(tracker, Loaded(state.session, state.window, len(snapshot), snapshot, len(events), state.last))
            return tracker
        raise TrackerFormatError(f"{keys.meta} could not be converted from Rasa's format")

    async def retrieve_full_tracker(self, sender_id: str) -> Optional[DialogueStateTracker]:
        """Every event kept: the archived sessions, then the whole current session."""
        keys = self.keys_for(sender_id)
        redis = self._redis()
        for _ in range(MAX_WRITE_ATTEMPTS):
            if await redis.type(keys.meta) != "string":
                break
            try:
                await self._convert(sender_id)
            except WatchError:
                continue
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys.meta)
            pipe.zrangebyscore(keys.archives, f"({time.time()}", "+inf")
            pipe.lrange(keys.session, 0, -1)
            fields, archived, current = await pipe.execute()
        if not fields:
            return None
        state = StoredState.from_hash(fields)
        numbers = sorted(int(n) for n in archived)
        async with redis.pipeline(transaction=False) as pipe:
            for number in numbers:
                pipe.lrange(keys.archive(number), 0, -1)
            archives = await pipe.execute() if numbers else []
        older = [event for items in archives for event in decode_events(items)]
        events = [*older, *decode_events(current)]
        tracker = self._tracker(sender_id, events)
        self._remember(tracker, Loaded(state.session, 0, len(older), [], len(events), state.last))
        return tracker

    def _tracker(self, sender_id: str, events: Sequence[Event]) -> DialogueStateTracker:
        tracker = self.init_tracker(sender_id)
        # what Rasa's deserialise_tracker does: the applied events replayed
        tracker.events.extend(events)
        tracker.replay_events()
        return tracker

    @staticmethod
    def _remember(tracker: DialogueStateTracker, loaded: Loaded) -> None:
        setattr(tracker, _STORED, loaded)

    # ------------------------------------------------------------------ writing
    async def save(self, tracker: DialogueStateTracker) -> None:
        """Append the tracker's new events; archive a session that has ended."""
        keys = self.keys_for(tracker.sender_id)
        for _ in range(MAX_WRITE_ATTEMPTS):
            try:
                plan = await self._save_once(tracker, keys)
            except WatchError:
                continue  # another writer came first: plan again on what it wrote
            if plan is None:
                await self._convert(tracker.sender_id)
                continue
            if plan.loaded is not None:
                self._remember(tracker, plan.loaded)
            if self.event_broker is not None and plan.new_events:
                await self._stream_new_events(self.event_broker, plan.new_events, tracker.sender_id)
            return
        raise RuntimeError(f"the tracker of {tracker.sender_id!r} changed during each of {MAX_WRITE_ATTEMPTS} attempts to save it")

    async def _save_once(self, tracker: DialogueStateTracker, keys: TrackerKeys) -> Optional[SavePlan]:
        """One optimistic transaction; None when the key holds Rasa's format."""
        async with self._redis().pipeline(transaction=True) as pipe:
            await pipe.watch(keys.meta)
            try:
                fields = await pipe.hgetall(keys.meta)
            except ResponseError as error:
                if "WRONGTYPE" not in str(error):
                    raise
                return None
            plan = self._plan(tracker, StoredState.from_hash(fields))
            pipe.multi()
            self._queue_writes(pipe, keys, plan)
            await pipe.execute()
        return plan

    def _plan(self, tracker: DialogueStateTracker, stored: StoredState) -> SavePlan:
        """Which events are new, where sessions end, and where the window goes."""
        events = list(tracker.events)
        loaded: Optional[Loaded] = getattr(tracker, _STORED, None)
        continues = self._continues(events, loaded, stored)
        diverged = False
        if not stored.last:
            # nothing stored yet (or only an empty tracker): all of it is new
            continues, loaded = 0, Loaded(stored.session, 0, 0, [], 0, "")
        elif continues is None:
            if not events:
                # an empty tracker for a conversation that has events (Rasa makes one when
                # reading failed): nothing to add, and nothing is replaced
                return SavePlan(state=stored)
            # not a continuation of what is stored (Rasa's API replacing the events): the
            # stored session is archived, so nothing is lost, and these start afresh
            logger.warning("tracker %s does not continue the stored one; its stored session is archived", tracker.sender_id)
            continues, loaded, diverged = 0, None, True
        new = events[continues:]
        parts = split_sessions(new)
        append = [] if diverged else parts[0]
        sessions = [part for part in (parts if diverged else parts[1:]) if part]
        plan = SavePlan(fresh=not stored.exists, new_events=new, append=append)
        if sessions:
            # sessions ended: the current list becomes an archive, whole sessions among
            # the new events are archived as they are, the last one is current
            ended_count = stored.stored + len(append)
            ended_time = _last_activity(append, stored.last_time)
            plan.rotate, plan.ended, plan.current = True, (stored.session, ended_count, ended_time), sessions[-1]
            plan.archives = [(stored.session + 1 + i, part) for i, part in enumerate(sessions[:-1])]
            session = stored.session + len(sessions)
            window = slide_window(tracker.sender_id, self.domain.slots, [], plan.current, self.window_turns)
            start, snapshot = (window.start, window.snapshot) if window else (0, [])
            stored_count = len(plan.current)
            window_index: Optional[int] = len(events) - len(plan.current) + start
        else:
            session, stored_count = stored.session, stored.stored + len(append)
            start, snapshot, window_index = stored.window, decode_events(fast_json.loads(stored.snapshot)), None
            if loaded is not None and loaded.session == stored.session and loaded.window <= stored.window:
                moved = slide_window(
                    tracker.sender_id, self.domain.slots, loaded.snapshot, events[loaded.window_index :], self.window_turns
                )
                if moved is not None and loaded.window + moved.start > stored.window:
                    start, snapshot = loaded.window + moved.start, moved.snapshot
                    window_index = loaded.window_index + moved.start
                else:
                    window_index = loaded.window_index + stored.window - loaded.window
        last = new[-1] if new else None
        plan.state = StoredState(
            exists=True,
            session=session,
            window=start,
            stored=stored_count,
            snapshot=json.dumps([event.as_dict() for event in snapshot], ensure_ascii=False),
            last=marker(last) if last else stored.last,
            last_time=last.timestamp if last else stored.last_time,
        )
        if window_index is not None:
            plan.loaded = Loaded(session, start, window_index, snapshot, len(events), plan.state.last)
        return plan

    @staticmethod
    def _continues(events: Sequence[Event], loaded: Optional[Loaded], stored: StoredState) -> Optional[int]:
        """How many of ``events`` are stored already, if the tracker continues the
        stored conversation; None when it does not (or nothing is stored)."""
        if not stored.last:
            return None
        if (
            loaded is not None
            and loaded.session == stored.session
            and loaded.marker == stored.last
            and 0 < loaded.position <= len(events)
            and marker(events[loaded.position - 1]) == stored.last
        ):
            return loaded.position
        # a tracker this store did not load (built from events, or an old object):
        # find the last stored event in it, newest first
        for index in range(len(events) - 1, -1, -1):
            if marker(events[index]) == stored.last:
                return index + 1
        return None

    def _queue_writes(self, pipe: Any, keys: TrackerKeys, plan: SavePlan) -> None:
        """Queue a save's commands in the MULTI of ``pipe``."""
        now = time.time()
        if plan.fresh:
            pipe.delete(keys.session, keys.archives)
        if plan.append:
            pipe.rpush(keys.session, *map(encode_event, plan.append))
        if plan.rotate:
            number, count, last_time = plan.ended
            if count:
                self._archive(pipe, keys, number, None, last_time, now)
            for archived_number, events in plan.archives:
                self._archive(pipe, keys, archived_number, events, _last_activity(events, None), now)
            pipe.rpush(keys.session, *map(encode_event, plan.current))
        state = plan.state
        pipe.hset(
            keys.meta,
            mapping={
                "format": FORMAT_VERSION,
                "session": state.session,
                "window": state.window,
                "stored": state.stored,
                "snapshot": state.snapshot,
                "last": state.last,
                "last_time": "" if state.last_time is None else repr(state.last_time),
            },
        )
        if self.record_exp:
            for key in (keys.meta, keys.session, keys.archives):
                pipe.expire(key, self.record_exp)
            pipe.zremrangebyscore(keys.archives, "-inf", now)

    def _archive(
        self, pipe: Any, keys: TrackerKeys, number: int, events: Optional[List[Event]], last_time: Optional[float], now: float
    ) -> None:
        """Queue the archiving of a session: the current list (``events`` None) is
        renamed, another session is written; one already past its retention is dropped."""
        expires = (last_time or now) + self.record_exp if self.record_exp else math.inf
        if expires <= now:
            if events is None:
                pipe.delete(keys.session)
            return
        target = keys.archive(number)
        if events is None:
            pipe.rename(keys.session, target)
        else:
            pipe.rpush(target, *map(encode_event, events))
        if math.isfinite(expires):
            pipe.pexpireat(target, int(expires * 1000))
        pipe.zadd(keys.archives, {str(number): expires if math.isfinite(expires) else "+inf"})

    # ------------------------------------------------------------------ Rasa's format
    async def _convert(self, sender_id: str) -> None:
        """Convert a tracker that Rasa's RedisTrackerStore wrote (one JSON string under
        the same key) into this store's keys, keeping its time to live.

        Raises:
            TrackerFormatError: the value is no tracker; it is left as it is.
        """
        keys = self.keys_for(sender_id)
        async with self._redis().pipeline(transaction=True) as pipe:
            await pipe.watch(keys.meta)
            if await pipe.type(keys.meta) != "string":
                return  # converted meanwhile by another worker
            raw = await pipe.get(keys.meta)
            ttl_ms = await pipe.pttl(keys.meta)
            try:
                dialogue = json.loads(raw)
                events = decode_events(dialogue["events"])
            except (ValueError, TypeError, KeyError) as error:
                raise TrackerFormatError(f"{keys.meta} holds no Rasa tracker ({error}); left as it is") from error
            legacy = self.init_tracker(sender_id)
            legacy.events.extend(events)
            plan = self._plan(legacy, StoredState())
            pipe.multi()
            pipe.delete(keys.meta)
            self._queue_writes(pipe, keys, plan)
            if ttl_ms > 0:
                for key in (keys.meta, keys.session, keys.archives):
                    pipe.pexpire(key, ttl_ms)
            await pipe.execute()
        logger.info("converted the tracker of %s from Rasa's format: %d events, %d sessions", sender_id, len(events), plan.state.session + 1)
