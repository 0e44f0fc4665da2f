"""Form validation and form questions.

Each ``validate_<form>`` action checks what the customer gave and either keeps
a clean value or says kindly what was missing and sets the slot back to
``None``, so the form asks again (with a different wording, thanks to the
reply picker).

Besides validating entities the NLU found, each form also reads the raw answer
to the question it just asked (``extract_<slot>``): a bare "٤٤٧١٢٠٣" or
"النرجس" must fill the slot even when the NLU did not tag it. Free text is only
taken for the question actually asked, and only when it looks like an answer,
so a customer who changes the subject is not trapped in the form.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional

import redis
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import settings
from actions.billing import clean_account_number, get_billing_client
from actions.dates import parse_date
from actions.knowledge_base import get_knowledge_base, match_key, strip_district_word
from actions.tickets import Ticket, canonical_ticket_id, get_ticket_store
from actions.verification import (
    RESEND,
    UNAVAILABLE,
    VERIFICATION_SLOT,
    VERIFIED,
    asks_for_a_new_code,
    get_verifier,
    shared_without_verification,
)
from bot.nlu.arabic_text import fold_digits

# Longest district name we accept as typed; longer free text is a sentence,
# not a district, and asking again is kinder than filing it.
MAX_DISTRICT_CHARS = 40


def _first(value: Any) -> Any:
    """The first item when an entity came twice in one message."""
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _answer_to(tracker: Tracker, slot: str) -> str | None:
    """The latest message's text when it answers the question about ``slot``.

    ``None`` when the form asked for another slot, or when the NLU already
    tagged an entity for this slot (Rasa's own mapping then filled it).
    """
    if tracker.get_slot("requested_slot") != slot:
        return None
    if next(tracker.get_latest_entity_values(slot), None) is not None:
        return None
    text = (tracker.latest_message or {}).get("text") or ""
    if not text.strip() or text.startswith("/"):
        return None
    return text.strip()


def _intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def _has_digits(text: str) -> bool:
    return any(ch.isdigit() for ch in fold_digits(text))


def _check_account_format(value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> str | None:
    """The clean account number, or ``None`` after telling the customer why."""
    number = clean_account_number(value)
    if number is None:
        get_knowledge_base().say(dispatcher, tracker, "invalid_account_number")
    return number


def _extract_account_number(tracker: Tracker) -> Dict[str, Any]:
    text = _answer_to(tracker, "account_number")
    # Any digits count as an attempt: a too-short number deserves an explanation.
    return {"account_number": text} if text and _has_digits(text) else {}


def _previous_value(tracker: Tracker, slot: str) -> Any:
    """``slot``'s value before the latest message (Rasa already applied its mappings)."""
    value = None
    latest_user = max((i for i, e in enumerate(tracker.events) if e.get("event") == "user"), default=len(tracker.events))
    for event in tracker.events[:latest_user]:
        if event.get("event") == "slot" and event.get("name") == slot:
            value = event.get("value")
    return value


def _typing_the_code(tracker: Tracker) -> bool:
    """True while the form waits for the code: digits then are the code, not a new number."""
    return tracker.get_slot("requested_slot") == VERIFICATION_SLOT


async def _start_verification(
    dispatcher: CollectingDispatcher, tracker: Tracker, account: str, phone: Optional[str], fresh: bool = False
) -> Dict[str, Any]:
    """The verification slot once an account is named: verified, waiting for a code, or why not.

    Verified at once when this conversation already proved the account or writes from
    its phone on file; otherwise a one-time code goes to that phone.
    """
    kb = get_knowledge_base()
    verifier = get_verifier()
    try:
        if await verifier.is_verified(tracker.sender_id, account) or await verifier.verify_by_channel(
            tracker.sender_id, tracker.get_latest_input_channel(), account, phone
        ):
            return {VERIFICATION_SLOT: VERIFIED}
        if not fresh and await verifier.has_active_code(tracker.sender_id, account):
            return {VERIFICATION_SLOT: None}  # the same account again: the code sent is still good
        started = await verifier.send_code(tracker.sender_id, account, phone)
    except redis.RedisError:
        kb.say(dispatcher, tracker, "system_unavailable")
        return {VERIFICATION_SLOT: UNAVAILABLE}
    if started.sent:
        kb.say(dispatcher, tracker, "verification_sent", hint=started.hint)
        return {VERIFICATION_SLOT: None}
    kb.say(dispatcher, tracker, f"verification_{started.status}")
    return {VERIFICATION_SLOT: UNAVAILABLE}


# Slots the NLU may fill from a typed code's six digits (a ticket or account number).
_NUMBER_SLOTS = ("account_number", "ticket_number", "phone_number")


async def _check_code(
    dispatcher: CollectingDispatcher, tracker: Tracker, value: Any, account: Optional[str], phone: Optional[str]
) -> Dict[str, Any]:
    """Validate a typed one-time code for ``account``.

    The code's digits are not a new ticket or account number: number slots the
    message filled get their previous values back, so a later form starts clean.
    """
    restored = {slot: _previous_value(tracker, slot) for slot in _NUMBER_SLOTS if slot in tracker.slots_to_validate()}
    return {**restored, **await _checked_code(dispatcher, tracker, value, account, phone)}


async def _checked_code(
    dispatcher: CollectingDispatcher, tracker: Tracker, value: Any, account: Optional[str], phone: Optional[str]
) -> Dict[str, Any]:
    if value in (VERIFIED, UNAVAILABLE):
        return {VERIFICATION_SLOT: value}
    if account is None:
        return {VERIFICATION_SLOT: None}
    kb = get_knowledge_base()
    if value == RESEND:
        # a fresh code (the limits per account still apply); the old one stops working
        return await _start_verification(dispatcher, tracker, account, phone, fresh=True)
    try:
        checked = await get_verifier().check_code(tracker.sender_id, account, value)
    except redis.RedisError:
        kb.say(dispatcher, tracker, "system_unavailable")
        return {VERIFICATION_SLOT: UNAVAILABLE}
    if checked.status == "ok":
        return {VERIFICATION_SLOT: VERIFIED}
    if checked.status == "wrong":
        kb.say(dispatcher, tracker, "verification_wrong", remaining=checked.remaining)
        return {VERIFICATION_SLOT: None}
    if checked.status == "expired":
        kb.say(dispatcher, tracker, "verification_expired")
        return await _start_verification(dispatcher, tracker, account, phone)
    kb.say(dispatcher, tracker, "verification_locked")
    return {VERIFICATION_SLOT: UNAVAILABLE}


def _extract_code(tracker: Tracker) -> Dict[str, Any]:
    text = _answer_to(tracker, VERIFICATION_SLOT)
    if text and asks_for_a_new_code(text):
        return {VERIFICATION_SLOT: RESEND}
    return {VERIFICATION_SLOT: text} if text and _has_digits(text) else {}


async def _validate_account(
    value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> Dict[str, Any]:
    """An account billing knows, within the lookup limits, then its verification."""
    if _typing_the_code(tracker):
        return {"account_number": _previous_value(tracker, "account_number")}
    number = _check_account_format(value, dispatcher, tracker)
    if number is None:
        return {"account_number": None}
    kb = get_knowledge_base()
    try:
        allowed = await get_verifier().allow_lookup(tracker.sender_id, number)
    except redis.RedisError:
        kb.say(dispatcher, tracker, "system_unavailable")
        return {"account_number": number, VERIFICATION_SLOT: UNAVAILABLE}
    if not allowed:
        kb.say(dispatcher, tracker, "verification_too_many_lookups")
        return {"account_number": number, VERIFICATION_SLOT: UNAVAILABLE}
    account = get_billing_client().find_account(number)
    if account is None:
        kb.say(dispatcher, tracker, "account_not_found", account=number)
        return {"account_number": None}
    return {"account_number": number, **await _start_verification(dispatcher, tracker, number, account.phone)}


def _account_phone(number: Any) -> Optional[str]:
    account = get_billing_client().find_account(str(number)) if number else None
    return account.phone if account else None


class _AsksForTheCode:
    """Reads the one-time code the form asked for (forms that verify someone)."""

    async def extract_verification_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return _extract_code(tracker)


class _VerifiesTheAccount(_AsksForTheCode):
    """An account number the form asks for, then the code sent to its phone on file."""

    async def extract_account_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return _extract_account_number(tracker)

    async def validate_account_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """6-10 digits in any script, an account billing knows, then its verification."""
        return await _validate_account(value, dispatcher, tracker)

    async def validate_verification_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """The one-time code sent to the account's phone on file."""
        number = clean_account_number(tracker.get_slot("account_number"))
        return await _check_code(dispatcher, tracker, value, number, _account_phone(number))


class ValidateBillForm(_VerifiesTheAccount, FormValidationAction):
    """Validates the account number of the bill form (format, existence, verification)."""

    def name(self) -> str:
        return "validate_bill_form"


class ValidateOutageForm(FormValidationAction):
    """Validates the service and the district of an outage report."""

    def name(self) -> str:
        return "validate_outage_form"

    async def extract_service_type(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        text = _answer_to(tracker, "service_type")
        if not text:
            return {}
        kb = get_knowledge_base()
        words = text.split()
        # the whole answer, then word pairs ("واي فاي"), then single words
        for candidate in [text] + [" ".join(p) for p in zip(words, words[1:], strict=False)] + words:
            service = kb.service(candidate)
            if service:
                return {"service_type": service.id}
        return {}

    async def extract_district(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        text = _answer_to(tracker, "district")
        # Only a bare answer: "متى تفتحون؟" in the middle of the form is a question.
        return {"district": text} if text and _intent(tracker) == "inform" else {}

    def validate_service_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """electricity, water or internet (raw words are resolved via the aliases)."""
        kb = get_knowledge_base()
        service = kb.service(_first(value))
        if service is None:
            kb.say(dispatcher, tracker, "invalid_service_type")
            return {"service_type": None}
        return {"service_type": service.id}

    def validate_district(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """The district as typed, without a leading "حي"."""
        district = strip_district_word(_first(value) or "")
        if not match_key(district) or len(district) > MAX_DISTRICT_CHARS:
            return {"district": None}
        return {"district": district}


class ValidateAppointmentForm(_VerifiesTheAccount, FormValidationAction):
    """Validates the account (verified: a visit goes to the holder's home) and the visit date."""

    def name(self) -> str:
        return "validate_appointment_form"

    async def extract_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        text = _answer_to(tracker, "date")
        if not text:
            return {}
        if parse_date(text, settings.today()) is not None or _intent(tracker) == "inform":
            return {"date": text}
        return {}

    def validate_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A day we can visit: understood, not past, not a day without visits.

        Keeps the customer's words in ``date`` (they may name a time of day)
        and the resolved day in ``appointment_date`` (ISO).
        """
        kb = get_knowledge_base()
        text = str(_first(value) or "").strip()
        # "قلت لك اليوم مو بكره": with two days in the message the slot holds only the
        # last; the whole message says which is meant (parse_date leaves a negated one out)
        latest = tracker.latest_message or {}
        if sum(1 for e in latest.get("entities") or [] if e.get("entity") == "date") > 1 and latest.get("text"):
            text = str(latest["text"]).strip()
        today = settings.today()
        day = parse_date(text, today)
        rejected = {"date": None, "appointment_date": None}
        if day is None:
            kb.say(dispatcher, tracker, "invalid_date")
            return rejected
        if day < today:
            kb.say(dispatcher, tracker, "date_in_past")
            return rejected
        if kb.is_closed_day(day):
            kb.say(dispatcher, tracker, "date_closed_day", day_name=kb.day_name(day))
            return rejected
        return {"date": text, "appointment_date": day.isoformat()}


class ValidateStatusForm(_AsksForTheCode, FormValidationAction):
    """Validates the ticket number whose status the customer wants."""

    def name(self) -> str:
        return "validate_status_form"

    async def extract_ticket_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        text = _answer_to(tracker, "ticket_number")
        return {"ticket_number": text} if text and _has_digits(text) else {}

    async def validate_ticket_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """T-123456, t123456 or 123456 in any digit script → ``T-123456``; must exist.

        Then who may hear about it: the conversation that opened it, or one verified
        for the ticket's account.
        """
        if _typing_the_code(tracker):
            return {"ticket_number": _previous_value(tracker, "ticket_number")}
        kb = get_knowledge_base()
        ticket_id = canonical_ticket_id(value)
        if ticket_id is None:
            kb.say(dispatcher, tracker, "invalid_ticket_number")
            return {"ticket_number": None}
        try:
            allowed = await get_verifier().allow_lookup(tracker.sender_id, ticket_id)
            ticket = get_ticket_store().get(ticket_id)
        except redis.RedisError:
            # Keep the number: action_ticket_status apologises for the outage
            # instead of the form asking again for a number that was fine.
            return {"ticket_number": ticket_id, VERIFICATION_SLOT: UNAVAILABLE}
        if not allowed:
            kb.say(dispatcher, tracker, "verification_too_many_lookups")
            return {"ticket_number": ticket_id, VERIFICATION_SLOT: UNAVAILABLE}
        if ticket is None:
            kb.say(dispatcher, tracker, "ticket_not_found", ticket=ticket_id)
            return {"ticket_number": None}
        if shared_without_verification(ticket, tracker.sender_id):
            return {"ticket_number": ticket_id, VERIFICATION_SLOT: VERIFIED}
        if not ticket.account:
            kb.say(dispatcher, tracker, "verification_ticket_elsewhere")
            return {"ticket_number": ticket_id, VERIFICATION_SLOT: UNAVAILABLE}
        return {"ticket_number": ticket_id, **await _start_verification(dispatcher, tracker, ticket.account, _account_phone(ticket.account))}

    async def validate_verification_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """The one-time code sent to the phone on file of the ticket's account."""
        account = _ticket_account(tracker.get_slot("ticket_number"))
        return await _check_code(dispatcher, tracker, value, account, _account_phone(account))


def _ticket_account(ticket_number: Any) -> Optional[str]:
    ticket_id = canonical_ticket_id(ticket_number)
    ticket: Optional[Ticket] = get_ticket_store().get(ticket_id) if ticket_id else None
    return ticket.account if ticket else None


class _AskAction(Action, ABC):
    """Asks a form question from the reply catalogue.

    Abstract, so the action server does not register the base class itself.
    """

    reply_key: str = ""

    @abstractmethod
    def name(self) -> str:
        """The action's name in the domain."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        get_knowledge_base().say(dispatcher, tracker, self.reply_key)
        return []


class ActionAskAccountNumber(_AskAction):
    """Asks for the account number."""

    reply_key = "ask_account_number"

    def name(self) -> str:
        return "action_ask_account_number"


class ActionAskServiceType(_AskAction):
    """Asks which service, with one button per service."""

    reply_key = "ask_service_type"

    def name(self) -> str:
        return "action_ask_service_type"


class ActionAskDistrict(_AskAction):
    """Asks for the district."""

    reply_key = "ask_district"

    def name(self) -> str:
        return "action_ask_district"


class ActionAskDate(_AskAction):
    """Asks for the visit day (and, optionally, the time of day)."""

    reply_key = "ask_date"

    def name(self) -> str:
        return "action_ask_date"


class ActionAskTicketNumber(_AskAction):
    """Asks for the ticket number."""

    reply_key = "ask_ticket_number"

    def name(self) -> str:
        return "action_ask_ticket_number"


class ActionAskVerificationCode(_AskAction):
    """Asks for the one-time code sent to the phone on file."""

    reply_key = "ask_verification_code"

    def name(self) -> str:
        return "action_ask_verification_code"
