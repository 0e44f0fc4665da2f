"""The assistant's custom actions (form validation lives in forms.py).

Each action reads the conversation, asks the knowledge base, billing or the
ticket store, and answers from the reply catalogue. Nothing here knows which
organisation it serves: names, hours, promises and wording come from files.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any, Dict, List

import redis
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

import bot.nlu.cues as cues
from actions import settings
from actions.billing import Account, Bill, clean_account_number, get_billing_client
from actions.dates import parse_date
from actions.knowledge_base import KnowledgeBase, get_knowledge_base, match_key, strip_district_word
from actions.tickets import Ticket, canonical_ticket_id, get_ticket_store
from actions.verification import UNAVAILABLE, VERIFICATION_SLOT, get_verifier, shared_without_verification
from bot import followups

logger = logging.getLogger(__name__)

NLU_FALLBACK = followups.FALLBACK_INTENT


# ---------------------------------------------------------------------- helpers
def latest_intent(tracker: Tracker) -> str | None:
    """The intent of the customer's latest message."""
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


def user_events(tracker: Tracker) -> List[Dict[str, Any]]:
    """The customer's messages of the current session, oldest first.

    Uses applied events, so messages undone by a rewind or a restart do not
    count, and stops at the latest session start.
    """
    events: List[Dict[str, Any]] = []
    for event in tracker.applied_events():
        if event.get("event") == "session_started":
            events = []
        elif event.get("event") == "user":
            events.append(event)
    return events


