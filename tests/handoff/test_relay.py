"""The relay between channels and the console, on a real Redis and a real service.

Rasa's own Redis tracker and lock stores record the conversation; a small
holder stands in for the loaded Rasa server (``app.ctx.agent``) so these tests
need no trained model. Pause/resume through the real Rasa processor is covered
end to end in ``tests/integration/test_handoff_e2e.py``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List

import aiohttp
import pytest
from handoff_helpers import PASSWORD, Console, add_account, feed_entries, internal, on_duty, ticket_payload
from polling import poll_until
from rasa.shared.core.events import BotUttered

from bench.relay import rasa_stores_app, save_paused_tracker
from bot.channels.handoff_streams import HandoffStreams
from bot.channels.relay import DeliveryRefused, HandoffRelay
from handoff.store import HandoffStore


class Channel:
    """A channel's deliverer that records what reached the customer."""

    def __init__(self) -> None:
        self.delivered: List[Dict[str, Any]] = []
        self.refuse = False

    async def deliver(self, sender_id: str, message: Dict[str, Any]) -> None:
        if self.refuse and message["kind"] == "agent":
            raise DeliveryRefused("window closed")
        self.delivered.append({"sender": sender_id, "at": time.monotonic(), **message})




def start_relay(service: Any, app: Any, channel: Channel) -> HandoffRelay:
    """A relay on the service's event loop delivering to ``channel`` as 'webchat'."""
    relay = HandoffRelay(streams=None)

    async def start() -> None:
        relay._streams = HandoffStreams(service.settings.redis_url)
        relay.register_channel("webchat", channel.deliver)
        await relay.start(app)

    service.call(start())
    return relay


@pytest.fixture
def relay_setup(service):
    """The service, a relay on its event loop with a 'webchat' channel, and a paused tracker."""
    app = rasa_stores_app(service.settings.redis_url)
    channel = Channel()
    relay = start_relay(service, app, channel)
    yield service, relay, channel, app
    service.call(relay.stop())
    service.call(relay.streams.close())


def paused_tracker(app: Any, conversation_id: str) -> None:
    asyncio.run(save_paused_tracker(app, conversation_id, "الكهرباء مقطوعة!!"))


def wait_for(condition: Any, timeout: float = 10.0) -> Any:
    return poll_until(condition, timeout, interval=0.02)


def bot_texts(app: Any, conversation_id: str) -> List[BotUttered]:
    tracker = asyncio.run(app.ctx.agent.tracker_store.retrieve(conversation_id))
    return [event for event in tracker.events if isinstance(event, BotUttered)]


def open_and_claim(service: Any, conversation_id: str, agent: str = "amal") -> tuple:
    add_account(service, agent, name="أمل")
    ticket_id = internal(
        service, "POST", "/api/internal/tickets", json=ticket_payload(conversation_id, channel="webchat")
    ).json()["ticket_id"]
    console = Console(service, agent)
    assert console.post(f"/api/tickets/{ticket_id}/claim").status_code == 200
    return ticket_id, console


def test_no_ticket_means_the_bot_answers(relay_setup):
    service, relay, _channel, _app = relay_setup
    assert service.call(relay.on_customer_message("webchat", "nobody", "مرحبا")) is False


