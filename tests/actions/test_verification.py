"""Verified customers: attacks on account data, each refused, and the customer's way through.

Runs the form validation actions on tracker fixtures against the test Redis; the
one-time codes are read from the WhatsApp outbox queue, where the Rasa process's
worker would pick them up.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional

import pytest
import redis as sync_redis
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.actions import ActionBillSummary, ActionTicketStatus
from actions.forms import ValidateAppointmentForm, ValidateBillForm, ValidateStatusForm
from actions.knowledge_base import get_knowledge_base
from actions.verification import code_in, get_verifier, international_digits

PHONE_4471203 = "966551000101"  # accounts.yml: +966551000101
PHONE_48203917 = "966551000102"


def _slots(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def _texts(messages: List[Dict[str, Any]]) -> List[str]:
    return [m["text"] for m in messages]


def _said(reply: str, texts: List[str], **values: Any) -> bool:
    kb = get_knowledge_base()
    context = {**kb.context(), **values}
    variants = {v.format_map(context) for v in kb.replies.variants(reply)}
    return any(text in variants for text in texts)


class Conversation:
    """A bill (or other) form conversation, one customer message at a time."""

    def __init__(self, tracker_data, make_tracker, user_event, latest_from, run, fixture: str, sender: str, channel: str = "rest") -> None:
        self.data = tracker_data(fixture)
        self.data["sender_id"] = sender
        self.make_tracker, self.user_event, self.latest_from, self.run = make_tracker, user_event, latest_from, run
        self.channel = channel
        self.data["events"] = [e for e in self.data["events"] if e.get("event") != "slot"]
        self.slots: Dict[str, Any] = {}

    def say(self, text: str, requested_slot: str, entities: Optional[List[Dict[str, Any]]] = None, **mapped: Any):
        """The customer's message, Rasa's slot mappings (``mapped``), then the form's validation."""
        event = {**self.user_event(text, "inform", entities), "input_channel": self.channel}
        self.data["events"] = self.data["events"] + [event] + [{"event": "slot", "name": k, "value": v} for k, v in mapped.items()]
        self.data["latest_message"] = self.latest_from(event)
        tracker = self.make_tracker(self.data, {**self.slots, **mapped, "requested_slot": requested_slot})
        return tracker

    def validate(self, form, tracker) -> tuple:
        messages, events = self.run(form, tracker)
        slots = _slots(events)
        self.slots.update(slots)
        self.data["events"] = self.data["events"] + [e for e in events if e.get("event") == "slot"]
        return _texts(messages), slots


@pytest.fixture
def conversation(tracker_data, make_tracker, user_event, latest_from, run, store):
    def start(sender: str, fixture: str = "bill_conversation.json", channel: str = "rest") -> Conversation:
        return Conversation(tracker_data, make_tracker, user_event, latest_from, run, fixture, sender, channel)

    return start


def _verified(conversation_id: str, account: str) -> bool:
    async def ask() -> bool:
        return await get_verifier().is_verified(conversation_id, account)

    return asyncio.run(ask())


# ------------------------------------------------------------------ the customer's way through
def test_a_typed_account_number_sends_a_code_and_the_right_code_shows_the_bill(conversation, sent_codes, run) -> None:
    chat = conversation("web-abc")
    texts, slots = chat.validate(ValidateBillForm(), chat.say("رقم حسابي ٤٤٧١٢٠٣", "account_number", account_number="٤٤٧١٢٠٣"))
    # Rasa's form asks next for the first empty required slot: the code
    assert slots["account_number"] == "4471203" and slots["verification_code"] is None
    assert _said("verification_sent", texts, hint="••01")
    (code,) = sent_codes(PHONE_4471203)
    # the code in Arabic-Indic digits; the NLU tags six digits as an account number
    arabic = code.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    texts, slots = chat.validate(ValidateBillForm(), chat.say(f"الرمز {arabic}", "verification_code", account_number=arabic, ticket_number=f"T-{code}"))
    assert slots["verification_code"] == "verified"
    assert slots["account_number"] == "4471203"  # the code did not replace the account
    assert slots["ticket_number"] is None  # nor became a ticket number for a later form
    assert _verified("web-abc", "4471203")
    messages, _ = run(ActionBillSummary(), chat.make_tracker(chat.data, {**chat.slots}))
    assert "412.75" in messages[0]["text"]


def test_a_wrong_code_asks_again_and_counts_down(conversation, sent_codes) -> None:
    chat = conversation("web-wrong")
    chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    (code,) = sent_codes(PHONE_4471203)
    wrong = "000000" if code != "000000" else "111111"
    texts, slots = chat.validate(ValidateBillForm(), chat.say(wrong, "verification_code"))
    assert slots["verification_code"] is None
    assert _said("verification_wrong", texts, remaining=4)
    assert not _verified("web-wrong", "4471203")


