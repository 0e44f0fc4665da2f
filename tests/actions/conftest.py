"""Fixtures for the action-server tests: trackers from JSON, the domain, a fixed clock.

Helpers are handed out as fixtures (not imported from this file), so the tests
work whatever pytest import mode the project chooses.
"""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Dict, List
from zoneinfo import ZoneInfo

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import settings
from actions.tickets import TicketStore, get_ticket_store

ROOT = Path(__file__).resolve().parents[2]
TRACKERS = ROOT / "tests" / "fixtures" / "trackers"
RIYADH = ZoneInfo("Asia/Riyadh")
# A Sunday, 10:00 in Riyadh: within call-centre hours, and the first day of the
# Saudi week, which makes "next week" and weekday expectations easy to read.
TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=RIYADH)


def _tracker_data(name: str) -> Dict[str, Any]:
    """The raw JSON of a tracker fixture (a fresh copy every time)."""
    return json.loads((TRACKERS / name).read_text(encoding="utf-8"))


def _make_tracker(data: Dict[str, Any], slots: Dict[str, Any] | None = None) -> Tracker:
    """A Tracker from fixture data, with some slots overridden."""
    data = copy.deepcopy(data)
    data["slots"].update(slots or {})
    return Tracker.from_dict(data)


def _user_event(text: str, intent: str, entities: List[Dict[str, Any]] | None = None) -> Dict[str, Any]:
    """A user event as Rasa sends it to the action server."""
    return {
        "event": "user",
        "text": text,
        "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []},
    }


def _latest_from(event: Dict[str, Any]) -> Dict[str, Any]:
    """The ``latest_message`` matching a user event."""
    parse = event["parse_data"]
    return {"text": event["text"], "intent": parse["intent"], "intent_ranking": [parse["intent"]], "entities": parse["entities"]}


def _run_action(action: Action, tracker: Tracker, domain: Dict[str, Any]) -> tuple:
    """Run an action; returns (messages sent, events returned)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain))
    return dispatcher.messages, events


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    """The bot's domain (all files of bot/domain merged), as the SDK receives it."""
    merged: Dict[str, Any] = {}
    for path in sorted((ROOT / "bot" / "domain").glob("*.yml")):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, value in part.items():
            if isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
            elif isinstance(value, list):
                merged.setdefault(key, []).extend(value)
            else:
                merged[key] = value
    return merged


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Freeze the organisation's clock at :data:`NOW` (Sunday 22/11/2026 10:00)."""
    monkeypatch.setattr(settings, "now", lambda: NOW)
    monkeypatch.setattr(settings, "today", lambda: TODAY)
    return NOW


@pytest.fixture
def store(redis_url: str, monkeypatch: pytest.MonkeyPatch, fixed_clock: datetime) -> TicketStore:
    """The ticket store the actions will use, on the test Redis (emptied per test)."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    return get_ticket_store()


@pytest.fixture
def no_redis(monkeypatch: pytest.MonkeyPatch, fixed_clock: datetime) -> None:
    """Point the actions at a port where no Redis listens."""
    from scripts.redis_server import free_port

    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")


Runner = Callable[[Action, Tracker], tuple]


@pytest.fixture
def run(domain: Dict[str, Any]) -> Runner:
    """``run(action, tracker)`` → (messages, events)."""
    return lambda action, tracker: _run_action(action, tracker, domain)


@pytest.fixture
def tracker_data() -> Callable[[str], Dict[str, Any]]:
    """``tracker_data(name)``: a fixture file's JSON, to edit before use."""
    return _tracker_data


@pytest.fixture
def make_tracker() -> Callable[..., Tracker]:
    """``make_tracker(data, slots=None)``: a Tracker from (edited) fixture data."""
    return _make_tracker


@pytest.fixture
def load_tracker() -> Callable[..., Tracker]:
    """``load_tracker(name, **slots)``: a Tracker from a fixture file."""
    return lambda name, **slots: _make_tracker(_tracker_data(name), slots)


@pytest.fixture
def user_event() -> Callable[..., Dict[str, Any]]:
    """``user_event(text, intent, entities=None)``: a user event dict."""
    return _user_event


@pytest.fixture
def latest_from() -> Callable[[Dict[str, Any]], Dict[str, Any]]:
    """``latest_from(user_event)``: the matching ``latest_message``."""
    return _latest_from


@pytest.fixture
def verify(store: TicketStore) -> Callable[[str, str], None]:
    """``verify(conversation_id, account)``: the conversation proved it holds the account."""
    from actions.verification import get_verifier

    def mark(conversation_id: str, account: str) -> None:
        async def go() -> None:
            await get_verifier().mark_verified(conversation_id, account)

        asyncio.run(go())

    return mark


@pytest.fixture
def sent_codes(store: TicketStore, redis_url: str) -> Callable[[str], List[str]]:
    """``sent_codes(phone)``: the one-time codes queued in the WhatsApp outbox for ``phone``
    (international digits), oldest first, read from Redis as the WhatsApp worker would."""
    import redis as sync_redis

    def codes(phone: str) -> List[str]:
        client = sync_redis.Redis.from_url(redis_url, decode_responses=True)
        found = []
        for raw in client.lrange(f"outbox:whatsapp:q:{phone}", 0, -1):
            template = json.loads(raw)["payload"].get("template") or {}
            for component in template.get("components") or []:
                found += [p["text"] for p in component.get("parameters") or []]
        client.close()
        return found

    return codes
