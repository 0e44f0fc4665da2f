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
from typing import Any, Dict, List

import redis
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import settings
from actions.billing import clean_account_number, get_billing_client
from actions.dates import parse_date
from actions.knowledge_base import get_knowledge_base, match_key, strip_district_word
from actions.tickets import canonical_ticket_id, get_ticket_store
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


class ValidateBillForm(FormValidationAction):
    """Validates the account number of the bill form (format and existence)."""

    def name(self) -> str:
        return "validate_bill_form"

    async def extract_account_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return _extract_account_number(tracker)

    def validate_account_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """6-10 digits in any script, and an account billing knows."""
        number = _check_account_format(value, dispatcher, tracker)
        if number is None:
            return {"account_number": None}
        if not get_billing_client().account_exists(number):
            get_knowledge_base().say(dispatcher, tracker, "account_not_found", account=number)
            return {"account_number": None}
        return {"account_number": number}


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


class ValidateAppointmentForm(FormValidationAction):
    """Validates the account number and the visit date of an appointment."""

    def name(self) -> str:
        return "validate_appointment_form"

    async def extract_account_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        return _extract_account_number(tracker)

    async def extract_date(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        text = _answer_to(tracker, "date")
        if not text:
            return {}
        if parse_date(text, settings.today()) is not None or _intent(tracker) == "inform":
            return {"date": text}
        return {}

    def validate_account_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Only the format: a visit can be booked before the account is checked."""
        return {"account_number": _check_account_format(value, dispatcher, tracker)}

    def validate_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """A day we can visit: understood, not past, not a day without visits.

        Keeps the customer's words in ``date`` (they may name a time of day)
        and the resolved day in ``appointment_date`` (ISO).
        """
        kb = get_knowledge_base()
        text = str(_first(value) or "").strip()
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


class ValidateStatusForm(FormValidationAction):
    """Validates the ticket number whose status the customer wants."""

    def name(self) -> str:
        return "validate_status_form"

    async def extract_ticket_number(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        text = _answer_to(tracker, "ticket_number")
        return {"ticket_number": text} if text and _has_digits(text) else {}

    def validate_ticket_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """T-123456, t123456 or 123456 in any digit script → ``T-123456``; must exist."""
        kb = get_knowledge_base()
        ticket_id = canonical_ticket_id(value)
        if ticket_id is None:
            kb.say(dispatcher, tracker, "invalid_ticket_number")
            return {"ticket_number": None}
        try:
            found = get_ticket_store().get(ticket_id) is not None
        except redis.RedisError:
            # Keep the number: action_ticket_status apologises for the outage
            # instead of the form asking again for a number that was fine.
            return {"ticket_number": ticket_id}
        if not found:
            kb.say(dispatcher, tracker, "ticket_not_found", ticket=ticket_id)
            return {"ticket_number": None}
        return {"ticket_number": ticket_id}


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