def test_customer_to_console_and_console_to_customer(relay_setup):
    service, relay, channel, app = relay_setup
    paused_tracker(app, "web-c1")
    ticket_id, console = open_and_claim(service, "web-c1")
    # customer -> console: persisted in the ticket's stream, visible on reload
    assert service.call(relay.on_customer_message("webchat", "web-c1", "<b>وينكم؟</b>", message_id="m1")) is True
    # the channel retries the same message: stored once
    assert service.call(relay.on_customer_message("webchat", "web-c1", "<b>وينكم؟</b>", message_id="m1")) is True
    assert service.call(relay.on_customer_message("webchat", "web-c1", "والثانية", message_id="m2")) is True

    def customer_texts() -> List[str]:
        events = console.get(f"/api/tickets/{ticket_id}").json()["events"]
        return [e["text"] for e in events if e["role"] == "customer"]

    wait_for(lambda: "والثانية" in customer_texts())
    assert customer_texts() == ["<b>وينكم؟</b>", "والثانية"]
    # console -> customer: delivered through the channel and recorded in the Rasa tracker
    reply = console.post(f"/api/tickets/{ticket_id}/messages", {"text": "أهلاً، معك أمل. الفريق الفني في الطريق."})
    assert reply.status_code == 201
    delivered = wait_for(lambda: [m for m in channel.delivered if m["kind"] == "agent"])
    assert delivered[0]["sender"] == "web-c1" and delivered[0]["agent_name"] == "أمل"
    recorded = wait_for(lambda: bot_texts(app, "web-c1"))
    texts = [event.text for event in recorded]
    assert "أهلاً، معك أمل. الفريق الفني في الطريق." in texts
    agent_event = next(e for e in recorded if e.text.startswith("أهلاً"))
    assert agent_event.metadata["handoff"]["message_id"] == delivered[0]["id"]
    # internal notes never reach the customer
    assert console.post(f"/api/tickets/{ticket_id}/notes", {"text": "اتصل بالفني"}).status_code == 201
    time.sleep(0.3)
    assert all(m["text"] != "اتصل بالفني" for m in channel.delivered)


def test_redelivered_entry_is_recorded_once(relay_setup):
    service, relay, channel, app = relay_setup
    paused_tracker(app, "web-c2")
    ticket_id, _console = open_and_claim(service, "web-c2")
    store = HandoffStore(service.settings.redis_url)
    ticket = service.call(store.require_ticket(ticket_id))
    for _ in range(2):  # at-least-once: the same id may arrive twice
        service.call(store.push_outbound(ticket, "agent", "رسالة مكررة", id="dup-1", agent_name="أمل"))
    service.call(store.close())
    wait_for(lambda: len([m for m in channel.delivered if m["id"] == "dup-1"]) == 2)
    assert [e.text for e in bot_texts(app, "web-c2")].count("رسالة مكررة") == 1


def test_refused_delivery_is_shown_to_the_agent(relay_setup):
    service, _relay, channel, app = relay_setup
    paused_tracker(app, "web-c3")
    channel.refuse = True
    ticket_id, console = open_and_claim(service, "web-c3")
    console.post(f"/api/tickets/{ticket_id}/messages", {"text": "هل ما زلت هنا؟"})

    def refused() -> List[Dict[str, Any]]:
        events = console.get(f"/api/tickets/{ticket_id}").json()["events"]
        return [e for e in events if e["data"].get("delivery_refused")]

    assert "window closed" in wait_for(refused)[0]["text"]


def test_waiting_customer_hears_their_position(service_factory):
    service = service_factory(position_update_seconds=1)
    app = rasa_stores_app(service.settings.redis_url)
    channel = Channel()
    relay = start_relay(service, app, channel)
    try:
        paused_tracker(app, "web-w1")
        paused_tracker(app, "web-w2")
        add_account(service, "amal")
        on_duty(service, "amal")  # else the tickets are callbacks, who hear no position
        internal(service, "POST", "/api/internal/tickets", json=ticket_payload("web-w1", channel="webchat"))
        internal(service, "POST", "/api/internal/tickets", json=ticket_payload("web-w2", channel="webchat"))
        updates = wait_for(lambda: {m["sender"]: m for m in channel.delivered if m.get("state") == "queued"}.values() if
                           len({m["sender"] for m in channel.delivered if m.get("state") == "queued"}) == 2 else None)
        positions = {m["sender"]: m["position"] for m in updates}
        assert positions == {"web-w1": 1, "web-w2": 2}
        assert "ترتيبك 2" in next(m["text"] for m in updates if m["sender"] == "web-w2")
    finally:
        service.call(relay.stop())
        service.call(relay.streams.close())


