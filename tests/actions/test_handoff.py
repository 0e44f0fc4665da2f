"""The handoff action, the return to the bot and the rating, on tracker fixtures.

The handoff service is a small aiohttp server started by these tests that
records every request (real HTTP; it answers what the protocol says the real
service answers, handoff/PROTOCOL.md).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from datetime import datetime
from typing import Any, Dict, Iterator, List

import pytest
from aiohttp import web

from actions import settings
from actions.handoff import ActionHandoff, ActionHandoffResolved, ActionHandoffReturned
from actions.handoff_rating import ActionAskRating, ActionSubmitRating, ValidateRatingForm
from actions.handoff_ticket import build_ticket, customer_display
from actions.knowledge_base import get_knowledge_base
from actions.rating import parse_rating
from scripts.redis_server import free_port

TOKEN = "test-service-token"
WHATSAPP = "handoff_outage_whatsapp.json"


class ServerThread:
    """An aiohttp application on a free local port, served from a background thread."""

    def __init__(self, app: web.Application, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._runner = web.AppRunner(self.app)
        self.loop.run_until_complete(self._runner.setup())
        self.loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._started.set()
        self.loop.run_forever()

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def start(self) -> None:
        self._thread.start()
        assert self._started.wait(20), "server did not start"

    async def _shutdown(self) -> None:
        # A request still sleeping (the "too slow" case) is cancelled, not left pending.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await self._runner.cleanup()

    def stop(self) -> None:
        self.call(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


class FakeHandoffService(ServerThread):
    """A handoff service that records requests and answers as told.

    Attributes:
        requests: ``{method, path, headers, body}`` of every request, oldest first.
        reply: ``(status, body)`` for ticket creation; ``body`` may be a str (sent raw).
        delay_s: how long to wait before answering.
    """

    def __init__(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        super().__init__(app)
        self.requests: List[Dict[str, Any]] = []
        self.reply: tuple = (201, {})
        self.delay_s = 0.0

    async def _record(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.requests.append(
            {"method": request.method, "path": request.path, "headers": dict(request.headers), "body": json.loads(raw) if raw else None}
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if request.path.endswith("/rating"):
            return web.json_response({"ok": True})
        status, body = self.reply
        if isinstance(body, str):
            return web.Response(status=status, text=body, content_type="application/json")
        return web.json_response(body, status=status)


@pytest.fixture(scope="module")
def _service() -> Iterator[FakeHandoffService]:
    service = FakeHandoffService()
    service.start()
    yield service
    service.stop()


@pytest.fixture
def service(_service: FakeHandoffService, monkeypatch: pytest.MonkeyPatch, store) -> FakeHandoffService:
    """The fake service, emptied, with agents on duty; the actions point at it."""
    _service.requests.clear()
    _service.delay_s = 0.0
    _service.reply = (201, {"ticket_id": "H-1001", "position": 3, "estimated_wait_s": 400, "agents_on_duty": 2, "callback_eta": None})
    monkeypatch.setenv("HANDOFF_URL", _service.url)
    monkeypatch.setenv("HANDOFF_SERVICE_TOKEN", TOKEN)
    monkeypatch.setenv("HANDOFF_TIMEOUT_S", "1")
    return _service


@pytest.fixture
def service_down(monkeypatch: pytest.MonkeyPatch, store) -> None:
    """Nothing listens where the handoff service should be."""
    monkeypatch.setenv("HANDOFF_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HANDOFF_TIMEOUT_S", "1")


def _slots(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _paused(events: List[Dict[str, Any]]) -> bool:
    return any(e.get("event") == "pause" for e in events)


def _texts(messages: List[Dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


# ------------------------------------------------------------------ the ticket
def test_ticket_from_a_whatsapp_outage_conversation(load_tracker, fixed_clock) -> None:
    kb = get_knowledge_base()
    ticket = build_ticket(load_tracker(WHATSAPP), kb)
    assert ticket["conversation_id"] == "whatsapp:+966501234567"
    assert ticket["channel"] == "whatsapp"
    assert ticket["customer_display"] == "+966••••••567" and "501234" not in ticket["customer_display"]
    assert (ticket["reasons"], ticket["priority"], ticket["priority_name"]) == (["angry", "explicit_request"], 1, "urgent")
    # the whole transcript, in order, with Rasa's timestamps and who said what
    assert [(line["role"], line["ts"]) for line in ticket["transcript"]] == [
        ("customer", 1763794801.5), ("bot", 1763794801.95), ("customer", 1763794830.25),
        ("bot", 1763794830.7), ("customer", 1763795100.75),
    ]
    assert ticket["transcript"][-1]["text"] == "صار لها ساعتين وما أحد تواصل!! ابغى موظف الحين"
    # frustration rising over three messages; the outage's urgency is kept
    assert [p["frustration"] for p in ticket["signals"]] == [0.05, 0.45, 0.88]
    assert [p["urgency_service"] for p in ticket["signals"]] == [None, "electricity", "electricity"]
    assert ticket["intents"] == ["greet", "report_outage", "request_human"]
    # service and district were cleared after the report, but the ticket still has them
    assert ticket["slots"] == {"service_type": "electricity", "district": "النرجس", "account_number": "4471203"}
    assert {"entity": "district", "value": "حي النرجس", "ts": 1763794830.25} in ticket["entities"]
    lines = ticket["summary_ar"].split("\n")
    assert 2 <= len(lines) <= 4
    assert kb.service("electricity").name in lines[0] and "النرجس" in lines[0] and "انقطاع" in lines[0]
    assert kb.replies.label("bot_actions", "action_report_outage") in lines[1]
    assert kb.replies.label("moods", "angry") in lines[2] and kb.replies.fragment("summary_mood_rising").strip() in lines[2]
    assert "4471203" in lines[3]
    json.dumps(ticket, ensure_ascii=False)  # JSON-ready


@pytest.mark.parametrize(
    ("sender", "channel", "shown"),
    [
        ("966501234567", "whatsapp", "+966••••••567"),
        ("whatsapp:+201001234567", "twilio", "+201••••••567"),
        ("+966 50 123 4567", "rest", "+966••••••567"),
        ("3f9a2c1b-77aa-4d0e-9d2b-2c1b77aa4d0e", "webchat", "session 3f9a2c…"),
        ("t1", "rest", "session t1"),
    ],
)
def test_customer_display_masks_phone_numbers_and_sessions(sender: str, channel: str, shown: str) -> None:
    assert customer_display(sender, channel) == shown


def test_agent_messages_recorded_by_the_relay_are_marked_in_the_transcript(tracker_data, make_tracker, fixed_clock) -> None:
    data = tracker_data(WHATSAPP)
    data["events"] += [
        {"event": "bot", "timestamp": 1763795200.0, "text": "أهلاً، معك سارة", "metadata": {"handoff": {"message_id": "1-0", "agent": "سارة"}}},
        {"event": "user", "timestamp": 1763795300.0, "text": "", "parse_data": {"intent": {"name": "EXTERNAL_handoff_returned"}, "entities": []}},
    ]
    lines = build_ticket(make_tracker(data), get_knowledge_base())["transcript"]
    assert lines[-1] == {"ts": 1763795200.0, "role": "agent", "agent": "سارة", "text": "أهلاً، معك سارة"}


# ------------------------------------------------------------------ the handoff
def test_handoff_posts_the_ticket_pauses_and_gives_position_and_wait(load_tracker, run, service) -> None:
    messages, events = run(ActionHandoff(), load_tracker(WHATSAPP))
    (request,) = service.requests
    assert (request["method"], request["path"]) == ("POST", "/api/internal/tickets")
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert set(request["body"]) >= {
        "conversation_id", "channel", "customer_display", "reasons", "priority", "signals", "intents",
        "slots", "entities", "transcript", "summary_ar",
    }
    assert _paused(events)
    assert events[-1] == {**events[-1], "event": "action", "name": "action_listen"}  # the return is a user turn
    assert _slots(events)["handoff_ticket_id"] == "H-1001"
    text = _texts(messages)
    assert "H-1001" in text
    assert "ترتيبك في قائمة الانتظار 3" in text
    assert "7 دقائق" in text  # 400 s, rounded up: never promise less than the estimate
    apologies = get_knowledge_base().replies.variants("empathy_apologise_gulf")
    assert any(text.startswith(a) for a in apologies)  # an angry Gulf customer: an apology first
    assert any(e.get("event") == "active_loop" and e["name"] is None for e in events)


@pytest.mark.parametrize(
    ("position", "wait_s", "expected"),
    [(1, 20, ["أنت التالي", "أقل من دقيقة"]), (2, 120, ["ترتيبك في قائمة الانتظار 2", "دقيقتين"]), (9, 3000, ["50 دقيقة"]), (4, None, ["لا أستطيع تقديره"])],
)
def test_queue_and_wait_wording(load_tracker, run, service, position, wait_s, expected) -> None:
    service.reply = (201, {"ticket_id": "H-7", "position": position, "estimated_wait_s": wait_s, "agents_on_duty": 1})
    messages, _ = run(ActionHandoff(), load_tracker("handoff_request.json"))
    for words in expected:
        assert words in _texts(messages)


def test_existing_open_ticket_is_reused(load_tracker, run, service) -> None:
    # the service answers 200 with the open ticket of the conversation (idempotent)
    service.reply = (200, {"ticket_id": "H-55", "position": 1, "estimated_wait_s": 30, "agents_on_duty": 1})
    messages, events = run(ActionHandoff(), load_tracker("handoff_request.json"))
    assert "H-55" in _texts(messages) and _paused(events)


def test_nobody_on_duty_offers_a_callback_with_a_time(load_tracker, run, service, store) -> None:
    service.reply = (201, {"ticket_id": "H-9", "position": 1, "estimated_wait_s": None, "agents_on_duty": 0, "callback_eta": "2026-11-23T05:00:00+00:00"})
    messages, events = run(ActionHandoff(), load_tracker("handoff_request.json"))
    text = _texts(messages)
    assert "H-9" in text
    assert "23/11/2026 الساعة 08:00" in text  # 05:00 UTC is 08:00 in Riyadh
    assert "ترتيبك" not in text and "أنت التالي" not in text  # no queue to wait in
    assert not _paused(events)  # the bot stays available meanwhile
    assert store.for_conversation("conv-handoff-008") == []  # the service holds the ticket


@pytest.mark.parametrize("within_duty_hours, says", [(True, "busy"), (False, "off_hours"), (None, "busy")])
def test_out_of_hours_is_said_only_outside_duty_hours(within_duty_hours, says, load_tracker, run, service) -> None:
    reply = {"ticket_id": "H-11", "agents_on_duty": 0, "callback_eta": "2026-11-23T05:00:00+00:00"}
    if within_duty_hours is not None:
        reply["within_duty_hours"] = within_duty_hours
    service.reply = (201, reply)
    messages, _ = run(ActionHandoff(), load_tracker("handoff_request.json"))
    text = _texts(messages)
    replies = get_knowledge_base().replies
    # the opening words of each variant (before any placeholder)
    off_hours = [v[:20] for v in replies.variants("handoff_callback_off_hours")]
    busy = [v[:20] for v in replies.variants("handoff_callback_busy")]
    assert "H-11" in text
    assert any(lead in text for lead in (off_hours if says == "off_hours" else busy))
    assert not any(lead in text for lead in (busy if says == "off_hours" else off_hours))
    assert ("خارج الدوام" in text or "انتهى دوام" in text) == (says == "off_hours")


def test_nobody_on_duty_without_a_time_uses_the_organisations_promise(load_tracker, run, service, monkeypatch) -> None:
    monkeypatch.setattr(settings, "now", lambda: datetime(2026, 11, 22, 23, 30, tzinfo=settings.local_zone("Asia/Riyadh")))
    service.reply = (201, {"ticket_id": "H-10", "agents_on_duty": 0})
    messages, _ = run(ActionHandoff(), load_tracker("handoff_request.json"))
    assert get_knowledge_base().handoff["outside_hours_eta"] in _texts(messages)


@pytest.mark.parametrize(
    "failure",
    ["down", "http_500", "broken_json", "no_ticket_id", "too_slow"],
)
def test_service_trouble_keeps_the_ticket_in_redis_and_says_so(failure, load_tracker, run, service, store, monkeypatch) -> None:
    if failure == "down":
        monkeypatch.setenv("HANDOFF_URL", f"http://127.0.0.1:{free_port()}")
    elif failure == "http_500":
        service.reply = (500, {"error": "boom"})
    elif failure == "broken_json":
        service.reply = (201, "{not json")
    elif failure == "no_ticket_id":
        service.reply = (201, {"position": 1})
    else:
        service.delay_s = 1.5
    started = time.monotonic()
    messages, events = run(ActionHandoff(), load_tracker(WHATSAPP))
    assert time.monotonic() - started < 5
    (ticket,) = store.for_conversation("whatsapp:+966501234567")
    assert (ticket.kind, ticket.priority, ticket.reasons) == ("handoff", "urgent", ["angry", "explicit_request"])
    assert (ticket.service, ticket.district, ticket.account) == ("electricity", "النرجس", "4471203")
    assert ticket.summary[0].startswith("المشكلة") and ticket.summary[-1] == "صار لها ساعتين وما أحد تواصل!! ابغى موظف الحين"
    text = _texts(messages)
    assert ticket.id in text and get_knowledge_base().contact["phone"] in text
    assert not _paused(events)  # nobody would answer in the chat
    # the whole ticket waits in the service's inbox, to join the queue once it is back
    from handoff.contract import INBOX

    ((_, fields),) = store.client.xrange(INBOX)
    assert fields["offline_ticket"] == ticket.id
    assert json.loads(fields["ticket"])["conversation_id"] == "whatsapp:+966501234567"


def test_service_and_redis_both_down_is_honest(load_tracker, run, service_down, no_redis) -> None:
    messages, events = run(ActionHandoff(), load_tracker("handoff_request.json"))
    kb = get_knowledge_base()
    assert messages[-1]["text"] in [v.format_map(kb.context()) for v in kb.replies.variants("system_unavailable")]
    assert not _paused(events) and _slots(events)["handoff_offered"] is False


# ------------------------------------------------------------------ back from a person
def test_a_danger_is_handed_over_first_with_how_to_stay_safe(tracker_data, make_tracker, user_event, latest_from, run, service) -> None:
    data = tracker_data("handoff_request.json")
    message = user_event("فيه ريحة حريق طالعة من العداد وطالع دخان", "complaint")
    data["events"].append(message)
    data["latest_message"] = latest_from(message)
    # the EscalationPolicy's decision, as it sets it before the handoff
    messages, _ = run(ActionHandoff(), make_tracker(data, {"escalation_reasons": ["safety_hazard", "explicit_request"], "escalation_priority": "urgent"}))
    (request,) = service.requests
    assert request["body"]["reasons"] == ["safety_hazard", "explicit_request"] and request["body"]["priority"] == 1  # urgent
    leads = get_knowledge_base().replies.variants("handoff_safety_lead")
    assert any(messages[0]["text"].startswith(lead.split("{")[0]) for lead in leads)


def test_returned_to_the_bot_says_it_is_back(load_tracker, run, fixed_clock) -> None:
    messages, events = run(ActionHandoffReturned(), load_tracker("handoff_request.json", handoff_ticket_id="H-1"))
    assert _texts(messages) in get_knowledge_base().replies.variants("handoff_returned")
    assert _slots(events)["handoff_ticket_id"] is None


def test_resolved_keeps_the_ticket_from_the_relays_entity(tracker_data, make_tracker, user_event, latest_from, run, fixed_clock) -> None:
    data = tracker_data("handoff_request.json")
    message = user_event("", "EXTERNAL_handoff_resolved", [{"entity": "handoff_ticket_id", "value": "H-42"}])
    data["events"].append(message)
    data["latest_message"] = latest_from(message)
    messages, events = run(ActionHandoffResolved(), make_tracker(data))
    assert _slots(events) == {
        "handoff_ticket_id": "H-42", "rating": None, "rating_comment": None,
        "handoff_offered": False, "escalation_reasons": None, "escalation_priority": None, "escalation_evidence": None,
    }
    assert _texts(messages) in get_knowledge_base().replies.variants("handoff_resolved")


# ------------------------------------------------------------------ rating
@pytest.mark.parametrize(
    ("typed", "rating"),
    [
        ("5", 5), ("٥", 5), ("۴", 4), ("٣ من ٥", 3), ("4/5", 4), ("خمسة", 5), ("خمســـة", 5), ("اربعة", 4),
        ("أربع نجوم", 4), ("ثلاث", 3), ("اتنين", 2), ("واحد", 1), ("five", 5), ("arba3a", 4), ("⭐⭐⭐⭐", 4),
        (3, 3), ("0", None), ("6", None), ("١٠", None), ("3 او 4", None), ("ممتاز", None), ("", None), (None, None), (True, None),
    ],
)
def test_parse_rating_in_every_script(typed, rating) -> None:
    assert parse_rating(typed) == rating


def _rating_turn(tracker_data, make_tracker, user_event, latest_from, text, intent="inform", entities=None, requested="rating"):
    data = tracker_data("handoff_request.json")
    message = user_event(text, intent, entities)
    data["events"].append(message)
    data["latest_message"] = latest_from(message)
    data["active_loop"] = {"name": "rating_form"}
    return make_tracker(data, {"requested_slot": requested, "handoff_ticket_id": "H-42"})


@pytest.mark.parametrize(
    ("text", "intent", "entities", "expected"),
    [
        ('/inform{"rating":4}', "inform", [{"entity": "rating", "value": 4}], {"rating": 4}),
        ("٥", "nlu_fallback", None, {"rating": 5}),
        ("خمسة", "inform", None, {"rating": 5}),
        ("لا", "deny", None, {"rating": 0, "rating_comment": ""}),
    ],
)
def test_rating_form_reads_buttons_digits_words_and_no(text, intent, entities, expected, tracker_data, make_tracker, user_event, latest_from, domain, fixed_clock) -> None:
    tracker = _rating_turn(tracker_data, make_tracker, user_event, latest_from, text, intent, entities)
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateRatingForm().run(dispatcher, tracker, domain))
    slots = _slots(events)
    assert {k: slots[k] for k in expected} == expected
    assert dispatcher.messages == []


def test_rating_form_explains_what_it_needs(tracker_data, make_tracker, user_event, latest_from, domain, fixed_clock) -> None:
    from rasa_sdk.executor import CollectingDispatcher

    tracker = _rating_turn(tracker_data, make_tracker, user_event, latest_from, "9", "inform")
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateRatingForm().run(dispatcher, tracker, domain))
    assert _slots(events)["rating"] is None
    assert dispatcher.messages[0]["text"] in get_knowledge_base().replies.variants("rating_invalid")


def test_a_new_request_during_the_rating_is_not_taken_for_a_rating(tracker_data, make_tracker, user_event, latest_from, domain, fixed_clock) -> None:
    from rasa_sdk.executor import CollectingDispatcher

    tracker = _rating_turn(tracker_data, make_tracker, user_event, latest_from, "كم فاتورتي؟", "bill_inquiry")
    events = asyncio.run(ValidateRatingForm().run(CollectingDispatcher(), tracker, domain))
    assert "rating" not in _slots(events)  # the form rejects; the bill question is answered


@pytest.mark.parametrize(("text", "intent", "comment"), [("/deny", "deny", ""), ("الموظفة كانت متعاونة جداً", "thank", "الموظفة كانت متعاونة جداً")])
def test_the_comment_is_optional(text, intent, comment, tracker_data, make_tracker, user_event, latest_from, domain, fixed_clock) -> None:
    from rasa_sdk.executor import CollectingDispatcher

    tracker = _rating_turn(tracker_data, make_tracker, user_event, latest_from, text, intent, requested="rating_comment")
    events = asyncio.run(ValidateRatingForm().run(CollectingDispatcher(), tracker, domain))
    assert _slots(events)["rating_comment"] == comment


def test_the_rating_question_has_five_buttons(load_tracker, run, fixed_clock) -> None:
    messages, _ = run(ActionAskRating(), load_tracker("handoff_request.json"))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert sorted(json.loads(re.sub(r"^/inform", "", p))["rating"] for p in payloads) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(("rating", "comment", "reply"), [(5, "شكراً لسارة", "rating_thanks"), (1, "", "rating_thanks_low")])
def test_the_rating_is_posted_with_the_ticket(rating, comment, reply, load_tracker, run, service) -> None:
    tracker = load_tracker("handoff_request.json", handoff_ticket_id="H-42", rating=rating, rating_comment=comment)
    messages, events = run(ActionSubmitRating(), tracker)
    (request,) = service.requests
    assert request["path"] == "/api/internal/tickets/H-42/rating"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["body"] == ({"rating": rating, "comment": comment} if comment else {"rating": rating})
    assert _texts(messages) in get_knowledge_base().replies.variants(reply)
    assert _slots(events) == {"rating": None, "rating_comment": None, "handoff_ticket_id": None, "requested_slot": None}


def test_declined_rating_posts_nothing(load_tracker, run, service) -> None:
    messages, _ = run(ActionSubmitRating(), load_tracker("handoff_request.json", handoff_ticket_id="H-42", rating=0, rating_comment=""))
    assert service.requests == []
    assert _texts(messages) in get_knowledge_base().replies.variants("rating_declined")


def test_rating_with_the_service_down_is_honest(load_tracker, run, service_down) -> None:
    messages, _ = run(ActionSubmitRating(), load_tracker("handoff_request.json", handoff_ticket_id="H-42", rating=4, rating_comment=""))
    kb = get_knowledge_base()
    assert _texts(messages) in [v.format_map(kb.context()) for v in kb.replies.variants("rating_not_stored")]


def test_a_very_long_conversation_keeps_its_latest_messages_within_the_size_limit(tracker_data, make_tracker, user_event, fixed_clock) -> None:
    from actions.handoff_ticket import MAX_TICKET_BYTES

    data = tracker_data(WHATSAPP)
    long_text = "الكهرباء مقطوعة " * 120  # ~2000 characters, the REST channel's limit
    data["events"] += [{**user_event(f"{i} {long_text}", "complaint"), "timestamp": 1763800000.0 + i} for i in range(150)]
    ticket = build_ticket(make_tracker(data), get_knowledge_base())
    size = len(json.dumps(ticket, ensure_ascii=False).encode("utf-8"))
    assert size <= MAX_TICKET_BYTES
    assert ticket["transcript"][0]["role"] == "system" and "حُذفت" in ticket["transcript"][0]["text"]
    assert ticket["transcript"][-1]["text"].startswith("149 ")  # the latest message is kept


# ------------------------------------------------------------------ the real handoff service
@pytest.fixture
def real_service(redis_url: str, monkeypatch: pytest.MonkeyPatch, store) -> Iterator[ServerThread]:
    """The project's handoff service (handoff.app) on the test Redis, over real HTTP."""
    from handoff.app import create_app
    from handoff.settings import HandoffSettings
    from handoff.store import HandoffStore

    port = free_port()
    settings = HandoffSettings(
        redis_url=redis_url, port=port, public_url=f"http://127.0.0.1:{port}", service_token=TOKEN, position_update_seconds=3600
    )
    server = ServerThread(create_app(settings, HandoffStore(redis_url)), port)
    server.start()
    monkeypatch.setenv("HANDOFF_URL", server.url)
    monkeypatch.setenv("HANDOFF_SERVICE_TOKEN", TOKEN)
    yield server
    server.stop()