def test_naming_the_same_account_again_does_not_send_another_code(conversation, sent_codes) -> None:
    chat = conversation("web-again")
    chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    assert len(sent_codes(PHONE_4471203)) == 1


def test_whatsapp_from_the_phone_on_file_needs_no_code(conversation, sent_codes) -> None:
    chat = conversation(PHONE_4471203, channel="whatsapp")
    texts, slots = chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    assert slots["verification_code"] == "verified" and texts == []
    assert sent_codes(PHONE_4471203) == []


def test_twilio_from_the_phone_on_file_needs_no_code(conversation) -> None:
    chat = conversation("whatsapp:+966551000101", channel="twilio")
    _, slots = chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    assert slots["verification_code"] == "verified"


# ------------------------------------------------------------------ attacks
def test_a_sender_id_that_looks_like_the_phone_proves_nothing_off_whatsapp(conversation, sent_codes) -> None:
    # REST refuses such sender ids anyway (400 foreign_sender); the verifier does not trust them either
    chat = conversation(PHONE_4471203, channel="rest")
    _, slots = chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    assert slots["verification_code"] is None
    assert len(sent_codes(PHONE_4471203)) == 1


def test_whatsapp_from_another_phone_gets_a_code_sent_to_the_phone_on_file(conversation, sent_codes) -> None:
    chat = conversation("966559999999", channel="whatsapp")
    _, slots = chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    assert slots["verification_code"] is None
    assert len(sent_codes(PHONE_4471203)) == 1 and sent_codes("966559999999") == []


def test_guessing_codes_locks_the_account_for_every_conversation(conversation, sent_codes) -> None:
    chat = conversation("web-guess")
    chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    (code,) = sent_codes(PHONE_4471203)
    guesses = [f"{n:06d}" for n in range(1, 10) if f"{n:06d}" != code][:5]
    for guess in guesses[:4]:
        chat.validate(ValidateBillForm(), chat.say(guess, "verification_code"))
    texts, slots = chat.validate(ValidateBillForm(), chat.say(guesses[4], "verification_code"))
    assert slots["verification_code"] == "unavailable" and _said("verification_locked", texts)
    # even the right code is refused now, and a second conversation gets no new code
    texts, slots = chat.validate(ValidateBillForm(), chat.say(code, "verification_code"))
    assert slots["verification_code"] == "unavailable"
    other = conversation("web-guess-2")
    texts, slots = other.validate(ValidateBillForm(), other.say("4471203", "account_number", account_number="4471203"))
    assert slots["verification_code"] == "unavailable" and _said("verification_locked", texts)
    assert len(sent_codes(PHONE_4471203)) == 1
    assert not _verified("web-guess", "4471203") and not _verified("web-guess-2", "4471203")


def test_codes_per_account_are_limited(conversation, sent_codes) -> None:
    for n in range(3):
        chat = conversation(f"web-flood-{n}")
        chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    chat = conversation("web-flood-3")
    texts, slots = chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    assert slots["verification_code"] == "unavailable" and _said("verification_too_many_codes", texts)
    assert len(sent_codes(PHONE_4471203)) == 3


def test_trying_many_account_numbers_in_one_conversation_is_stopped(conversation, redis_url) -> None:
    chat = conversation("web-scraper")
    numbers = ["1000001", "1000002", "1000003", "1000004", "1000005"]
    for number in numbers:
        texts, slots = chat.validate(ValidateBillForm(), chat.say(number, "account_number", account_number=number))
        assert _said("account_not_found", texts, account=number)
    texts, slots = chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    assert slots["verification_code"] == "unavailable" and _said("verification_too_many_lookups", texts)
    client = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert 0 < client.ttl("verify:seen:web-scraper") <= 3600  # the hour is counted from the first number
    finally:
        client.close()


def test_the_code_is_never_stored_as_typed(conversation, sent_codes, redis_url) -> None:
    chat = conversation("web-store")
    chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    (code,) = sent_codes(PHONE_4471203)
    client = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for key in client.scan_iter("verify:*"):
            dump = str(client.hgetall(key) if client.type(key) == "hash" else client.get(key) if client.type(key) == "string" else "")
            assert code not in dump, key
    finally:
        client.close()