def test_live_feed_resumes_after_the_last_seen_id(relay_setup):
    service, relay, _channel, app = relay_setup
    paused_tracker(app, "web-c4")
    ticket_id, console = open_and_claim(service, "web-c4")
    feed_id = console.get("/api/queue").json()["feed_id"]
    service.call(relay.on_customer_message("webchat", "web-c4", "الرسالة الأولى"))
    first = asyncio.run(feed_entries(service.url, "amal", feed_id, events=1))
    assert [e["event"]["text"] for e in first if e["kind"] == "event"] == ["الرسالة الأولى"]
    # disconnected: two more messages arrive; reconnecting after the last id gets exactly those
    service.call(relay.on_customer_message("webchat", "web-c4", "الثانية"))
    service.call(relay.on_customer_message("webchat", "web-c4", "الثالثة"))
    resumed = asyncio.run(feed_entries(service.url, "amal", first[-1]["feed_id"], events=2))
    assert [e["event"]["text"] for e in resumed if e["kind"] == "event"] == ["الثانية", "الثالثة"]
    assert ticket_id == resumed[0]["ticket_id"]


def test_live_feed_needs_a_session_and_same_origin(service):
    async def attempt(headers: Dict[str, str], sign_in: bool) -> int:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            if sign_in:
                await session.post(f"{service.url}/api/login", json={"username": "amal", "password": PASSWORD})
            try:
                async with session.ws_connect(f"{service.url}/api/ws", headers=headers):
                    return 101
            except aiohttp.WSServerHandshakeError as error:
                return error.status

    add_account(service, "amal")
    assert asyncio.run(attempt({}, sign_in=False)) == 401
    assert asyncio.run(attempt({"Origin": "http://evil.example"}, sign_in=True)) == 403
    assert asyncio.run(attempt({}, sign_in=True)) == 101


def test_redis_restart_mid_handoff_loses_nothing(relay_setup, redis_server_process):
    service, relay, channel, app = relay_setup
    paused_tracker(app, "web-r1")
    ticket_id, console = open_and_claim(service, "web-r1")
    service.call(relay.on_customer_message("webchat", "web-r1", "قبل إعادة التشغيل"))
    assert console.post(f"/api/tickets/{ticket_id}/messages", {"text": "رد قبل إعادة التشغيل"}).status_code == 201
    wait_for(lambda: [m for m in channel.delivered if m["text"] == "رد قبل إعادة التشغيل"])
    time.sleep(1.2)  # appendfsync everysec: what was acknowledged a second ago is on disk
    redis_server_process.restart()
    # everything acknowledged before the restart is there, and the relay keeps working
    assert service.call(relay.on_customer_message("webchat", "web-r1", "بعد إعادة التشغيل")) is True
    # the agent answers once the message is on the console
    wait_for(lambda: any(e["text"] == "بعد إعادة التشغيل" for e in console.get(f"/api/tickets/{ticket_id}").json()["events"]), timeout=20)
    assert console.post(f"/api/tickets/{ticket_id}/messages", {"text": "رد بعد إعادة التشغيل"}).status_code == 201
    wait_for(lambda: [m for m in channel.delivered if m["text"] == "رد بعد إعادة التشغيل"], timeout=20)
    detail = console.get(f"/api/tickets/{ticket_id}").json()
    texts = [e["text"] for e in detail["events"] if e["type"] == "message"]
    assert texts == ["قبل إعادة التشغيل", "رد قبل إعادة التشغيل", "بعد إعادة التشغيل", "رد بعد إعادة التشغيل"]
    assert detail["ticket"]["state"] == "with_agent" and detail["ticket"]["agent"] == "amal"
    recorded = [e.text for e in wait_for(lambda: bot_texts(app, "web-r1") if len(bot_texts(app, "web-r1")) >= 3 else None)]
    assert "رد قبل إعادة التشغيل" in recorded and "رد بعد إعادة التشغيل" in recorded
    assert [m["text"] for m in channel.delivered].count("رد قبل إعادة التشغيل") == 1