def _open_ticket(server: ServerThread, conversation_id: str) -> Dict[str, Any]:
    import urllib.parse
    import urllib.request

    request = urllib.request.Request(
        f"{server.url}/api/internal/conversations/{urllib.parse.quote(conversation_id)}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_with_the_real_service_an_agent_on_duty_gets_the_whole_ticket(real_service, load_tracker, run) -> None:
    from handoff.app import STORE_KEY

    real_service.call(real_service.app[STORE_KEY].heartbeat("sara"))
    messages, events = run(ActionHandoff(), load_tracker(WHATSAPP))
    assert _paused(events)
    ticket = _open_ticket(real_service, "whatsapp:+966501234567")
    assert ticket["ticket_id"] == _slots(events)["handoff_ticket_id"] and ticket["ticket_id"] in _texts(messages)
    assert "أنت التالي" in _texts(messages)  # the only ticket in the queue
    assert (ticket["priority"], ticket["channel"], ticket["customer_display"]) == (1, "whatsapp", "+966••••••567")
    assert [line["role"] for line in ticket["transcript"]] == ["customer", "bot", "customer", "bot", "customer"]
    assert "النرجس" in ticket["summary_ar"] and [p["frustration"] for p in ticket["signals"]] == [0.05, 0.45, 0.88]

    # asking again while the ticket is open finds the same ticket (idempotent)
    again, _ = run(ActionHandoff(), load_tracker(WHATSAPP))
    assert ticket["ticket_id"] in _texts(again)

    tracker = load_tracker(WHATSAPP, handoff_ticket_id=ticket["ticket_id"], rating=2, rating_comment="انتظرت طويلاً")
    run(ActionSubmitRating(), tracker)
    rated = _open_ticket(real_service, "whatsapp:+966501234567")
    assert (rated["rating"], rated["rating_comment"]) == (2, "انتظرت طويلاً")


def test_with_the_real_service_and_nobody_on_duty_a_callback_is_offered(real_service, load_tracker, run) -> None:
    messages, events = run(ActionHandoff(), load_tracker("handoff_request.json"))
    ticket = _open_ticket(real_service, "conv-handoff-008")
    assert ticket["agents_on_duty"] == 0 and ticket["ticket_id"] in _texts(messages)
    assert "بحلول" in _texts(messages) or get_knowledge_base().handoff["outside_hours_eta"] in _texts(messages)
    assert not _paused(events)