def test_an_appointment_needs_the_account_verified(conversation, sent_codes) -> None:
    chat = conversation("web-visit", fixture="appointment_booking.json")
    texts, slots = chat.validate(ValidateAppointmentForm(), chat.say("4471203", "account_number", account_number="4471203"))
    assert slots["verification_code"] is None
    assert len(sent_codes(PHONE_4471203)) == 1


def test_another_customers_ticket_needs_their_code(conversation, sent_codes, run) -> None:
    chat = conversation("web-ticket", fixture="status_request.json")
    texts, slots = chat.validate(ValidateStatusForm(), chat.say("T-482913", "ticket_number", ticket_number="T-482913"))
    assert slots["ticket_number"] == "T-482913" and slots["verification_code"] is None
    (code,) = sent_codes(PHONE_48203917)  # the ticket's account's phone, not the asker's
    messages, _ = run(ActionTicketStatus(), chat.make_tracker(chat.data, {**chat.slots}))
    assert "مجدول" not in messages[0]["text"]
    _, slots = chat.validate(ValidateStatusForm(), chat.say(code, "verification_code", ticket_number=code))
    assert slots["verification_code"] == "verified" and slots["ticket_number"] == "T-482913"
    messages, _ = run(ActionTicketStatus(), chat.make_tracker(chat.data, {**chat.slots}))
    assert "T-482913" in messages[0]["text"] and "مجدول" in messages[0]["text"]


def test_a_ticket_without_an_account_stays_with_its_conversation(conversation, store) -> None:
    ticket = store.create("outage", conversation_id="web-owner", service="water", district="الروضة")
    chat = conversation("web-stranger", fixture="status_request.json")
    texts, slots = chat.validate(ValidateStatusForm(), chat.say(ticket.id, "ticket_number", ticket_number=ticket.id))
    assert slots["verification_code"] == "unavailable" and _said("verification_ticket_elsewhere", texts)


# ------------------------------------------------------------------ pure helpers
@pytest.mark.parametrize(
    "typed, digits",
    [
        ("+966551000101", "966551000101"), ("00966551000101", "966551000101"), ("0551000101", "966551000101"),
        ("٠٥٥١٠٠٠١٠١", "966551000101"), ("055 100 0101", "966551000101"), ("(055) 100-0101", "966551000101"),
        ("whatsapp:+966551000101", "966551000101"), ("966551000101", "966551000101"),
        ("+20 100 123 4567", "201001234567"), ("12", None), ("", None), (None, None),
    ],
)
def test_international_digits(typed, digits) -> None:
    assert international_digits(typed) == digits


@settings(max_examples=60, deadline=None)
@given(code=st.integers(min_value=0, max_value=999_999), script=st.sampled_from(["0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹"]),
       before=st.sampled_from(["", "الرمز ", "code: ", "رمز التحقق هو "]), after=st.sampled_from(["", " شكرا", "\u200f"]))
def test_a_code_is_read_in_any_digit_script_and_wording(code, script, before, after) -> None:
    typed = f"{code:06d}".translate(str.maketrans("0123456789", script))
    assert code_in(before + typed + after) == f"{code:06d}"


def test_two_numbers_are_not_a_code() -> None:
    assert code_in("123456 أو 654321") is None


@pytest.mark.parametrize("said", ["ما وصلني الرمز", "الكود ما جاني", "مجاش الكود", "ابعتولي كود جديد", "ma wesel el code", "I didn't get the code"])
def test_the_code_did_not_arrive_sends_a_new_one(said, conversation, sent_codes) -> None:
    chat = conversation("web-resend")
    chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    texts, slots = chat.validate(ValidateBillForm(), chat.say(said, "verification_code"))
    assert slots["verification_code"] is None and _said("verification_sent", texts, hint="••01")
    first, second = sent_codes(PHONE_4471203)
    if first != second:  # the old code stopped working
        _, slots = chat.validate(ValidateBillForm(), chat.say(first, "verification_code"))
        assert slots["verification_code"] is None
    _, slots = chat.validate(ValidateBillForm(), chat.say(second, "verification_code"))
    assert slots["verification_code"] == "verified"


def test_asking_again_and_again_runs_into_the_code_limit(conversation, sent_codes) -> None:
    chat = conversation("web-resend-flood")
    chat.validate(ValidateBillForm(), chat.say("4471203", "account_number", account_number="4471203"))
    for _ in range(2):
        chat.validate(ValidateBillForm(), chat.say("ما وصل", "verification_code"))
    texts, slots = chat.validate(ValidateBillForm(), chat.say("ما وصل", "verification_code"))
    assert slots["verification_code"] == "unavailable" and _said("verification_too_many_codes", texts)
    assert len(sent_codes(PHONE_4471203)) == 3