def _event_intent(event: Dict[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def consecutive_fallbacks(tracker: Tracker) -> int:
    """How many of the customer's latest messages in a row the NLU did not understand.

    Derived from the events rather than kept in a slot: the count can never go
    stale after a restart, a rewind or a message that was understood. A question
    answered in the context of the answer before it is understood
    (``bot/followups.py``, as EscalationPolicy counts).
    """
    steps: List[followups.Step] = []
    for event in tracker.applied_events():
        if event.get("event") == "session_started":
            steps = []
        elif event.get("event") == "user":
            steps.append(("user", followups.step_intent(_event_intent(event), (event.get("parse_data") or {}).get("entities") or [], event.get("text"))))
        elif event.get("event") == "action":
            steps.append(("action", event.get("name")))
    count = 0
    for intent in reversed(followups.understood_intents(steps)):
        if intent != NLU_FALLBACK:
            break
        count += 1
    if count == 0 and latest_intent(tracker) == NLU_FALLBACK:
        count = 1  # a tracker without the user event itself (older servers)
    return count


def _entity_or_slot(tracker: Tracker, name: str) -> str | None:
    """An entity of the latest message, else the slot of the same name."""
    value = next(tracker.get_latest_entity_values(name), None) or tracker.get_slot(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() if value else None


def _unavailable(kb: KnowledgeBase, dispatcher: CollectingDispatcher, tracker: Tracker, error: Exception) -> None:
    logger.exception("ticket store unavailable: %s", error)
    kb.say(dispatcher, tracker, "system_unavailable")


# ------------------------------------------------------------------ verification
_RESET_VERIFICATION = [SlotSet(VERIFICATION_SLOT, None)]


async def _verified_for(tracker: Tracker, account: str | None) -> bool:
    """Whether this conversation proved it holds ``account`` (the forms verify; we re-check)."""
    if not account:
        return False
    try:
        return await get_verifier().is_verified(tracker.sender_id, account)
    except redis.RedisError:
        return False


def _refuse_unverified(kb: KnowledgeBase, dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Say what is needed, unless the form already said why verification cannot happen."""
    if tracker.get_slot(VERIFICATION_SLOT) != UNAVAILABLE:
        kb.say(dispatcher, tracker, "verification_required")


# ---------------------------------------------------------------------- billing
def _period(kb: KnowledgeBase, period: str) -> str:
    """``2026-10`` → "أكتوبر 2026" (anything else is shown as it is)."""
    try:
        year, month = period.split("-")
        return f"{kb.replies.month_name(int(month))} {year}"
    except (ValueError, IndexError):
        return period


def bill_lines(kb: KnowledgeBase, account: Account, today: date) -> str:
    """One line per bill worth mentioning: every unpaid bill, else the latest one."""
    lines = []
    for service in account.services:
        bills = sorted((b for b in account.bills if b.service == service), key=lambda b: b.period)
        if not bills:
            continue
        shown: List[Bill] = [b for b in bills if not b.paid] or [bills[-1]]
        for bill in shown:
            if bill.paid:
                fragment = "bill_line_paid"
            elif bill.due_date < today:
                fragment = "bill_line_overdue"
            else:
                fragment = "bill_line_unpaid"
            lines.append(
                kb.replies.fragment(
                    fragment,
                    service=kb.service_name(bill.service),
                    period=_period(kb, bill.period),
                    amount=kb.money(bill.amount),
                    due_date=kb.format_date(bill.due_date),
                )
            )
    return "\n".join(lines)


class ActionBillSummary(Action):
    """Summarises the bills of the account in ``account_number``."""

    def name(self) -> str:
        return "action_bill_summary"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        number = clean_account_number(tracker.get_slot("account_number"))
        account = get_billing_client().find_account(number) if number else None
        if account is None:
            # The form validates the account, so this only happens if billing
            # changed in between; ask again rather than show nothing.
            kb.say(dispatcher, tracker, "account_not_found", account=number or "")
            return [SlotSet("account_number", None)] + _RESET_VERIFICATION
        if not await _verified_for(tracker, account.number):
            _refuse_unverified(kb, dispatcher, tracker)
            return [SlotSet("account_number", None)] + _RESET_VERIFICATION
        lines = bill_lines(kb, account, settings.today())
        total = account.total_due()
        if total > 0:
            kb.say(dispatcher, tracker, "bill_summary", account=account.number, bill_lines=lines, total_due=kb.money(total), empathetic=True)
        else:
            kb.say(dispatcher, tracker, "bill_nothing_due", account=account.number, bill_lines=lines, empathetic=True)
        # account_number is kept: the customer may ask a follow-up about it (and is
        # still verified for it); the code slot is cleared for the next form.
        return list(_RESET_VERIFICATION)


# ---------------------------------------------------------------------- outages
class ActionReportOutage(Action):
    """Tells a known outage's cause and ETA, or opens an outage ticket."""

    def name(self) -> str:
        return "action_report_outage"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        service = kb.service(tracker.get_slot("service_type"))
        district = strip_district_word(tracker.get_slot("district") or "")
        city = tracker.get_slot("city")
        reset = [SlotSet("service_type", None), SlotSet("district", None)]
        if service is None or not district:
            kb.say(dispatcher, tracker, "invalid_service_type" if service is None else "ask_district")
            return reset

        known = kb.known_outage(service.id, district, city)
        if known:
            kb.say(
                dispatcher,
                tracker,
                "outage_known",
                service=service.name,
                district=known.district,
                cause=known.cause,
                eta=known.eta,
                ticket=known.ticket,
            )
            return reset

        try:
            store = get_ticket_store()
            duplicate = next(
                (
                    t
                    for t in store.for_conversation(tracker.sender_id)
                    if t.kind == "outage"
                    and t.service == service.id
                    and match_key(t.district) == match_key(district)
                    and not t.finished
                ),
                None,
            )
            if duplicate:
                kb.say(
                    dispatcher,
                    tracker,
                    "outage_already_reported",
                    service=service.name,
                    district=district,
                    ticket=duplicate.id,
                    response_time=service.response_time,
                )
                return reset
            ticket = store.create(
                "outage",
                conversation_id=tracker.sender_id,
                service=service.id,
                district=district,
                city=city,
                account=clean_account_number(tracker.get_slot("account_number")),
                priority="urgent" if service.essential else "normal",
            )
        except redis.RedisError as error:
            _unavailable(kb, dispatcher, tracker, error)
            return []  # keep the slots: the customer can retry without retyping
        kb.say(
            dispatcher,
            tracker,
            "outage_reported",
            service=service.name,
            district=district,
            ticket=ticket.id,
            response_time=service.response_time,
        )
        return reset


# ---------------------------------------------------------------------- appointments
def _visit_day(tracker: Tracker) -> date | None:
    """The validated visit day (``appointment_date``), else parsed from ``date``."""
    iso = tracker.get_slot("appointment_date")
    if iso:
        try:
            return date.fromisoformat(str(iso))
        except ValueError:
            pass
    return parse_date(tracker.get_slot("date"), settings.today())


def _visit_values(kb: KnowledgeBase, day: date, window: Dict[str, Any], ticket: Ticket) -> Dict[str, Any]:
    return {
        "day_name": kb.day_name(day),
        "date": kb.format_date(day),
        "window": window["label"],
        "ticket": ticket.id,
    }


_RESET_DATE = [SlotSet("date", None), SlotSet("appointment_date", None)]


class ActionBookAppointment(Action):
    """Books a technician visit as an appointment ticket."""

    def name(self) -> str:
        return "action_book_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        day = _visit_day(tracker)
        if day is None or day < settings.today():
            kb.say(dispatcher, tracker, "invalid_date")
            return list(_RESET_DATE)
        if not await _verified_for(tracker, clean_account_number(tracker.get_slot("account_number"))):
            _refuse_unverified(kb, dispatcher, tracker)
            return list(_RESET_DATE) + _RESET_VERIFICATION + [SlotSet("account_number", None)]
        window = kb.appointment_window(tracker.get_slot("date"))
        try:
            ticket = get_ticket_store().create(
                "appointment",
                status="scheduled",
                conversation_id=tracker.sender_id,
                account=clean_account_number(tracker.get_slot("account_number")),
                service=tracker.get_slot("service_type"),
                date=day.isoformat(),
                window=window["id"],
            )
        except redis.RedisError as error:
            _unavailable(kb, dispatcher, tracker, error)
            return []
        kb.say(dispatcher, tracker, "appointment_booked", _visit_values(kb, day, window, ticket), empathetic=True)
        return list(_RESET_DATE) + _RESET_VERIFICATION


class ActionRescheduleAppointment(Action):
    """Moves the customer's appointment to the new day (or books one if none).

    The appointment is the ticket in ``ticket_number`` when that is an
    appointment, else the account's latest active appointment.
    """

    def name(self) -> str:
        return "action_reschedule_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        day = _visit_day(tracker)
        if day is None or day < settings.today():
            kb.say(dispatcher, tracker, "invalid_date")
            return list(_RESET_DATE)
        window = kb.appointment_window(tracker.get_slot("date"))
        account = clean_account_number(tracker.get_slot("account_number"))
        reset = list(_RESET_DATE) + [SlotSet("ticket_number", None)] + _RESET_VERIFICATION
        if not await _verified_for(tracker, account):
            _refuse_unverified(kb, dispatcher, tracker)
            return reset + [SlotSet("account_number", None)]
        try:
            store = get_ticket_store()
            target = None
            named = canonical_ticket_id(tracker.get_slot("ticket_number"))
            if named:
                found = store.get(named)
                # only an appointment of the verified account
                target = found if found and found.kind == "appointment" and found.account == account else None
            if target is None and account:
                target = store.latest_for_account(account, kind="appointment")
            if target is not None:
                ticket = store.update(target.id, date=day.isoformat(), window=window["id"], status="rescheduled")
                key = "appointment_rescheduled"
            else:
                ticket = store.create(
                    "appointment",
                    status="scheduled",
                    conversation_id=tracker.sender_id,
                    account=account,
                    service=tracker.get_slot("service_type"),
                    date=day.isoformat(),
                    window=window["id"],
                )
                key = "appointment_rescheduled_new"
        except redis.RedisError as error:
            _unavailable(kb, dispatcher, tracker, error)
            return []
        kb.say(dispatcher, tracker, key, _visit_values(kb, day, window, ticket), empathetic=True)
        return reset


# ---------------------------------------------------------------------- tickets
def ticket_details(kb: KnowledgeBase, ticket: Ticket) -> str:
    """The extra sentences of a status answer: visit day, service, ETA, last update."""
    parts = []
    if ticket.kind == "appointment" and ticket.date:
        day = date.fromisoformat(ticket.date)
        parts.append(
            kb.replies.fragment(
                "status_appointment",
                day_name=kb.day_name(day),
                date=kb.format_date(day),
                window=kb.window_label(ticket.window),
            )
        )
    if ticket.service:
        parts.append(kb.replies.fragment("status_service", service=kb.service_name(ticket.service)))
    outage = next((o for o in kb.outages if o.ticket == ticket.id), None)
    if outage and not ticket.finished:
        parts.append(kb.replies.fragment("status_outage_eta", eta=outage.eta))
    if ticket.updated_at:
        parts.append(
            kb.replies.fragment("status_updated", updated=kb.format_datetime(datetime.fromisoformat(ticket.updated_at)))
        )
    return "".join(parts)


class ActionTicketStatus(Action):
    """Tells the status of the ticket in ``ticket_number``."""

    def name(self) -> str:
        return "action_ticket_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        ticket_id = canonical_ticket_id(tracker.get_slot("ticket_number"))
        reset = [SlotSet("ticket_number", None)] + _RESET_VERIFICATION
        try:
            ticket = get_ticket_store().get(ticket_id) if ticket_id else None
        except redis.RedisError as error:
            _unavailable(kb, dispatcher, tracker, error)
            return reset
        if ticket is None:
            kb.say(dispatcher, tracker, "ticket_not_found", ticket=ticket_id or tracker.get_slot("ticket_number") or "")
            return reset
        if not shared_without_verification(ticket, tracker.sender_id) and not await _verified_for(tracker, ticket.account):
            _refuse_unverified(kb, dispatcher, tracker)
            return reset
        kb.say(
            dispatcher,
            tracker,
            "ticket_status",
            ticket=ticket.id,
            kind_label=kb.replies.label("ticket_kinds", ticket.kind, default=ticket.kind),
            status_label=kb.replies.label("ticket_statuses", ticket.status, default=ticket.status),
            details=ticket_details(kb, ticket),
            empathetic=True,
        )
        return reset


# ---------------------------------------------------------------------- FAQ
_BRANCH_INTENTS = {"opening_hours": ("branch_hours", True), "branch_locations": ("branch_location", False)}


# "Weak" water or electricity: the slow-internet intent with another service named.
_WEAK_SERVICE_INTENTS = ("slow_internet",)
_WEAK_SERVICE_REPLIES = {"water": "faq_weak_water", "electricity": "faq_weak_electricity"}


def _weak_service(tracker: Tracker) -> str | None:
    """The one service a "weak" message is about: its own, or that of the customer's
    message before when it was the same question ("ضغط الماء ضعيف" then "it's just
    slow, not cut"); an earlier topic's service does not count."""
    users = [e for e in tracker.applied_events() if e.get("event") == "user"][-2:]
    for event in reversed(users):
        parse = event.get("parse_data") or {}
        named = list(dict.fromkeys(e.get("value") for e in parse.get("entities") or [] if e.get("entity") == "service_type"))
        if named:
            return str(named[0]) if len(named) == 1 else None
        if (parse.get("intent") or {}).get("name") not in _WEAK_SERVICE_INTENTS:
            return None
    return None


class ActionAnswerFaq(Action):
    """Answers the FAQ intent of the latest message from the catalogue and the facts.

    Hours and branch questions that name a district or a city are answered
    about the matching branches ("when does the branch in <district> open?" gets
    that branch's hours).
    """

    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        intent = latest_intent(tracker) or ""
        # a question about the answer just given (bot/followups.py): that topic again
        follow_up = tracker.get_slot(followups.FAQ_TOPIC_SLOT) if followups.may_follow_up(intent) else None
        intent = follow_up or intent
        district = _entity_or_slot(tracker, "district")
        city = _entity_or_slot(tracker, "city")
        weak_service = _weak_service(tracker) if intent in _WEAK_SERVICE_INTENTS else None
        # A question about the answer just given asks; the signals model reads many such
        # questions as upset ("w iza ma wesselne el sms?" annoyed 0.49, "ok done. also how
        # do I check my bill from the app?" angry 0.64), and an apology to them rings false
        empathetic = not follow_up

        if intent in _BRANCH_INTENTS and (district or city):
            key, hours_only = _BRANCH_INTENTS[intent]
            branches = kb.branches_matching(district=district, city=city)
            if branches:
                kb.say(dispatcher, tracker, key, branch_lines=kb.branch_lines(branches, hours_only=hours_only), empathetic=empathetic)
            else:
                place = strip_district_word(district) if district else city
                kb.say(dispatcher, tracker, "branch_not_found", place=place, branch_cities=kb.branch_cities())
        elif intent in _WEAK_SERVICE_INTENTS and weak_service in _WEAK_SERVICE_REPLIES:
            # "ضغط الماء ضعيف" reads like slow internet; a router restart is no answer to it
            kb.say(dispatcher, tracker, _WEAK_SERVICE_REPLIES[weak_service], empathetic=empathetic)
        elif f"faq_{intent}" in kb.replies:
            kb.say(dispatcher, tracker, f"faq_{intent}", kb.faq_context(intent), empathetic=empathetic)
        else:
            logger.warning("action_answer_faq called for intent %r without an FAQ reply", intent)
            kb.say(dispatcher, tracker, "fallback_rephrase")

        if follow_up:
            # the assistant read the question in context: say so, and leave the way open
            kb.say(dispatcher, tracker, "faq_follow_up_more")
        # A district named in a question must not pre-fill the next form
        # (an outage report would otherwise skip asking where).
        return [SlotSet(slot, None) for slot in ("district", "city", followups.FAQ_TOPIC_SLOT) if tracker.get_slot(slot) is not None]


# The reply to an outage report its own words rule out (bot/nlu/cues.py: blocked_by).
NOT_NOW_REPLIES = {
    "hypothetical": "outage_if", "restored": "outage_working", "past": "outage_over",
    "restart": "outage_restart", "quality": "water_quality", "elsewhere": "outage_elsewhere",
    "wifi_only": "wifi_only", "not_a_service": "not_our_supply", "appliance": "appliance_inside",
}


class ActionPlannedWork(Action):
    """The planned works the organisation knows of (``outages.yml``, kind planned), in
    the district and for the service the customer named, when they named them.

    Predicted by EscalationPolicy for a question about a planned cut the classifier
    could not place ("هو في صيانة للكهربا بكرة في النرجس؟"): customers who read about
    maintenance are told what is planned instead of "I did not understand". Also for an
    outage report whose own words rule it out (bot/nlu/cues.py ``blocked_by``): "if it
    cuts, what do I do?", "it works, it is not cut", a cut that is over, a restart the
    customer tried, discoloured water each get their answer (:data:`NOT_NOW_REPLIES`)
    instead of the outage form.
    """

    def name(self) -> str:
        return "action_planned_work"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        reading = cues.read(tracker.latest_message.get("text") or "")
        # An outage report whose words rule it out (EscalationPolicy predicts this action
        # for it too): "if it cuts, what do I do?", "it works, it is not cut", yesterday's cut.
        if not reading.planned_cut and reading.blocked_by in NOT_NOW_REPLIES:
            kb.say(dispatcher, tracker, NOT_NOW_REPLIES[reading.blocked_by])
            return []
        district = strip_district_word(next(tracker.get_latest_entity_values("district"), None) or "")
        service = kb.service(next(tracker.get_latest_entity_values("service_type"), None))
        works = [
            o for o in kb.outages
            if o.kind == "planned"
            and (service is None or o.service == service.id)
            and (not district or match_key(district) in o.keys)
        ]
        if works:
            lines = "\n".join(f"• {kb.service_name(o.service)} — حي {o.district}: {o.cause}، وتعود الخدمة {o.eta}." for o in works)
            kb.say(dispatcher, tracker, "planned_work_known", works=lines)
        else:
            kb.say(dispatcher, tracker, "planned_work_none", place=f" في حي {district}" if district else "")
        return [SlotSet(slot, None) for slot in ("district", "city") if tracker.get_slot(slot) is not None]


# ---------------------------------------------------------------------- fallback
# (the handoff itself is in actions/handoff.py)
class ActionFallback(Action):
    """Asks to rephrase after one misunderstanding; offers a person after two. An
    account number alone, outside any form, asks what the customer wants done with it."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        if consecutive_fallbacks(tracker) >= 2:
            kb.say(dispatcher, tracker, "fallback_offer_human")
            return [SlotSet("handoff_offered", True)]
        latest = tracker.latest_message or {}
        # Urdu or Hindi: say in English and Arabic which languages the assistant reads
        if latest.get("foreign_language"):
            kb.say(dispatcher, tracker, "fallback_language")
            return []
        # an account number nobody asked for was understood: what is wanted with it is not
        if (latest.get("intent") or {}).get("name") == "inform" and any(e.get("entity") == "account_number" for e in latest.get("entities") or []):
            kb.say(dispatcher, tracker, "account_unplaced")
            return []
        # a code nobody asked for ("طيب الكود ٥٥٨٢٠١"): never to be sent unasked
        if (latest.get("intent") or {}).get("name") == "inform" and followups.carries_code(latest.get("text")):
            kb.say(dispatcher, tracker, "code_unplaced")
            return []
        kb.say(dispatcher, tracker, "fallback_rephrase")
        return []


class ActionAnswerYesNo(Action):
    """A yes or a no that answers nothing the assistant asked.

    A bare "لا" / "no" closes the conversation warmly and a bare "ايوه" invites the next
    question. A longer message the classifier read as yes or no ("بس نحنا ما منستهلك
    هالقد، هاد مش منطقي" is a disagreement, not a goodbye) must not end the
    conversation: the customer is asked what they need instead.
    """

    def name(self) -> str:
        return "action_answer_yes_no"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        latest = tracker.latest_message or {}
        text = str(latest.get("text") or "")
        # a tapped button's payload ("/deny") is as bare as a word
        if text.startswith("/") or cues.read(text).short_reply:
            intent = (latest.get("intent") or {}).get("name")
            dispatcher.utter_message(response="utter_goodbye" if intent == "deny" else "utter_anything_else")
            return []
        get_knowledge_base().say(dispatcher, tracker, "statement_unplaced")
        return []


class ActionDeclineHandoff(Action):
    """The customer declined a person: ask them to rephrase and withdraw the offer,
    so that a later, unrelated "yes" does not hand them over."""

    def name(self) -> str:
        return "action_decline_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        get_knowledge_base().say(dispatcher, tracker, "fallback_rephrase")
        return [SlotSet("handoff_offered", False)]