def test_return_and_resolve_close_the_ticket_and_store_the_rating(relay_setup):
    service, relay, channel, app = relay_setup
    resumed: List[str] = []

    async def resume_without_a_model(message: Dict[str, Any], *_: Any) -> None:
        # the stand-in has no Rasa processor (no model) to resume with; that part runs for
        # real in test_handoff_e2e.py. Failing here, it would hold up web-c5's later entries.
        resumed.append(message["state"])

    relay._resume = resume_without_a_model
    paused_tracker(app, "web-c5")
    ticket_id, console = open_and_claim(service, "web-c5")
    assert console.post(f"/api/tickets/{ticket_id}/resolve").status_code == 200
    control = wait_for(lambda: [m for m in channel.delivered if m.get("state") == "resolved"])
    assert control[0]["kind"] == "state"
    assert internal(service, "GET", "/api/internal/conversations/web-c5").status_code == 404
    rated = internal(service, "POST", f"/api/internal/tickets/{ticket_id}/rating", json={"rating": 4, "comment": "شكراً <script>"})
    assert rated.status_code == 200
    # a closed ticket is for supervisors (handoff/visibility.py)
    assert console.get(f"/api/tickets/{ticket_id}").status_code == 403
    add_account(service, "sara", role="supervisor")
    ticket = Console(service, "sara").get(f"/api/tickets/{ticket_id}").json()["ticket"]
    assert ticket["state"] == "resolved" and ticket["rating"] == 4 and ticket["rating_comment"] == "شكراً <script>"
    # closed: no more agent messages, and a new handoff opens a new ticket
    assert console.post(f"/api/tickets/{ticket_id}/messages", {"text": "x"}).status_code == 409
    again = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("web-c5", channel="webchat"))
    assert again.status_code == 201 and again.json()["ticket_id"] != ticket_id
    second = again.json()["ticket_id"]
    assert console.post(f"/api/tickets/{second}/claim").status_code == 200
    assert console.post(f"/api/tickets/{second}/return").status_code == 200
    wait_for(lambda: [m for m in channel.delivered if m.get("state") == "bot"])
    assert Console(service, "sara").get(f"/api/tickets/{second}").json()["ticket"]["state"] == "bot"
    wait_for(lambda: resumed == ["resolved", "bot"])


def test_typing_reaches_both_sides(relay_setup):
    service, relay, channel, app = relay_setup
    paused_tracker(app, "web-t1")
    ticket_id, console = open_and_claim(service, "web-t1")
    assert console.post(f"/api/tickets/{ticket_id}/typing").status_code == 200
    typing = wait_for(lambda: [m for m in channel.delivered if m["kind"] == "typing"])
    assert typing[0]["agent_name"] == "أمل"
    feed_id = console.get("/api/queue").json()["feed_id"]
    service.call(relay.on_customer_typing("webchat", "web-t1"))

    async def customer_typing() -> Dict[str, Any]:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            await session.post(f"{service.url}/api/login", json={"username": "amal", "password": PASSWORD})
            async with session.ws_connect(f"{service.url}/api/ws?after={feed_id}") as ws:
                while True:
                    message = await ws.receive_json(timeout=10)
                    if message["kind"] == "typing":
                        return message

    seen = asyncio.run(customer_typing())
    assert seen["ticket_id"] == ticket_id and seen["role"] == "customer"
    # typing is never recorded in the tracker
    assert all(e.text for e in bot_texts(app, "web-t1"))


def test_bidi_controls_in_a_live_customer_message_never_reach_the_console(relay_setup):
    service, relay, _channel, _app = relay_setup
    ticket_id, console = open_and_claim(service, "web-bidi")
    # "pay to 1234 5678" shown reversed by a right-to-left override, split by a zero-width space
    hidden = "حوّل إلى \u202e8765\u200b 4321\u202c من فضلك\ufeff"
    assert service.call(relay.on_customer_message("webchat", "web-bidi", hidden, message_id="m-bidi")) is True
    events = wait_for(lambda: [e for e in console.get(f"/api/tickets/{ticket_id}").json()["events"] if e["role"] == "customer"])
    assert [e["text"] for e in events] == ["حوّل إلى 8765 4321 من فضلك"]


def callback_tracker(app: Any, conversation_id: str) -> None:
    """A customer given a callback: nobody was free, so the bot was never paused."""
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    tracker = DialogueStateTracker(conversation_id, [])
    for event in (ActionExecuted("action_listen"), UserUttered("النت مقطوع من امس")):
        tracker.update(event)
    asyncio.run(app.ctx.agent.tracker_store.save(tracker))


