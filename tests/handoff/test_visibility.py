"""Raw customer ids for supervisors only; agents see the queue and their own tickets (handoff/visibility.py).

Attacks through the real HTTP API and live feed: an agent reading a colleague's
or a closed ticket by id, and looking for the customer's phone number (the
conversation id of a WhatsApp/Twilio customer) in the queue, ticket JSON and feed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from handoff_helpers import Console, add_account, feed_entries, internal, ticket_payload

from handoff.store import HandoffStore

PHONE = "whatsapp:+966551234567"
OTHER = "whatsapp:+201001234567"


def _open(service: Any, conversation_id: str) -> str:
    created = internal(service, "POST", "/api/internal/tickets", json=ticket_payload(conversation_id, channel="twilio"))
    assert created.status_code == 201, created.text
    return created.json()["ticket_id"]


def _customer_says(service: Any, ticket_id: str, text: str) -> None:
    async def add() -> None:
        store = HandoffStore(service.settings.redis_url)
        await store.add_event(ticket_id, "message", "customer", text)
        await store.close()

    service.call(add())


def _no_raw_ids(payload: Any) -> None:
    text = json.dumps(payload, ensure_ascii=False)
    assert "966551234567" not in text and "201001234567" not in text and '"conversation_id"' not in text, text[:300]


def test_agents_see_masked_customers_and_only_the_queue_and_their_own_tickets(service):
    for name, role in [("amal", "agent"), ("badr", "agent"), ("sara", "supervisor")]:
        add_account(service, name, role=role)
    amal, badr, sara = Console(service, "amal"), Console(service, "badr"), Console(service, "sara")
    held, waiting = _open(service, PHONE), _open(service, OTHER)
    assert badr.post(f"/api/tickets/{held}/claim").status_code == 200

    queue = amal.get("/api/queue").json()
    _no_raw_ids(queue)
    assert [t["ticket_id"] for t in queue["queue"]] == [waiting]
    assert [t["ticket_id"] for t in queue["open"]] == [waiting]  # not badr's ticket
    assert queue["queue"][0]["customer_display"] == "+201••••••567"
    # a colleague's ticket by id: refused, and so are notes on it
    assert amal.get(f"/api/tickets/{held}").status_code == 403
    assert amal.post(f"/api/tickets/{held}/notes", {"text": "تطفل"}).status_code == 403
    mine = badr.get(f"/api/tickets/{held}")
    assert mine.status_code == 200
    _no_raw_ids(mine.json())
    _no_raw_ids(badr.post(f"/api/tickets/{held}/transfer", {"agent": "badr"}).json())
    _no_raw_ids(amal.post(f"/api/tickets/{waiting}/claim").json())

    # supervisors see every ticket, raw ids included
    everything = sara.get("/api/queue").json()
    assert {t["conversation_id"] for t in everything["open"]} == {PHONE, OTHER}
    assert sara.get(f"/api/tickets/{held}").json()["ticket"]["conversation_id"] == PHONE

    # a closed ticket by id: refused to agents, even the one who held it
    assert badr.post(f"/api/tickets/{held}/resolve").status_code == 200
    assert badr.get(f"/api/tickets/{held}").status_code == 403
    assert amal.get(f"/api/tickets/{held}").status_code == 403
    assert sara.get(f"/api/tickets/{held}").status_code == 200


def test_the_live_feed_shows_agents_only_what_they_may_see(service):
    for name, role in [("amal", "agent"), ("badr", "agent"), ("sara", "supervisor")]:
        add_account(service, name, role=role)
    badr = Console(service, "badr")
    after = badr.get("/api/queue").json()["feed_id"]
    held, waiting = _open(service, PHONE), _open(service, OTHER)
    assert badr.post(f"/api/tickets/{held}/claim").status_code == 200
    _customer_says(service, held, "رقمي الثاني هو نفس رقم الواتساب")
    _customer_says(service, waiting, "متى يرد علي احد؟")

    seen_by_amal = asyncio.run(feed_entries(service.url, "amal", after, 2.0))
    _no_raw_ids(seen_by_amal)
    events = [e for e in seen_by_amal if e["kind"] == "event"]
    # nothing badr's customer says (the claim's own state event comes while it is still queued)
    assert [e["ticket_id"] for e in events if e["event"]["role"] == "customer"] == [waiting]
    assert all(e["event"]["type"] == "state" for e in events if e["ticket_id"] == held)
    # she saw the held ticket queued; its claim by badr is announced with its state only
    taken = [e for e in seen_by_amal if e["ticket_id"] == held and e["kind"] == "ticket_updated"]
    assert taken and set(taken[-1]["ticket"]) == {"ticket_id", "state", "agent"}

    seen_by_sara = asyncio.run(feed_entries(service.url, "sara", after, 2.0))
    assert {e["ticket_id"] for e in seen_by_sara if e["kind"] == "event"} == {held, waiting}
    assert any(e.get("ticket", {}).get("conversation_id") == PHONE for e in seen_by_sara)
