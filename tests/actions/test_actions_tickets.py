"""The Redis ticket store, on a real Redis server."""

from __future__ import annotations

import json
import re

import pytest
import redis

from actions.knowledge_base import get_knowledge_base
from actions.tickets import TicketStore, canonical_ticket_id


@pytest.mark.parametrize(
    "typed, canonical",
    [
        ("T-482913", "T-482913"),
        ("t482913", "T-482913"),
        ("T 482913", "T-482913"),
        ("482913", "T-482913"),
        ("٤٨٢٩١٣", "T-482913"),
        ("۴۸۲۹۱۳", "T-482913"),
        ("t-٤٨٢٩١٣", "T-482913"),
        ("رقم البلاغ T-482913 لو سمحت", "T-482913"),
        (["٤٨٢٩١٣"], "T-482913"),
        ("48291", None),
        ("4829134", None),
        ("T-48-2913", None),
        ("طلبي ما وصل", None),
        (None, None),
    ],
)
def test_canonical_ticket_id(typed, canonical) -> None:
    assert canonical_ticket_id(typed) == canonical


class _Sequence:
    """A stand-in random source drawing preset numbers, to force collisions."""

    def __init__(self, *numbers: int) -> None:
        self.numbers = list(numbers)

    def randrange(self, _stop: int) -> int:
        return self.numbers.pop(0)


def test_create_stores_a_complete_ticket(store: TicketStore, redis_url: str) -> None:
    ticket = store.create("outage", conversation_id="conv-1", service="water", district="النرجس", account="4471203")
    assert re.fullmatch(r"T-\d{6}", ticket.id)
    assert ticket.status == "open"
    assert ticket.created_at == ticket.updated_at == "2026-11-22T10:00:00+03:00"

    raw = redis.Redis.from_url(redis_url, decode_responses=True).get(f"tickets:{ticket.id}")
    stored = json.loads(raw)
    assert stored["kind"] == "outage" and stored["district"] == "النرجس" and stored["conversation_id"] == "conv-1"

    # a fresh client (another worker, or after a restart) reads the same ticket
    again = TicketStore.from_url(redis_url).get(ticket.id)
    assert again == ticket


def test_numbers_never_collide(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = TicketStore(client, rng=_Sequence(5, 5, 6))
    first = store.create("handoff")
    second = store.create("handoff")
    assert (first.id, second.id) == ("T-000005", "T-000006")


def test_numbers_of_demo_tickets_are_not_reused(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    store = TicketStore(client, demo_tickets=[{"id": "T-000007", "kind": "outage"}], rng=_Sequence(7, 8))
    assert store.create("outage").id == "T-000008"


def test_get_accepts_any_spelling_and_knows_demo_tickets(store: TicketStore) -> None:
    ticket = store.create("appointment", account="4471203", date="2026-11-23")
    digits = ticket.id[2:].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert store.get(digits) == ticket
    demo = store.get("T-482913")
    assert demo is not None and demo.demo and demo.kind == "appointment"
    assert store.get("T-310001").kind == "outage"  # a known outage's master ticket
    assert store.get("T-999999") is None
    assert store.get("nonsense") is None


def test_update_stamps_time_and_copies_demo_tickets(store: TicketStore, redis_url: str) -> None:
    updated = store.update("T-482913", date="2026-11-30", status="rescheduled")
    assert updated.status == "rescheduled" and not updated.demo
    assert updated.updated_at == "2026-11-22T10:00:00+03:00"
    assert store.get("T-482913").date == "2026-11-30"  # the stored copy now wins
    with pytest.raises(KeyError):
        store.update("T-999999", status="closed")


def test_indexes_by_conversation_and_account(store: TicketStore) -> None:
    a = store.create("outage", conversation_id="conv-9", account="6104827")
    b = store.create("appointment", conversation_id="conv-9", account="6104827", date="2026-11-24")
    store.create("handoff", conversation_id="someone-else")
    assert [t.id for t in store.for_conversation("conv-9")] == [a.id, b.id]
    assert store.latest_for_account("6104827", kind="appointment").id == b.id
    store.update(b.id, status="cancelled")
    assert store.latest_for_account("6104827", kind="appointment") is None
    # demo tickets of an account are found too
    assert store.latest_for_account("48203917", kind="appointment").id == "T-482913"


def test_store_uses_the_knowledge_demo_tickets(store: TicketStore) -> None:
    kb = get_knowledge_base()
    for demo in kb.demo_tickets:
        assert store.get(demo["id"]) is not None


# ------------------------------------------------------------------ retention
def test_tickets_and_their_indexes_expire_after_the_retention(store, redis_url, monkeypatch) -> None:
    import redis as sync_redis

    from actions.tickets import TicketStore

    short = TicketStore(store.client, demo_tickets=[], prefix=store.prefix, clock=store.clock, retention_s=120)
    ticket = short.create("handoff", conversation_id="web-r1", account="4471203")
    client = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = [f"{store.prefix}:{ticket.id}", f"{store.prefix}:by-conversation:web-r1", f"{store.prefix}:by-account:4471203"]
        assert all(0 < client.ttl(key) <= 120 for key in keys)
        client.expire(keys[0], 5)
        short.update(ticket.id, status="closed")  # a change starts the retention again
        assert client.ttl(keys[0]) > 100
    finally:
        client.close()


def test_the_default_retention_is_a_year(store) -> None:
    ticket = store.create("outage", conversation_id="web-r2")
    assert 364 * 86400 < store.client.ttl(f"{store.prefix}:{ticket.id}") <= 365 * 86400