def stored_tracker(app: Any, conversation_id: str) -> Any:
    return asyncio.run(app.ctx.agent.tracker_store.retrieve(conversation_id))


def test_claiming_a_callback_ticket_silences_the_bot_once(relay_setup):
    # the customer chatted with the bot while waiting for the callback; an agent claims it
    service, relay, channel, app = relay_setup
    callback_tracker(app, "web-cb1")
    assert not stored_tracker(app, "web-cb1").is_paused()
    ticket_id, console = open_and_claim(service, "web-cb1")
    wait_for(lambda: [m for m in channel.delivered if m["kind"] == "state"])
    paused = wait_for(lambda: stored_tracker(app, "web-cb1").is_paused() and stored_tracker(app, "web-cb1"))
    assert any(e.text.startswith("معك الآن") for e in paused.events if isinstance(e, BotUttered))
    # the same state message again (a relay retry) changes nothing
    from rasa.shared.core.events import ConversationPaused

    message = next(m for m in channel.delivered if m["kind"] == "state")
    service.call(relay.process(dict(message, conversation_id="web-cb1")))
    events = stored_tracker(app, "web-cb1").events
    assert sum(isinstance(e, ConversationPaused) for e in events) == 1
    assert sum(isinstance(e, BotUttered) and e.text.startswith("معك الآن") for e in events) == 1


def conversation_state(service: Any, conversation_id: str) -> Dict[str, str]:
    """The conversation hash the service keeps for the Rasa side (handoff/contract.py)."""
    streams = HandoffStreams(service.settings.redis_url)
    try:
        return service.call(streams.conversation(conversation_id)) or {}
    finally:
        service.call(streams.close())


def test_the_service_decides_callback_or_queued_and_the_rasa_side_reads_it(relay_setup):
    service, relay, channel, app = relay_setup
    # nobody on duty: a callback; the bot keeps answering, the ticket still joins the queue
    callback_tracker(app, "web-s1")
    created = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("web-s1", channel="webchat")).json()
    assert created["state"] == "callback"
    assert conversation_state(service, "web-s1") == {"ticket_id": created["ticket_id"], "state": "callback", "channel": "webchat"}
    add_account(service, "amal", name="أمل")
    console = Console(service, "amal")
    assert created["ticket_id"] in [t["ticket_id"] for t in console.get("/api/queue").json()["queue"]]
    # what the customer writes meanwhile reaches the ticket, and the bot answers it (False)
    assert service.call(relay.on_customer_message("webchat", "web-s1", "متى تتصلون؟", message_id="s1")) is False
    wait_for(lambda: any(e["text"] == "متى تتصلون؟" for e in console.get(f"/api/tickets/{created['ticket_id']}").json()["events"]))
    time.sleep(0.3)
    assert not stored_tracker(app, "web-s1").is_paused()
    assert not [m for m in channel.delivered if m["sender"] == "web-s1"]  # creation says nothing more
    # an agent on duty: the next conversation is queued, and the relay pauses its bot (once)
    on_duty(service, "amal")
    callback_tracker(app, "web-s2")
    queued = internal(service, "POST", "/api/internal/tickets", json=ticket_payload("web-s2", channel="webchat")).json()
    assert queued["state"] == "queued" and conversation_state(service, "web-s2")["state"] == "queued"
    paused = wait_for(lambda: stored_tracker(app, "web-s2").is_paused() and stored_tracker(app, "web-s2"))
    assert not [e for e in paused.events if isinstance(e, BotUttered)]
    assert service.call(relay.on_customer_message("webchat", "web-s2", "أنا بالانتظار")) is True
    # claimed, returned: the hash follows each transition, and is gone once closed
    assert console.post(f"/api/tickets/{queued['ticket_id']}/claim").status_code == 200
    assert conversation_state(service, "web-s2")["state"] == "with_agent"
    assert console.post(f"/api/tickets/{queued['ticket_id']}/return").status_code == 200
    assert conversation_state(service, "web-s2") == {}
    assert service.call(relay.on_customer_message("webchat", "web-s2", "شكرا")) is False
