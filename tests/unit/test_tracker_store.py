"""SessionTrackerStore (bot/tracker_store.py) against a real Redis server.

No model: conversations are built from Rasa events with the shipped domain.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlparse

import pytest
import redis
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    ConversationPaused,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.tracker_store import SessionTrackerStore, TrackerFormatError
from bot.tracker_window import replay, split_sessions

WINDOW_TURNS = 5


@pytest.fixture(scope="module")
def domain() -> Any:
    from rasa.shared.core.domain import Domain

    from scripts.stack import ROOT

    return Domain.load(str(ROOT / "bot" / "domain"))


def store_factory(redis_url: str, domain: Any) -> Callable[..., SessionTrackerStore]:
    """Makes stores on ``redis_url`` with the test window, settings overridable."""
    def make(**settings: Any) -> SessionTrackerStore:
        return SessionTrackerStore(domain, host=redis_url, key_prefix="tracker", **{"window_turns": WINDOW_TURNS, **settings})

    return make


@pytest.fixture
def make_store(redis_url: str, domain: Any) -> Callable[..., SessionTrackerStore]:
    return store_factory(redis_url, domain)


@pytest.fixture
def client(redis_url: str) -> Any:
    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    yield connection
    connection.close()


def session_start(at: Optional[float] = None) -> List[Event]:
    return [ActionExecuted("action_session_start", timestamp=at), SessionStarted(timestamp=at), ActionExecuted("action_listen", timestamp=at)]


def faq_turn(i: int, at: Optional[float] = None) -> List[Event]:
    """One customer turn as the assistant logs it (fixed sizes: every turn weighs the same)."""
    parse = {"intent": {"name": "opening_hours", "confidence": 0.9}, "entities": [], "text": f"سؤال رقم {i:05d}"}
    return [
        UserUttered(f"سؤال رقم {i:05d}", parse["intent"], [], parse_data=parse, timestamp=at),
        SlotSet("conversation_frustration", 0.1, timestamp=at),
        ActionExecuted("action_answer_faq", timestamp=at),
        BotUttered(f"جواب رقم {i:05d}", timestamp=at),
        ActionExecuted("action_listen", timestamp=at),
    ]


async def talk(store: SessionTrackerStore, sender: str, events: List[Event]) -> DialogueStateTracker:
    """What Rasa does in a turn: load the tracker (or create it), add events, save."""
    tracker = await store.get_or_create_tracker(sender, append_action_listen=False)
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker


def dicts(events: Any) -> List[Dict[str, Any]]:
    return [event.as_dict() for event in events]


def net_bytes(client: Any) -> tuple[int, int]:
    stats = client.info("stats")
    return int(stats["total_net_input_bytes"]), int(stats["total_net_output_bytes"])


def test_round_trip_keeps_events_and_state(make_store, client) -> None:
    store = make_store()

    async def scenario() -> None:
        await talk(store, "c1", [*session_start(), *faq_turn(1), SlotSet("district", "النرجس")])
        loaded = await store.retrieve("c1")
        assert loaded is not None
        expected = [*session_start(), *faq_turn(1), SlotSet("district", "النرجس")]
        assert [e["event"] for e in dicts(loaded.events)] == [e["event"] for e in dicts(expected)]
        assert loaded.get_slot("district") == "النرجس"
        assert loaded.latest_message.text == "سؤال رقم 00001"
        assert loaded.latest_action_name == "action_listen"
        assert await store.exists("c1") and not await store.exists("nobody")
        assert await store.retrieve("nobody") is None
        assert list(await store.keys()) == ["c1"]

    asyncio.run(scenario())
    # the conversation's key keeps Rasa's name (the workbench finds it there); the
    # events are a list, Arabic stored as UTF-8
    assert client.type("tracker:tracker:c1") == "hash"
    stored = [json.loads(item) for item in client.lrange("tracker:session:c1", 0, -1)]
    assert any(e["event"] == "user" and e["text"] == "سؤال رقم 00001" for e in stored)
    assert "سؤال" in client.lindex("tracker:session:c1", 3)


def test_a_save_appends_only_the_new_events(make_store, client) -> None:
    store = make_store()

    async def scenario() -> None:
        await talk(store, "c2", session_start())
        for i in range(30):
            await talk(store, "c2", faq_turn(i))

    asyncio.run(scenario())
    before = client.lrange("tracker:session:c2", 0, -1)
    tracker = asyncio.run(store.retrieve("c2"))
    assert tracker is not None
    for event in faq_turn(99):
        tracker.update(event)
    asyncio.run(store.save(tracker))
    after = client.lrange("tracker:session:c2", 0, -1)
    assert after[: len(before)] == before
    assert [json.loads(item)["event"] for item in after[len(before) :]] == ["user", "slot", "action", "bot", "action"]
    # saving the same tracker again adds nothing
    asyncio.run(store.save(tracker))
    assert client.llen("tracker:session:c2") == len(after)


def typical(cost: Dict[int, tuple[int, int, int]], turns: range) -> tuple[int, ...]:
    """The median cost of each kind over ``turns`` (one turn's figure may carry noise)."""
    from statistics import median

    return tuple(int(median(cost[i][kind] for i in turns)) for kind in range(3))


@pytest.fixture
def module_client(module_redis: Any) -> Any:
    """A client of the module's own Redis (``module_redis``)."""
    connection = redis.Redis.from_url(module_redis.url, decode_responses=True)
    yield connection
    connection.close()


def test_work_per_turn_stays_constant_over_300_turns(module_redis, module_client, domain) -> None:
    """Bytes Redis receives and sends for one turn (load + save), and events loaded,
    around turn 300 are those around turn 30; with Rasa's RedisTrackerStore they grow.

    On a Redis of the module's own: the byte counters are server-wide, and a background
    thread of an earlier test on the session's server once added 413 bytes to one turn."""
    from rasa.core.tracker_store import RedisTrackerStore

    redis_url, client = module_redis.url, module_client
    make_store = store_factory(redis_url, domain)

    async def conversation(store: Any, sender: str, turns: int) -> Dict[int, tuple[int, int, int]]:
        await talk(store, sender, session_start())
        cost = {}
        for i in range(1, turns + 1):
            before = net_bytes(client)
            tracker = await talk(store, sender, faq_turn(i))
            after = net_bytes(client)
            cost[i] = (after[0] - before[0], after[1] - before[1], len(tracker.events) - 5)
        return cost

    ours = asyncio.run(conversation(make_store(), "long", 300))
    early, late = typical(ours, range(21, 41)), typical(ours, range(281, 301))
    written, read, loaded = late
    assert loaded == early[2] <= 1 + WINDOW_TURNS * 5 + 10  # snapshot + window, whatever the length
    assert abs(written - early[0]) <= 0.05 * early[0]
    assert abs(read - early[1]) <= 0.05 * early[1]
    assert client.llen("tracker:session:long") == 3 + 300 * 5  # all of it is kept

    parsed = urlparse(redis_url)
    rasa_store = RedisTrackerStore(make_store().domain, host=parsed.hostname, port=int(parsed.port or 6379), key_prefix="rasa")
    theirs = asyncio.run(conversation(rasa_store, "long", 100))  # 300 would take minutes
    assert typical(theirs, range(91, 101))[1] > 2.5 * typical(theirs, range(21, 41))[1], \
        "the same measurement sees a store that reads everything"
    print(f"bytes written, read per turn: ours turn 30 {ours[30][:2]}, turn 300 {ours[300][:2]}; "
          f"Rasa's RedisTrackerStore turn 30 {theirs[30][:2]}, turn 100 {theirs[100][:2]}")


def form_turns() -> List[List[Event]]:
    """A bill form opened and left open while the customer asks other things (the
    form asks again after each answer), then answered, closed, and a handoff."""
    turns = [[UserUttered("كم فاتورتي", {"name": "bill_inquiry", "confidence": 0.9}),
              ActionExecuted("bill_form"), ActiveLoop("bill_form"), SlotSet("requested_slot", "account_number"),
              BotUttered("ما رقم حسابك؟"), ActionExecuted("action_listen")]]
    for i in range(12):  # unhappy path: another action answers, then the form asks again
        turns.append([*faq_turn(100 + i)[:-1], ActionExecuted("bill_form"), BotUttered("ما رقم حسابك؟"), ActionExecuted("action_listen")])
    turns.append([UserUttered("4471203", {"name": "inform", "confidence": 0.9}),  # happy path: the form runs again
                  ActionExecuted("bill_form"), SlotSet("account_number", "4471203"), ActiveLoop(None), SlotSet("requested_slot", None),
                  ActionExecuted("action_bill_summary"), BotUttered("فاتورتك ..."), ActionExecuted("action_listen")])
    turns += [faq_turn(200 + i) for i in range(6)]
    turns.append([UserUttered("ابي موظف", {"name": "request_human", "confidence": 0.95}), ActionExecuted("action_handoff"),
                  ConversationPaused(), ActionExecuted("action_listen")])
    turns += [faq_turn(300 + i) for i in range(8)]
    return turns


def test_the_window_has_the_state_of_the_whole_session_after_every_turn(make_store, domain) -> None:
    """Slots, form, pause and the featurised states of the latest turns are those of
    the whole session replayed, turn after turn: while a form stays open for many
    turns (the window moves on inside it), after it closes, and after a handoff."""
    store = make_store()
    session = [*session_start(), SlotSet("district", "النرجس")]
    turns = [faq_turn(i) for i in range(6)] + form_turns()

    async def scenario() -> List[int]:
        sizes = []
        await talk(store, "w", session)
        for turn in turns:
            session.extend(turn)
            await talk(store, "w", turn)
            windowed = await store.retrieve("w")
            assert windowed is not None
            whole = replay("w", domain.slots, session)
            assert windowed.current_slot_values() == whole.current_slot_values()
            assert windowed.active_loop == whole.active_loop or windowed.active_loop.name == whole.active_loop.name
            assert windowed.is_paused() == whole.is_paused()
            # what Rasa applies (a form's runs folded, reverted turns dropped) is the end of
            # what it applies to the whole session
            snapshot = list(windowed.events)[: windowed._session_tracker_store.window_index]
            applied = dicts(e for e in windowed.applied_events() if not any(e is s for s in snapshot))
            assert applied == dicts(whole.applied_events())[len(dicts(whole.applied_events())) - len(applied) :]
            assert windowed.past_states(domain)[-8:] == whole.past_states(domain)[-8:]
            sizes.append(len(windowed.events))
        return sizes

    sizes = asyncio.run(scenario())
    form_open = slice(8, 19)  # turns while the bill form is open (unhappy path)
    assert max(sizes[form_open]) < len(session) / 3, "the window moves on while the form is open"
    assert max(sizes) <= 2 + WINDOW_TURNS * 8, sizes


def test_a_window_never_starts_where_the_open_form_answers_the_message() -> None:
    from bot.tracker_window import window_starts

    events = [ActionExecuted("action_listen"), UserUttered("كم فاتورتي", {"name": "bill_inquiry"}), ActionExecuted("bill_form"),
              ActiveLoop("bill_form"), ActionExecuted("action_listen"), UserUttered("متى تفتحون", {"name": "opening_hours"}),
              ActionExecuted("action_answer_faq"), ActionExecuted("bill_form"), ActionExecuted("action_listen"),
              UserUttered("4471203", {"name": "inform"}), ActionExecuted("bill_form"), ActiveLoop(None),
              ActionExecuted("action_listen"), UserUttered("شكرا", {"name": "thank"}), ActionExecuted("utter_you_are_welcome")]
    # 0: no form yet; 4: the FAQ answer comes first (Rasa's look-back stops there);
    # not 8: the form itself takes the answer (its run folds into the one before); 12: closed
    assert window_starts(events) == [0, 4, 12]


def test_ended_sessions_are_archived_and_read_in_full(make_store, client) -> None:
    store = make_store(record_exp=3600)
    now = time.time()
    first = [*session_start(now - 1800), *faq_turn(1, now - 1790)]
    second = [SlotSet("session_started_metadata", {"x": 1}, timestamp=now - 10), *session_start(now - 10), *faq_turn(2, now - 5)]

    async def scenario() -> None:
        await talk(store, "a", first)
        await talk(store, "a", second)
        current = await store.retrieve("a")
        assert current is not None
        # only the current session is loaded, as Rasa's own retrieve returns it
        assert dicts(current.events) == dicts(second[1:])
        full = await store.retrieve_full_tracker("a")
        assert full is not None
        assert dicts(full.events) == dicts([*first, *second])

    asyncio.run(scenario())
    assert client.zrange("tracker:archives:a", 0, -1) == ["1"]
    # an archived session expires its retention after its own last event (the start
    # metadata Rasa records in it when the next session begins does not count)
    assert 3600 - 1790 - 5 <= client.ttl("tracker:archive:a:1") <= 3600 - 1790
    for key in ("tracker:tracker:a", "tracker:session:a", "tracker:archives:a"):
        assert 3590 <= client.ttl(key) <= 3600


def test_a_session_past_its_retention_is_not_archived_and_a_conversation_expires(make_store, client) -> None:
    store = make_store(record_exp=2)
    now = time.time()

    async def scenario() -> None:
        await talk(store, "e", [*session_start(now - 100), *faq_turn(1, now - 99)])
        await talk(store, "e", [*session_start(), *faq_turn(2)])
        full = await store.retrieve_full_tracker("e")
        assert full is not None
        assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["سؤال رقم 00002"]

    asyncio.run(scenario())
    assert client.keys("tracker:archive:e:*") == []
    time.sleep(3.1)
    assert asyncio.run(store.retrieve("e")) is None
    assert client.keys("*:e*") == []


def test_rasa_redis_trackers_are_converted_once_with_their_ttl(make_store, client, redis_url, domain) -> None:
    from rasa.core.tracker_store import RedisTrackerStore


    parsed = urlparse(redis_url)
    rasa_store = RedisTrackerStore(domain, host=parsed.hostname, port=int(parsed.port or 6379), key_prefix="tracker", record_exp=5000)
    now = time.time()
    events = [*session_start(now - 4000), *faq_turn(1, now - 3990), *session_start(now - 60)]
    for i in range(2, 12):
        events += faq_turn(i, now - 60 + i)
    asyncio.run(rasa_store.save(DialogueStateTracker.from_events("old", events, domain.slots)))
    assert client.type("tracker:tracker:old") == "string"
    store = make_store(record_exp=5000)

    current = asyncio.run(store.retrieve("old"))
    assert current is not None
    assert client.type("tracker:tracker:old") == "hash"
    assert 4990 <= client.ttl("tracker:tracker:old") <= 5000 and 4990 <= client.ttl("tracker:session:old") <= 5000
    last_session = split_sessions(events)[-1]
    assert [e.text for e in current.events if isinstance(e, UserUttered)] == [e.text for e in last_session if isinstance(e, UserUttered)][-WINDOW_TURNS:]
    full = asyncio.run(store.retrieve_full_tracker("old"))
    assert full is not None and dicts(full.events) == dicts(events)
    # converted once: the next turn appends to the converted keys
    asyncio.run(talk(store, "old", faq_turn(12)))
    assert client.llen("tracker:session:old") == len(last_session) + 5


def test_a_value_that_is_no_tracker_is_reported_and_left_alone(make_store, client) -> None:
    client.set("tracker:tracker:broken", "{not json")
    store = make_store()
    with pytest.raises(TrackerFormatError, match="tracker:tracker:broken"):
        asyncio.run(store.retrieve("broken"))
    with pytest.raises(TrackerFormatError):
        asyncio.run(talk(store, "broken", faq_turn(1)))
    assert client.get("tracker:tracker:broken") == "{not json"


def test_a_tracker_that_does_not_continue_the_stored_one_loses_nothing(make_store) -> None:
    store = make_store()

    async def scenario() -> None:
        await talk(store, "r", [*session_start(), *faq_turn(1)])
        replacement = DialogueStateTracker.from_events("r", [*session_start(), *faq_turn(7)], store.domain.slots)
        await store.save(replacement)
        current = await store.retrieve("r")
        full = await store.retrieve_full_tracker("r")
        assert current is not None and full is not None
        assert [e.text for e in current.events if isinstance(e, UserUttered)] == ["سؤال رقم 00007"]
        assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["سؤال رقم 00001", "سؤال رقم 00007"]
        # an empty tracker (Rasa makes one when a read failed) replaces nothing
        await store.save(DialogueStateTracker("r", store.domain.slots))
        again = await store.retrieve("r")
        assert again is not None and dicts(again.events) == dicts(current.events)

    asyncio.run(scenario())


def test_endpoints_yml_makes_this_store_and_bad_settings_are_refused(redis_url, monkeypatch) -> None:
    from rasa.core.tracker_store import TrackerStore
    from rasa.core.utils import read_endpoints_from_path

    from scripts.stack import ROOT

    for name, value in {"REDIS_URL": redis_url, "TRACKER_RECORD_EXP_SECONDS": "600", "ACTION_SERVER_URL": "http://127.0.0.1:1/webhook",
                        "ACTION_SERVER_TOKEN": "x"}.items():
        monkeypatch.setenv(name, value)
    endpoints = read_endpoints_from_path(str(ROOT / "endpoints.yml"))
    store = TrackerStore.create(endpoints.tracker_store)
    assert isinstance(store, SessionTrackerStore)  # not Rasa's silent in-memory fallback
    assert (store.url, store.key_prefix, store.record_exp) == (redis_url, "tracker", 600)
    for bad in ({"host": "localhost"}, {"host": redis_url, "key_prefix": "a:b"}, {"host": redis_url, "record_exp": "soon"},
                {"host": redis_url, "window_turns": 0}, {"host": redis_url, "port": 6379}):
        with pytest.raises(ValueError):
            SessionTrackerStore(None, **bad)
