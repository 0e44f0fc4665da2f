"""Form validation: what each validator accepts, rejects and says."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Dict, List

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import (
    ActionAskAccountNumber,
    ActionAskDate,
    ActionAskDistrict,
    ActionAskServiceType,
    ActionAskTicketNumber,
    ValidateAppointmentForm,
    ValidateBillForm,
    ValidateOutageForm,
    ValidateStatusForm,
)
from actions.knowledge_base import get_knowledge_base


def _slots(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _filled(reply: str, **values: Any) -> List[str]:
    """Every filled variant of a reply, to recognise which one was said."""
    kb = get_knowledge_base()
    context = {**kb.context(), **values}
    return [v.format_map(context) for v in kb.replies.variants(reply)]


def _validate(validator, method: str, value: Any, tracker, domain) -> tuple:
    dispatcher = CollectingDispatcher()
    result = getattr(validator, method)(value, dispatcher, tracker, domain)
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return result, [m["text"] for m in dispatcher.messages]


# ------------------------------------------------------------------ bill form
@pytest.mark.parametrize(
    "value, expected",
    [
        ("4471203", "4471203"),
        ("٤٤٧١٢٠٣", "4471203"),  # Arabic-Indic
        ("۴۴۷۱۲۰۳", "4471203"),  # Persian
        ("٤٤٧ ١٢٠٣", "4471203"),
        ("رقم حسابي ٤٤٧-١٢٠٣", "4471203"),
        (["48203917"], "48203917"),
        ("٩١٤٠٧٢٦", "9140726"),
    ],
)
def test_bill_form_accepts_known_accounts_in_any_digits(value, expected, load_tracker, domain, store) -> None:
    result, said = _validate(ValidateBillForm(), "validate_account_number", value, load_tracker("bill_conversation.json"), domain)
    # known, and a code on its way to the phone on file (the web/REST conversation proves nothing)
    assert result == {"account_number": expected, "verification_code": None}
    assert len(said) == 1 and "واتساب" in said[0]


@pytest.mark.parametrize("value", ["12345", "١٢٣٤٥", "12345678901", "حسابي", ""])
def test_bill_form_rejects_malformed_numbers(value, load_tracker, domain) -> None:
    result, said = _validate(ValidateBillForm(), "validate_account_number", value, load_tracker("bill_conversation.json"), domain)
    assert result == {"account_number": None}
    assert len(said) == 1 and said[0] in _filled("invalid_account_number")


@pytest.mark.parametrize("value, digits", [("9999999", "9999999"), ("٩٩٩٩٩٩٩", "9999999"), ("١٢٣٤٥٦", "123456")])
def test_bill_form_rejects_unknown_accounts(value, digits, load_tracker, domain, store) -> None:
    result, said = _validate(ValidateBillForm(), "validate_account_number", value, load_tracker("bill_conversation.json"), domain)
    assert result == {"account_number": None}
    assert len(said) == 1 and said[0] in _filled("account_not_found", account=digits)


def test_bill_form_run_validates_the_answer_from_the_fixture(load_tracker, run, verify) -> None:
    verify("conv-bill-001", "4471203")
    messages, events = run(ValidateBillForm(), load_tracker("bill_conversation.json"))
    assert _slots(events)["account_number"] == "4471203"
    assert _slots(events)["verification_code"] == "verified"
    assert messages == []


def test_bill_form_reads_digits_the_nlu_did_not_tag(tracker_data, make_tracker, user_event, latest_from, run, store) -> None:
    data = tracker_data("bill_conversation.json")
    answer = user_event("٤٤٧١٢٠٣", "nlu_fallback")
    data["events"] = data["events"][:-2] + [answer]
    data["latest_message"] = latest_from(answer)
    messages, events = run(ValidateBillForm(), make_tracker(data, {"account_number": None}))
    assert _slots(events)["account_number"] == "4471203"


# ------------------------------------------------------------------ outage form
@pytest.mark.parametrize(
    "value, expected",
    [("electricity", "electricity"), ("water", "water"), ("internet", "internet"),
     ("الكهربا", "electricity"), ("الموية", "water"), ("النت", "internet")],
)
def test_outage_form_accepts_the_three_services(value, expected, load_tracker, domain) -> None:
    result, said = _validate(ValidateOutageForm(), "validate_service_type", value, load_tracker("outage_narjes.json"), domain)
    assert result == {"service_type": expected} and said == []


@pytest.mark.parametrize("value", ["gas", "الغاز", "تلفون", ""])
def test_outage_form_rejects_other_services(value, load_tracker, domain) -> None:
    result, said = _validate(ValidateOutageForm(), "validate_service_type", value, load_tracker("outage_narjes.json"), domain)
    assert result == {"service_type": None}
    assert len(said) == 1 and said[0] in _filled("invalid_service_type")


@pytest.mark.parametrize(
    "value, expected",
    [("النرجس", "النرجس"), ("حي النرجس", "النرجس"), ("  حي الروضة ", "الروضة"), ("حى الملقا", "الملقا"),
     ("الخبر الشمالية", "الخبر الشمالية"), ("حيي", "حيي"), ("", None), ("حي ", None), ("؟", None)],
)
def test_outage_form_district_is_kept_as_typed_without_hay(value, expected, load_tracker, domain) -> None:
    result, _ = _validate(ValidateOutageForm(), "validate_district", value, load_tracker("outage_narjes.json"), domain)
    assert result == {"district": expected}


def test_outage_form_takes_a_bare_district_answer(tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("outage_narjes.json")
    answer = user_event("حي الياسمين", "inform")
    data["events"] += [{"event": "bot", "text": "في أي حي أنت؟"}, answer]
    data["latest_message"] = latest_from(answer)
    _, events = run(ValidateOutageForm(), make_tracker(data, {"district": None, "requested_slot": "district"}))
    assert _slots(events)["district"] == "الياسمين"


def test_outage_form_does_not_take_a_question_as_district(tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("outage_narjes.json")
    question = user_event("متى تفتحون؟", "opening_hours")
    data["events"] += [question]
    data["latest_message"] = latest_from(question)
    _, events = run(ValidateOutageForm(), make_tracker(data, {"district": None, "requested_slot": "district"}))
    assert "district" not in _slots(events)


def test_outage_form_recognises_a_typed_service(tracker_data, make_tracker, user_event, latest_from, run) -> None:
    data = tracker_data("outage_narjes.json")
    answer = user_event("الواي فاي طبعا", "inform")
    data["events"] += [answer]
    data["latest_message"] = latest_from(answer)
    _, events = run(ValidateOutageForm(), make_tracker(data, {"service_type": None, "requested_slot": "service_type"}))
    assert _slots(events)["service_type"] == "internet"


# ------------------------------------------------------------------ appointment form
@pytest.mark.parametrize("value, expected", [("٩٩٩٩٩٩٩", None), ("4471203", "4471203"), ("١٢٣", None), ("abcdefg", None)])
def test_appointment_form_needs_a_known_verified_account(value, expected, load_tracker, domain, verify) -> None:
    verify("conv-appt-006", "4471203")
    result, said = _validate(ValidateAppointmentForm(), "validate_account_number", value, load_tracker("appointment_booking.json"), domain)
    assert result["account_number"] == expected
    assert result.get("verification_code") == ("verified" if expected else None)
    assert (said == []) is (expected is not None)


@pytest.mark.parametrize(
    "text, iso",
    [("بكرة", "2026-11-23"), ("بكرة الصبح", "2026-11-23"), ("bokra", "2026-11-23"), ("١٥/٣", "2027-03-15"),
     ("الأسبوع الجاي", "2026-11-29"), ("يوم الاثنين", "2026-11-23"), ("اليوم", "2026-11-22")],
)
def test_appointment_form_accepts_days_we_visit(text, iso, load_tracker, domain, fixed_clock) -> None:
    result, said = _validate(ValidateAppointmentForm(), "validate_date", text, load_tracker("appointment_booking.json"), domain)
    assert result == {"date": text, "appointment_date": iso}
    assert said == []


@pytest.mark.parametrize(
    "text, reply, values",
    [
        ("امس", "date_in_past", {}),
        ("1/1/2020", "date_in_past", {}),
        ("يوم الجمعة", "date_closed_day", {"day_name": "الجمعة"}),
        ("٢٧/١١", "date_closed_day", {"day_name": "الجمعة"}),
        ("لما تفضوا", "invalid_date", {}),
        ("31/2", "invalid_date", {}),
    ],
)
def test_appointment_form_rejects_with_the_reason(text, reply, values, load_tracker, domain, fixed_clock) -> None:
    result, said = _validate(ValidateAppointmentForm(), "validate_date", text, load_tracker("appointment_booking.json"), domain)
    assert result == {"date": None, "appointment_date": None}
    assert len(said) == 1 and said[0] in _filled(reply, **values)


def test_appointment_form_run_sets_the_iso_date(load_tracker, run, fixed_clock) -> None:
    messages, events = run(ValidateAppointmentForm(), load_tracker("appointment_booking.json"))
    slots = _slots(events)
    assert slots["date"] == "بكرة الصبح" and slots["appointment_date"] == "2026-11-23"
    assert messages == []


def test_appointment_form_reads_an_untagged_day(tracker_data, make_tracker, user_event, latest_from, run, fixed_clock) -> None:
    data = tracker_data("appointment_booking.json")
    answer = user_event("بعد بكرة العصر", "nlu_fallback")
    data["events"] = data["events"][:-2] + [answer]
    data["latest_message"] = latest_from(answer)
    _, events = run(ValidateAppointmentForm(), make_tracker(data, {"date": None}))
    assert _slots(events)["appointment_date"] == "2026-11-24"


def test_appointment_form_reads_the_day_meant_when_two_are_named(tracker_data, make_tracker, user_event, latest_from, run, fixed_clock) -> None:
    """"قلت لك اليوم مو بكره" (today, not tomorrow): the slot holds the last date entity,
    the message says which day is meant."""
    data = tracker_data("appointment_booking.json")
    text = "قلت لك اليوم مو بكره"
    entities = [{"entity": "date", "value": "اليوم", "start": 7, "end": 12}, {"entity": "date", "value": "بكره", "start": 16, "end": 20}]
    answer = user_event(text, "reschedule_appointment", entities)
    # Rasa's own mapping filled the slot from the last entity before the form ran
    data["events"] = data["events"][:-2] + [answer, {"event": "slot", "name": "date", "value": "بكره"}]
    data["latest_message"] = latest_from(answer)
    _, events = run(ValidateAppointmentForm(), make_tracker(data, {"date": "بكره"}))
    assert _slots(events)["appointment_date"] == "2026-11-22"


def test_appointment_form_lets_other_questions_through(tracker_data, make_tracker, user_event, latest_from, run, fixed_clock) -> None:
    data = tracker_data("appointment_booking.json")
    question = user_event("وين اقرب فرع؟", "branch_locations")
    data["events"] = data["events"][:-2] + [question]
    data["latest_message"] = latest_from(question)
    messages, events = run(ValidateAppointmentForm(), make_tracker(data, {"date": None}))
    assert "date" not in _slots(events) and messages == []


# ------------------------------------------------------------------ status form
@pytest.mark.parametrize("value", ["T-482913", "t482913", "482913", "٤٨٢٩١٣", "۴۸۲۹۱۳", "رقم الطلب T-482913"])
def test_status_form_accepts_any_spelling_of_a_known_ticket(value, load_tracker, domain, verify) -> None:
    verify("conv-status-007", "48203917")  # the demo ticket's account
    result, said = _validate(ValidateStatusForm(), "validate_ticket_number", value, load_tracker("status_request.json"), domain)
    assert result == {"ticket_number": "T-482913", "verification_code": "verified"} and said == []


def test_status_form_finds_tickets_created_in_redis(load_tracker, domain, store) -> None:
    ticket = store.create("outage", service="water", district="الروضة", conversation_id="conv-status-007")
    arabic = ticket.id[2:].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    result, _ = _validate(ValidateStatusForm(), "validate_ticket_number", arabic, load_tracker("status_request.json"), domain)
    assert result == {"ticket_number": ticket.id, "verification_code": "verified"}


@pytest.mark.parametrize("value, reply, values", [
    ("T-000001", "ticket_not_found", {"ticket": "T-000001"}),
    ("٠٠٠٠٠٢", "ticket_not_found", {"ticket": "T-000002"}),
    ("12345", "invalid_ticket_number", {}),
    ("الطلب حقي", "invalid_ticket_number", {}),
])
def test_status_form_rejects_unknown_or_malformed(value, reply, values, load_tracker, domain, store) -> None:
    result, said = _validate(ValidateStatusForm(), "validate_ticket_number", value, load_tracker("status_request.json"), domain)
    assert result == {"ticket_number": None}
    assert len(said) == 1 and said[0] in _filled(reply, **values)


def test_status_form_run_canonicalises_the_fixture_number(load_tracker, run, store) -> None:
    _, events = run(ValidateStatusForm(), load_tracker("status_request.json"))
    assert _slots(events)["ticket_number"] == "T-482913"


# ------------------------------------------------------------------ form questions
@pytest.mark.parametrize(
    "action, reply",
    [
        (ActionAskAccountNumber(), "ask_account_number"),
        (ActionAskServiceType(), "ask_service_type"),
        (ActionAskDistrict(), "ask_district"),
        (ActionAskDate(), "ask_date"),
        (ActionAskTicketNumber(), "ask_ticket_number"),
    ],
)
def test_form_questions_come_from_the_catalogue(action, reply, load_tracker, run) -> None:
    messages, events = run(action, load_tracker("bill_conversation.json"))
    assert events == [] and len(messages) == 1
    assert messages[0]["text"] in _filled(reply)


def test_service_question_has_three_buttons(load_tracker, run) -> None:
    messages, _ = run(ActionAskServiceType(), load_tracker("outage_narjes.json"))
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == ['/inform{"service_type":"electricity"}', '/inform{"service_type":"water"}', '/inform{"service_type":"internet"}']


def test_a_repeated_question_is_worded_differently(load_tracker, run) -> None:
    tracker = load_tracker("bill_conversation.json")  # its last bot message is an ask_account_number variant
    last = tracker.events[-4]["text"]
    assert last in _filled("ask_account_number")
    for _ in range(20):
        messages, _ = run(ActionAskAccountNumber(), tracker)
        assert messages[0]["text"] != last
