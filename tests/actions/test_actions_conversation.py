"""The submit, FAQ, fallback and handoff actions, run on tracker fixtures."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List
from zoneinfo import ZoneInfo

import pytest

from actions import settings
from actions.actions import (
    ActionAnswerFaq,
    ActionAnswerYesNo,
    ActionBillSummary,
    ActionBookAppointment,
    ActionDeclineHandoff,
    ActionFallback,
    ActionPlannedWork,
    ActionReportOutage,
    ActionRescheduleAppointment,
    ActionTicketStatus,
    consecutive_fallbacks,
)
from actions.handoff import ActionHandoff
from actions.knowledge_base import get_knowledge_base
from scripts.redis_server import free_port


def _slots(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _text(messages: List[Dict[str, Any]]) -> str:
    assert len(messages) == 1, messages
    return messages[0]["text"]


def _filled(reply: str, **values: Any) -> List[str]:
    kb = get_knowledge_base()
    context = {**kb.context(), **values}
    return [v.format_map(context) for v in kb.replies.variants(reply)]


# ------------------------------------------------------------------ bills
def test_bill_summary_for_a_demo_account(load_tracker, run, verify) -> None:
    verify("conv-bill-001", "4471203")
    messages, events = run(ActionBillSummary(), load_tracker("bill_conversation.json", account_number="٤٤٧١٢٠٣"))
    text = _text(messages)
    assert "4471203" in text
    assert "412.75 ريال" in text and "104.50 ريال" in text  # the unpaid October bills
    assert "517.25 ريال" in text  # their total
    assert "388.40" not in text  # September is paid and older: not listed
    assert "25/11/2026" in text and "أكتوبر 2026" in text
    assert _slots(events) == {"verification_code": None}  # the account stays for follow-up questions


def test_bill_summary_with_nothing_due(load_tracker, run, verify) -> None:
    verify("conv-bill-001", "48203917")
    messages, _ = run(ActionBillSummary(), load_tracker("bill_conversation.json", account_number="48203917"))
    text = _text(messages)
    assert "مسددة" in text and "299 ريال" in text
    assert text.split("\n")[0] in {v.split("\n")[0] for v in _filled("bill_nothing_due", account="48203917", bill_lines="")}


def test_bill_summary_lists_every_unpaid_bill_and_marks_overdue_ones(load_tracker, run, verify) -> None:
    verify("conv-bill-001", "9140726")
    messages, _ = run(ActionBillSummary(), load_tracker("bill_conversation.json", account_number="9140726"))
    text = _text(messages)
    assert "268 ريال" in text  # 87.25 + 91.00 + 89.75
    assert text.count("كان موعد استحقاقها") == 2  # August and September are past due
    assert "تُستحق في 25/11/2026" in text


def test_bill_summary_unknown_account_asks_again(load_tracker, run, fixed_clock) -> None:
    messages, events = run(ActionBillSummary(), load_tracker("bill_conversation.json", account_number="1111111"))
    assert _text(messages) in _filled("account_not_found", account="1111111")
    assert _slots(events) == {"account_number": None, "verification_code": None}


# ------------------------------------------------------------------ attacks: nothing without verification
def test_an_account_number_alone_shows_no_bill(load_tracker, run, store) -> None:
    # the slot filled (by the NLU, a forged payload or a form bug) but never verified
    messages, events = run(ActionBillSummary(), load_tracker("bill_conversation.json", account_number="4471203", verification_code="verified"))
    text = _text(messages)
    assert "412.75" not in text and "ريال" not in text
    assert text in _filled("verification_required")
    assert _slots(events) == {"account_number": None, "verification_code": None}


def test_verified_for_another_account_shows_no_bill(load_tracker, run, verify) -> None:
    verify("conv-bill-001", "48203917")
    messages, _ = run(ActionBillSummary(), load_tracker("bill_conversation.json", account_number="4471203"))
    assert "412.75" not in _text(messages)


def test_verified_in_another_conversation_shows_no_bill(load_tracker, run, verify) -> None:
    verify("someone-else", "4471203")
    messages, _ = run(ActionBillSummary(), load_tracker("bill_conversation.json", account_number="4471203"))
    assert "412.75" not in _text(messages)


def test_no_bill_and_no_refusal_twice_when_the_form_said_why(load_tracker, run, store) -> None:
    messages, _ = run(ActionBillSummary(), load_tracker("bill_conversation.json", account_number="4471203", verification_code="unavailable"))
    assert messages == []


def test_an_unverified_visit_is_not_booked(load_tracker, run, store) -> None:
    messages, _ = run(ActionBookAppointment(), load_tracker("appointment_booking.json", appointment_date="2026-11-23"))
    assert store.for_conversation("conv-appt-006") == []
    assert _text(messages) in _filled("verification_required")


def test_a_strangers_appointment_is_not_moved(load_tracker, run, store, verify) -> None:
    # verified for 6104827, naming the demo appointment of 48203917
    verify("conv-appt-006", "6104827")
    tracker = load_tracker("appointment_booking.json", account_number="6104827", ticket_number="T-482913", appointment_date="2026-11-24")
    run(ActionRescheduleAppointment(), tracker)
    assert store.get("T-482913").date == "2026-12-02"


def test_a_strangers_ticket_status_needs_verification(load_tracker, run, store) -> None:
    other = store.create("complaint", conversation_id="someone-else", account="4471203")
    for ticket_id in ("T-482913", other.id):
        messages, _ = run(ActionTicketStatus(), load_tracker("status_request.json", ticket_number=ticket_id))
        assert _text(messages) in _filled("verification_required"), ticket_id


# ------------------------------------------------------------------ outages
def test_known_outage_in_narjis_tells_cause_and_eta(load_tracker, run, store) -> None:
    kb = get_knowledge_base()
    outage = kb.known_outage("electricity", "النرجس")
    messages, events = run(ActionReportOutage(), load_tracker("outage_narjes.json"))
    text = _text(messages)
    assert outage.cause in text and outage.eta in text and outage.ticket in text
    assert store.for_conversation("conv-outage-002") == []  # no duplicate ticket
    assert _slots(events) == {"service_type": None, "district": None}


def test_known_outage_matches_district_typed_with_hay(load_tracker, run, store) -> None:
    messages, _ = run(ActionReportOutage(), load_tracker("outage_narjes.json", district="حي النرجس"))
    assert "T-310001" in _text(messages)


def test_new_outage_opens_a_ticket_with_the_promised_response_time(load_tracker, run, store) -> None:
    kb = get_knowledge_base()
    messages, events = run(ActionReportOutage(), load_tracker("outage_narjes.json", service_type="water"))
    tickets = store.for_conversation("conv-outage-002")
    assert len(tickets) == 1
    ticket = tickets[0]
    assert (ticket.kind, ticket.service, ticket.district, ticket.status) == ("outage", "water", "النرجس", "open")
    assert ticket.priority == "urgent"
    text = _text(messages)
    assert ticket.id in text and kb.response_time("water") in text
    assert _slots(events) == {"service_type": None, "district": None}

    # the same report again in the same conversation: no second ticket
    messages, _ = run(ActionReportOutage(), load_tracker("outage_narjes.json", service_type="water"))
    assert ticket.id in _text(messages)
    assert len(store.for_conversation("conv-outage-002")) == 1


def test_outage_when_redis_is_down_apologises_and_keeps_the_slots(load_tracker, run, no_redis) -> None:
    messages, events = run(ActionReportOutage(), load_tracker("outage_narjes.json", service_type="water"))
    assert _text(messages) in _filled("system_unavailable")
    assert events == []


# ------------------------------------------------------------------ appointments
def test_book_appointment_creates_a_ticket(load_tracker, run, store, verify) -> None:
    verify("conv-appt-006", "4471203")
    tracker = load_tracker("appointment_booking.json", appointment_date="2026-11-23")
    messages, events = run(ActionBookAppointment(), tracker)
    (ticket,) = store.for_conversation("conv-appt-006")
    assert (ticket.kind, ticket.status, ticket.account, ticket.date, ticket.window) == (
        "appointment", "scheduled", "4471203", "2026-11-23", "morning",
    )
    text = _text(messages)
    assert ticket.id in text and "الاثنين" in text and "23/11/2026" in text
    assert get_knowledge_base().window_label("morning") in text
    assert _slots(events) == {"date": None, "appointment_date": None, "verification_code": None}


def test_reschedule_moves_the_accounts_appointment(load_tracker, run, store, verify) -> None:
    verify("conv-appt-006", "4471203")
    existing = store.create("appointment", status="scheduled", account="4471203", date="2026-11-23", window="morning")
    tracker = load_tracker("appointment_booking.json", date="الخميس العصر", appointment_date="2026-11-26")
    messages, events = run(ActionRescheduleAppointment(), tracker)
    moved = store.get(existing.id)
    assert (moved.date, moved.window, moved.status) == ("2026-11-26", "afternoon", "rescheduled")
    text = _text(messages)
    assert existing.id in text and "الخميس" in text and "26/11/2026" in text
    assert _slots(events)["appointment_date"] is None


def test_reschedule_a_demo_appointment_by_ticket_number(load_tracker, run, store, verify) -> None:
    verify("conv-appt-006", "48203917")
    tracker = load_tracker("appointment_booking.json", account_number="48203917", ticket_number="T-482913", appointment_date="2026-11-24")
    messages, _ = run(ActionRescheduleAppointment(), tracker)
    assert store.get("T-482913").date == "2026-11-24"
    assert "T-482913" in _text(messages)


def test_reschedule_without_an_appointment_books_a_new_one(load_tracker, run, store, verify) -> None:
    verify("conv-appt-006", "6104827")
    tracker = load_tracker("appointment_booking.json", account_number="6104827", appointment_date="2026-11-24")
    messages, _ = run(ActionRescheduleAppointment(), tracker)
    (ticket,) = store.for_conversation("conv-appt-006")
    assert ticket.date == "2026-11-24"
    assert _text(messages) in _filled(
        "appointment_rescheduled_new", day_name="الثلاثاء", date="24/11/2026",
        window=get_knowledge_base().window_label("morning"), ticket=ticket.id,
    )


# ------------------------------------------------------------------ ticket status
def test_status_of_a_demo_appointment(load_tracker, run, store, verify) -> None:
    verify("conv-status-007", "48203917")
    messages, events = run(ActionTicketStatus(), load_tracker("status_request.json"))
    text = _text(messages)
    assert "T-482913" in text and "مجدول" in text and "الأربعاء" in text and "02/12/2026" in text
    assert _slots(events) == {"ticket_number": None, "verification_code": None}


def test_status_of_a_known_outage_ticket_gives_the_eta(load_tracker, run, store) -> None:
    kb = get_knowledge_base()
    messages, _ = run(ActionTicketStatus(), load_tracker("status_request.json", ticket_number="T-310001"))
    assert kb.known_outage("electricity", "النرجس").eta in _text(messages)


def test_status_of_a_new_ticket_shows_its_last_update(load_tracker, run, store) -> None:
    ticket = store.create("handoff", conversation_id="conv-status-007")
    messages, _ = run(ActionTicketStatus(), load_tracker("status_request.json", ticket_number=ticket.id))
    assert ticket.id in _text(messages) and "22/11/2026" in _text(messages) and "10:00" in _text(messages)


def test_status_of_an_unknown_ticket(load_tracker, run, store) -> None:
    messages, _ = run(ActionTicketStatus(), load_tracker("status_request.json", ticket_number="T-000009"))
    assert _text(messages) in _filled("ticket_not_found", ticket="T-000009")


# ------------------------------------------------------------------ FAQ
def test_olaya_branch_hours(load_tracker, run) -> None:
    kb = get_knowledge_base()
    (olaya,) = kb.branches_matching(district="العليا")
    messages, events = run(ActionAnswerFaq(), load_tracker("faq_olaya_hours.json"))
    text = _text(messages)
    assert olaya.name in text and olaya.hours in text
    assert olaya.hours != kb.context()["branch_hours"]  # the branch's own hours, not the general ones
    assert "الملقا" not in text
    assert _slots(events) == {"district": None}  # does not pre-fill a later outage form


def test_branch_locations_for_a_city(tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("faq_olaya_hours.json")
    question = user_event("وين فروعكم في جدة؟", "branch_locations", [{"entity": "city", "value": "جدة"}])
    data["events"] = data["events"][:-2] + [question]
    data["latest_message"] = latest_from(question)
    messages, events = run(ActionAnswerFaq(), make_tracker(data, {"district": None, "city": "جدة"}))
    text = _text(messages)
    assert "فرع الروضة" in text and "فرع الصفا" in text and "فرع الشاطئ (جدة)" in text
    assert "العليا" not in text and "الفيصلية" not in text
    assert _slots(events) == {"city": None}


def test_branch_question_for_a_district_without_branch(tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("faq_olaya_hours.json")
    question = user_event("في فرع بحي الياسمين؟", "branch_locations", [{"entity": "district", "value": "الياسمين"}])
    data["latest_message"] = latest_from(question)
    messages, _ = run(ActionAnswerFaq(), make_tracker(data, {"district": "الياسمين"}))
    text = _text(messages)
    assert "الياسمين" in text and "الرياض" in text and "جدة" in text


@pytest.mark.parametrize(
    "intent, fact",
    [
        ("opening_hours", lambda kb: kb.context()["branch_hours"]),
        ("branch_locations", lambda kb: kb.branches[0].address),
        ("contact_channels", lambda kb: kb.contact["whatsapp"]),
        ("payment_methods", lambda kb: kb.payment_channels[1]),
        ("payment_not_reflected", lambda kb: kb.faq["payment_not_reflected"]["reconnection"]),
        ("refund_request", lambda kb: kb.faq["refund_request"]["refund_time"]),
        ("meter_reading", lambda kb: kb.money(kb.fees["meter_test"]["amount"])),
        ("change_plan", lambda kb: kb.plans[0]["name"]),
        ("new_connection", lambda kb: kb.money(kb.fees["new_connection_electricity"]["amount"])),
        ("move_service", lambda kb: kb.money(kb.fees["move_service"]["amount"])),
        ("update_account_details", lambda kb: "النفاذ الوطني"),
        ("app_login_help", lambda kb: kb.faq["app_login_help"]["locked"]),
        ("slow_internet", lambda kb: kb.faq["slow_internet"]["followup"]),
        ("complaint", lambda kb: kb.contact["email"]),
        # a calm question for the regulator's website (EscalationPolicy sends only those here)
        ("escalation_threat", lambda kb: "هيئة تنظيم الكهرباء"),
    ],
)
def test_faq_answers_carry_the_facts(intent, fact, tracker_data, make_tracker, user_event, latest_from, run) -> None:
    kb = get_knowledge_base()
    data = tracker_data("faq_olaya_hours.json")
    question = user_event("سؤال", intent)
    data["events"] = data["events"][:-2] + [question]
    data["latest_message"] = latest_from(question)
    messages, _ = run(ActionAnswerFaq(), make_tracker(data, {"district": None}))
    text = _text(messages)
    assert fact(kb) in text
    assert "{" not in text


@pytest.mark.parametrize(
    "said, expected",
    [
        ([("ضغط الماء ضعيف في الدور الثاني", "water")], "faq_weak_water"),
        ([("الكهربا ضعيفة والنور يرجف", "electricity")], "faq_weak_electricity"),
        # the same question told again without the service: still the water's
        ([("the water pressure upstairs ضعيف", "water"), ("it's just slow مو مقطوع", None)], "faq_weak_water"),
        ([("النت بطيء", "internet")], "faq_slow_internet"),
        ([("النت بطيء", None)], "faq_slow_internet"),
    ],
)
def test_weak_water_or_electricity_is_not_answered_with_a_router_restart(said, expected, tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("faq_olaya_hours.json")
    data["events"] = data["events"][:-2]
    for text, service in said:
        entities = [{"entity": "service_type", "value": service, "start": 0, "end": 1}] if service else []
        data["events"].append(user_event(text, "slow_internet", entities))
    data["latest_message"] = latest_from(data["events"][-1])
    messages, _ = run(ActionAnswerFaq(), make_tracker(data, {"district": None}))
    assert _text(messages) in _filled(expected, **get_knowledge_base().faq_context("slow_internet"))


def test_a_follow_up_question_is_answered_about_the_topic_before_it(tracker_data, make_tracker, user_event, latest_from, run) -> None:
    """"و الـ email؟" after the contact channels: EscalationPolicy set the topic."""
    kb = get_knowledge_base()
    data = tracker_data("faq_olaya_hours.json")
    question = user_event("و الـ email؟", "nlu_fallback")
    data["events"].append(question)
    data["latest_message"] = latest_from(question)
    messages, events = run(ActionAnswerFaq(), make_tracker(data, {"district": None, "faq_topic": "contact_channels"}))
    assert kb.contact["email"] in messages[0]["text"]
    assert messages[-1]["text"] in _filled("faq_follow_up_more")
    assert _slots(events) == {"faq_topic": None}


def test_a_question_answered_in_context_is_no_misunderstanding(tracker_data, make_tracker, user_event) -> None:
    data = tracker_data("fallback_repeated.json")
    # the fallback before the latest one was answered as a follow-up, not asked again
    (answer,) = [e for e in data["events"] if e.get("name") == "action_fallback"]
    answer["name"] = "action_answer_faq"
    assert consecutive_fallbacks(make_tracker(data)) == 1


# ------------------------------------------------------------------ fallback
def test_first_fallback_asks_to_rephrase(load_tracker, run) -> None:
    tracker = load_tracker("fallback_once.json")
    assert consecutive_fallbacks(tracker) == 1
    messages, events = run(ActionFallback(), tracker)
    assert _text(messages) in _filled("fallback_rephrase")
    assert events == []


@pytest.mark.parametrize(
    "text, entities, reply",
    [
        # an account number nobody asked for asks what to do with it
        ("9140726", [{"entity": "account_number", "value": "9140726", "start": 0, "end": 7}], "account_unplaced"),
        # a code nobody asked for is not to be sent unasked
        ("طيب الكود ٥٥٨٢٠١", [], "code_unplaced"),
    ],
)
def test_a_number_nobody_asked_for_is_understood_and_placed(text, entities, reply, tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("fallback_once.json")
    data["events"].pop()
    given = user_event(text, "inform", entities)
    data["events"].append(given)
    data["latest_message"] = latest_from(given)
    tracker = make_tracker(data)
    assert consecutive_fallbacks(tracker) == 0  # a number is no misunderstanding
    messages, events = run(ActionFallback(), tracker)
    assert _text(messages) in _filled(reply)
    assert events == []


def test_a_message_in_urdu_is_told_in_english_and_arabic_which_languages_are_read(tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("fallback_once.json")
    data["events"].pop()
    said = user_event("bhai mera bijli ka meter kharab hai", "nlu_fallback")
    data["events"].append(said)
    data["latest_message"] = {**latest_from(said), "foreign_language": "urdu_hindi"}
    messages, events = run(ActionFallback(), make_tracker(data))
    assert _text(messages) in _filled("fallback_language")
    assert "English" in _text(messages) and "العربية" in _text(messages)


def test_second_fallback_offers_a_person(load_tracker, run) -> None:
    tracker = load_tracker("fallback_repeated.json")
    assert consecutive_fallbacks(tracker) == 2
    messages, events = run(ActionFallback(), tracker)
    assert messages[0]["text"] in _filled("fallback_offer_human")
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert _slots(events) == {"handoff_offered": True}


@pytest.mark.parametrize(
    "text, intent, response",
    [
        ("لا", "deny", "utter_goodbye"),
        ("لا شكرا", "deny", "utter_goodbye"),
        ("/deny", "deny", "utter_goodbye"),
        ("ايوه", "affirm", "utter_anything_else"),
        ("ok", "affirm", "utter_anything_else"),
    ],
)
def test_a_bare_yes_or_no_gets_its_usual_answer(text, intent, response, tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("faq_olaya_hours.json")
    said = user_event(text, intent)
    data["events"].append(said)
    data["latest_message"] = latest_from(said)
    messages, events = run(ActionAnswerYesNo(), make_tracker(data))
    assert [m.get("response") for m in messages] == [response] and events == []


@pytest.mark.parametrize(
    "text, intent",
    [("بس نحنا ما منستهلك هالقد، هاد مش منطقي", "deny"), ("لا مش هيك، الفاتورة فيها غلط", "deny"), ("ايوه بس العداد ما قريتوه صح", "affirm")],
)
def test_a_longer_message_read_as_yes_or_no_does_not_end_the_conversation(text, intent, tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("faq_olaya_hours.json")
    said = user_event(text, intent)
    data["events"].append(said)
    data["latest_message"] = latest_from(said)
    messages, events = run(ActionAnswerYesNo(), make_tracker(data))
    assert _text(messages) in _filled("statement_unplaced")
    assert not any(m.get("response") for m in messages) and events == []


def test_declining_a_person_withdraws_the_offer(load_tracker, run) -> None:
    tracker = load_tracker("fallback_repeated.json")
    messages, events = run(ActionDeclineHandoff(), tracker)
    assert _text(messages) in _filled("fallback_rephrase")
    assert _slots(events) == {"handoff_offered": False}


@pytest.mark.parametrize(
    "between, expected",
    [
        ([], 2),
        ([("الكهرباء", "inform", "service_type")], 1),  # an understood message breaks the run
        ([("عندي مشكلة", "nlu_fallback", None), ("كلام", "nlu_fallback", None)], 4),
        # a bare answer with nothing in it answers nothing
        ([("ؤرلاىةو ٧٧ ككك", "inform", None)], 3),
    ],
)
def test_fallbacks_are_counted_from_the_events(between, expected, tracker_data, make_tracker, user_event, latest_from) -> None:
    data = tracker_data("fallback_repeated.json")
    last = data["events"].pop()
    for text, intent, entity in between:
        entities = [{"entity": entity, "value": "electricity", "start": 0, "end": len(text)}] if entity else None
        data["events"] += [user_event(text, intent, entities), {"event": "bot", "text": "…"}]
    data["events"].append(last)
    assert consecutive_fallbacks(make_tracker(data)) == expected


def test_fallbacks_of_a_previous_session_do_not_count(tracker_data, make_tracker) -> None:
    data = tracker_data("fallback_repeated.json")
    last = data["events"].pop()
    data["events"] += [{"event": "action", "name": "action_session_start"}, {"event": "session_started"}, last]
    assert consecutive_fallbacks(make_tracker(data)) == 1


# ------------------------------------------------------------------ handoff
# With the handoff service the action queues the conversation (tests/actions/test_handoff.py);
# here the service is down, so the ticket goes to the Redis ticket store as before.
@pytest.fixture(autouse=True)
def _handoff_service_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HANDOFF_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HANDOFF_TIMEOUT_S", "1")


def test_handoff_creates_a_ticket_and_says_when(load_tracker, run, store) -> None:
    kb = get_knowledge_base()
    messages, events = run(ActionHandoff(), load_tracker("handoff_request.json"))
    (ticket,) = store.for_conversation("conv-handoff-008")
    assert (ticket.kind, ticket.reason, ticket.conversation_id, ticket.account) == (
        "handoff", "request_human", "conv-handoff-008", "4471203",
    )
    assert ticket.summary[-1] == "ابغى اكلم موظف لو سمحت"
    text = _text(messages)
    assert ticket.id in text and kb.handoff["within_hours_eta"] in text  # Sunday 10:00
    assert (ticket.reasons, ticket.priority) == (["explicit_request"], "normal")
    assert _slots(events) == {
        "handoff_offered": False,
        "requested_slot": None,
        "escalation_reasons": None,
        "escalation_priority": None,
        "escalation_evidence": None,
    }
    assert any(e["event"] == "active_loop" and e["name"] is None for e in events)  # any open form is closed


def _angry_outage_tracker(data, make_tracker, latest_from, user_event, dialect="gulf"):
    text = "والله للمرة الثالثة أتصل وما أحد يرد عليّ، النت فاصل من ثلاث أيام!!"
    message = user_event(text, "report_outage", [{"entity": "service_type", "value": "internet", "start": 40, "end": 42}])
    message["parse_data"]["signals"] = {
        "frustration": {"level": "angry", "score": 0.93},
        "urgency": {"service": "internet", "score": 0.97},
        "dialect": {"label": dialect, "score": 0.9},
    }
    data["events"].append(message)
    data["latest_message"] = {**latest_from(message), "signals": message["parse_data"]["signals"]}
    return make_tracker(data, {"escalation_reasons": ["essential_outage", "angry"], "escalation_priority": "urgent"})


def test_escalated_outage_carries_reasons_priority_and_service(tracker_data, make_tracker, latest_from, user_event, run, store) -> None:
    tracker = _angry_outage_tracker(tracker_data("handoff_request.json"), make_tracker, latest_from, user_event)
    messages, _ = run(ActionHandoff(), tracker)
    (ticket,) = store.for_conversation("conv-handoff-008")
    assert ticket.reasons == ["essential_outage", "angry"]
    assert (ticket.priority, ticket.service) == ("urgent", "internet")
    kb = get_knowledge_base()
    lead = messages[0]["text"]
    apologies = kb.replies.variants("empathy_apologise_gulf")
    assert any(lead.startswith(a) for a in apologies)  # angry Gulf customer: Gulf apology
    assert kb.service("internet").name in lead
    assert ticket.id in messages[1]["text"]


def test_calm_customers_get_no_apology(load_tracker, run, store) -> None:
    kb = get_knowledge_base()
    messages, _ = run(ActionAnswerFaq(), load_tracker("faq_olaya_hours.json"))
    leads = [v for key in ("acknowledge", "apologise") for d in ("msa", "gulf", "egyptian", "levantine") for v in kb.replies.variants(f"empathy_{key}_{d}")]
    assert not any(_text(messages).startswith(lead) for lead in leads)
    assert "أعتذر" not in _text(messages) and "آسف" not in _text(messages)


def test_handoff_outside_hours_promises_the_next_opening(load_tracker, run, store, monkeypatch) -> None:
    monkeypatch.setattr(settings, "now", lambda: datetime(2026, 11, 22, 23, 30, tzinfo=ZoneInfo("Asia/Riyadh")))
    messages, _ = run(ActionHandoff(), load_tracker("handoff_request.json"))
    assert get_knowledge_base().handoff["outside_hours_eta"] in _text(messages)


def test_handoff_after_yes_to_the_offer_records_the_misunderstanding(tracker_data, make_tracker, user_event, latest_from, run, store) -> None:
    data = tracker_data("fallback_repeated.json")
    yes = user_event("/affirm", "affirm")
    data["events"] += [{"event": "bot", "text": "هل تريد أن أحوّلك؟"}, yes]
    data["latest_message"] = latest_from(yes)
    run(ActionHandoff(), make_tracker(data, {"handoff_offered": True}))
    (ticket,) = store.for_conversation("conv-fallback-004")
    assert ticket.reason == "nlu_fallback"
    assert "/affirm" not in ticket.summary


def test_handoff_when_redis_is_down_is_honest(load_tracker, run, no_redis) -> None:
    messages, events = run(ActionHandoff(), load_tracker("handoff_request.json"))
    text = _text(messages)
    assert text in _filled("system_unavailable") and get_knowledge_base().contact["phone"] in text
    assert _slots(events)["handoff_offered"] is False


def test_a_question_about_planned_works_gets_the_known_ones(tracker_data, make_tracker, user_event, latest_from, run) -> None:
    kb = get_knowledge_base()
    (narjis,) = [o for o in kb.outages if o.kind == "planned" and o.district == "النرجس"]
    data = tracker_data("faq_olaya_hours.json")
    question = user_event("هو في صيانة للكهربا بكرة في النرجس؟", "inform",
                          [{"entity": "service_type", "value": "electricity"}, {"entity": "district", "value": "النرجس"}])
    data["events"].append(question)
    data["latest_message"] = latest_from(question)
    messages, _ = run(ActionPlannedWork(), make_tracker(data, {"district": "النرجس"}))
    assert narjis.cause in _text(messages) and narjis.eta in _text(messages)
    # a district without planned works is told so, by name
    elsewhere = user_event("في صيانة مبرمجة بالروضة؟", "nlu_fallback", [{"entity": "district", "value": "الروضة"}])
    data["events"][-1] = elsewhere
    data["latest_message"] = latest_from(elsewhere)
    messages, _ = run(ActionPlannedWork(), make_tracker(data, {"district": "الروضة"}))
    assert "الروضة" in _text(messages) and _text(messages) in _filled("planned_work_none", place=" في حي الروضة")


@pytest.mark.parametrize(
    "text, reply",
    [
        ("w iza n2at3et fje2a shu lazem a3mel?", "outage_if"),
        ("بس شغال مو فاصل", "outage_working"),
        ("امس انقطعت الكهربا عندنا بالنسيم ساعتين", "outage_over"),
        ("احنا بالدوام الكهربا طافية من ساعة", "outage_elsewhere"),
    ],
)
def test_an_outage_report_its_words_rule_out_is_answered_for_what_it_is(text, reply, tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("faq_olaya_hours.json")
    message = user_event(text, "report_outage", [])
    data["events"].append(message)
    data["latest_message"] = latest_from(message)
    messages, events = run(ActionPlannedWork(), make_tracker(data, {}))
    assert _text(messages) in _filled(reply) and events == []


def test_a_follow_up_question_read_as_angry_is_answered_without_an_apology(tracker_data, make_tracker, user_event, latest_from, run) -> None:
    """The signals model reads many follow-up questions as upset ("ok done. also how do I
    check my bill from the app?" angry 0.64); a question asked on its own still gets the
    acknowledgement its mood calls for."""
    angry = {"frustration": {"level": "angry", "score": 0.9, "probabilities": {"calm": 0.05, "annoyed": 0.1, "angry": 0.85}}}

    def answered(intent: str, topic: str | None) -> str:
        data = tracker_data("faq_olaya_hours.json")
        question = user_event("w iza ma wesselne el sms?", intent)
        data["events"].append(question)
        data["latest_message"] = {**latest_from(question), "signals": angry}
        messages, _ = run(ActionAnswerFaq(), make_tracker(data, {"district": None, "faq_topic": topic}))
        return messages[0]["text"]

    faq = _filled("faq_app_login_help", **get_knowledge_base().faq_context("app_login_help"))
    assert answered("nlu_fallback", "app_login_help") in faq  # the answer alone
    assert answered("app_login_help", None) not in faq  # led by an acknowledgement
