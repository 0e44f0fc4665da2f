"""The bot's side of a handoff to a person: the ticket, the pause, the return, the rating.

``action_handoff`` builds a ticket from the conversation (reasons and priority,
the frustration and urgency trajectory, intents, slots and entities, the whole
transcript with timestamps and a short Arabic summary for the agent), sends it to
the handoff service (``POST /api/internal/tickets``, see handoff/PROTOCOL.md),
pauses the bot and tells the customer their place in the queue and an honest
wait. With nobody on duty it offers a callback instead of a wait; with the
service down it keeps the ticket in the Redis ticket store so a colleague can
still pick it up, and says so.

When the agent gives the conversation back, the relay triggers
``EXTERNAL_handoff_returned`` (the bot says it is back) or
``EXTERNAL_handoff_resolved`` (the bot asks for a 1-5 rating and an optional
comment, and posts them to ``/api/internal/tickets/<id>/rating``).

Every sentence comes from the reply catalogue (actions/knowledge/replies.yml);
names of services and districts from the knowledge files.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import redis
from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import settings
from actions.billing import clean_account_number
from actions.knowledge_base import KnowledgeBase, get_knowledge_base, strip_district_word
from actions.rating import parse_rating
from actions.tickets import canonical_ticket_id, get_ticket_store
from bot import escalation
from bot.masking import mask_customer
from handoff.contract import INBOX, INBOX_MAXLEN, INBOX_OFFLINE_ID, INBOX_TICKET

logger = logging.getLogger(__name__)

# Answers to "shall I get you a person?": not the reason for a handoff.
_YES_NO = {"affirm", "deny"}
# Intents that are not the customer's request (small talk, answers, system).
_NOT_A_PROBLEM = {"greet", "goodbye", "thank", "affirm", "deny", "inform", "bot_challenge", "nlu_fallback"}
# Slots a ticket carries (the colleague's "what do we know").
TICKET_SLOTS = ("service_type", "account_number", "district", "city", "ticket_number", "phone_number", "date")
# How many of the customer's latest messages the Redis fallback ticket carries.
FALLBACK_SUMMARY_MESSAGES = 3
# A rating comment longer than this is cut (the rest is not worth a failed call).
MAX_COMMENT_CHARS = 1000
# The handoff service refuses bodies over 512 KiB; a very long conversation keeps
# its latest messages (and says how many earlier ones are left out) to stay below.
MAX_TICKET_BYTES = 400_000
_RATING_FORM = "rating_form"


# ---------------------------------------------------------------------- ticket
def customer_display(sender_id: str, channel: str | None) -> str:
    """How the agent console names the customer without exposing them.

    Phone numbers keep the country code and the last three digits
    (``+966••••••567``); other sender ids (web sessions) show their first six
    characters. One rule for every process: :func:`bot.masking.mask_customer`.
    """
    return mask_customer(sender_id, channel)


def _intent(event: Mapping[str, Any]) -> str | None:
    return ((event.get("parse_data") or {}).get("intent") or {}).get("name")


def _is_system_intent(intent: str | None) -> bool:
    return bool(intent) and str(intent).startswith("EXTERNAL_")


def _customer_events(events: Iterable[Mapping[str, Any]]) -> List[Mapping[str, Any]]:
    """The customer's own messages (not intents the system triggered)."""
    return [e for e in events if e.get("event") == "user" and not _is_system_intent(_intent(e))]


def transcript(events: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Every message of the conversation, oldest first.

    Returns:
        ``{ts, role, text}`` items: ``ts`` Unix seconds (as Rasa stamps events),
        ``role`` ``customer``, ``bot``, ``agent`` (a colleague's message the
        relay recorded, with ``agent``) or ``system``.
    """
    lines: List[Dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        text = event.get("text")
        if kind == "user" and not _is_system_intent(_intent(event)):
            lines.append({"ts": event.get("timestamp"), "role": "customer", "text": text or ""})
        elif kind == "bot" and text:
            handoff = (event.get("metadata") or {}).get("handoff")
            if isinstance(handoff, Mapping):
                line = {"ts": event.get("timestamp"), "role": "agent" if handoff.get("agent") else "system", "text": text}
                if handoff.get("agent"):
                    line["agent"] = handoff["agent"]
                lines.append(line)
            else:
                lines.append({"ts": event.get("timestamp"), "role": "bot", "text": text})
    return lines


def signal_trajectory(events: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Frustration and urgency of each customer message that has signals."""
    points = []
    for event in _customer_events(events):
        signals = (event.get("parse_data") or {}).get("signals")
        if not isinstance(signals, Mapping):
            continue
        frustration = signals.get("frustration") or {}
        urgency = signals.get("urgency") or {}
        service = urgency.get("service")
        points.append(
            {
                "ts": event.get("timestamp"),
                "frustration": round(float(frustration.get("score") or 0.0), 4),
                "frustration_level": frustration.get("level"),
                "urgency_service": service if service not in (None, "none") else None,
                "urgency_score": round(float(urgency.get("score") or 0.0), 4),
            }
        )
    return points


def intents_seen(events: Iterable[Mapping[str, Any]]) -> List[str]:
    """The customer's intents, first occurrence order, without repeats."""
    seen: List[str] = []
    for event in _customer_events(events):
        intent = _intent(event)
        if intent and intent not in seen:
            seen.append(intent)
    return seen


def entities_seen(events: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """Every entity the NLU found, with the raw text it came from."""
    found: List[Dict[str, Any]] = []
    for event in _customer_events(events):
        for entity in (event.get("parse_data") or {}).get("entities") or []:
            item = {"entity": entity.get("entity"), "value": entity.get("value"), "ts": event.get("timestamp")}
            if all((f["entity"], f["value"]) != (item["entity"], item["value"]) for f in found):
                found.append(item)
    return found


def _latest_value(tracker: Tracker, events: Sequence[Mapping[str, Any]], name: str) -> Any:
    """The slot, else the latest entity of that name: the submit actions clear
    service and district after answering, but the colleague still needs them."""
    value = tracker.get_slot(name)
    if value in (None, "", []):
        for event in reversed(_customer_events(events)):
            value = next(
                (e.get("value") for e in (event.get("parse_data") or {}).get("entities") or [] if e.get("entity") == name),
                None,
            )
            if value is not None:
                break
    if isinstance(value, list):
        value = value[0] if value else None
    return value


def ticket_slots(tracker: Tracker, events: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """What the conversation established, cleaned the way the actions use it."""
    values = {name: _latest_value(tracker, events, name) for name in TICKET_SLOTS}
    if values["district"]:
        values["district"] = strip_district_word(str(values["district"]))
    if values["account_number"]:
        values["account_number"] = clean_account_number(values["account_number"]) or str(values["account_number"])
    if values["ticket_number"]:
        values["ticket_number"] = canonical_ticket_id(values["ticket_number"]) or str(values["ticket_number"])
    return {k: v for k, v in values.items() if v not in (None, "")}


def handoff_reason(events: Sequence[Mapping[str, Any]], latest_intent: str | None) -> str:
    """The customer's latest real request (a "yes" to the offer of a person is
    skipped, so after repeated misunderstandings the reason reads ``nlu_fallback``)."""
    for event in reversed(_customer_events(events)):
        intent = _intent(event)
        if intent and intent not in _YES_NO:
            return intent
    return latest_intent or "request_human"


# Reasons for handoffs that a rule started rather than EscalationPolicy.
_REASON_BY_INTENT = {
    "request_human": escalation.REQUEST,
    "escalation_threat": escalation.THREAT,
    "nlu_fallback": escalation.MISUNDERSTOOD,
}


def handoff_evidence(tracker: Tracker, reasons: Sequence[str], reason_intent: str) -> List[Dict[str, Any]]:
    """What decided the handoff, for the agent and the trainers.

    EscalationPolicy's evidence (slot ``escalation_evidence``) when it decided;
    otherwise the rule that did (the customer asked, or accepted the offer of a person).
    """
    recorded = tracker.get_slot("escalation_evidence")
    if isinstance(recorded, list) and recorded:
        return [dict(e) for e in recorded if isinstance(e, Mapping)]
    latest = tracker.latest_message or {}
    return [
        {
            "reason": reason,
            "rule": f"dialogue_rule:{reason_intent}",
            "detail": f"{reason_intent} ({float((latest.get('intent') or {}).get('confidence') or 0.0):.2f})",
            "scores": {},
            "message": latest.get("text"),
        }
        for reason in reasons
    ]


def reasons_and_priority(tracker: Tracker, reason_intent: str) -> tuple[List[str], int, str]:
    """Escalation reasons (EscalationPolicy's, else from the intent) and priority.

    Returns:
        The reasons in escalation.yml order, the priority level (1 is served
        first) and its name (urgent, high, normal).
    """
    config = escalation.load_config()
    reasons = escalation.reasons_text(
        tracker.get_slot("escalation_reasons") or [_REASON_BY_INTENT.get(reason_intent, escalation.REQUEST)]
    )
    by_name = {name: level for level, name in config.priority_names.items()}
    named = tracker.get_slot("escalation_priority")
    if named in by_name:
        level = by_name[named]
    else:
        levels = [config.priorities[r] for r in reasons if r in config.priorities]
        level = min(levels) if levels else max(config.priority_names)
    return reasons, level, config.priority_names.get(level, str(level))


# ---------------------------------------------------------------------- summary
def _joined(kb: KnowledgeBase, items: Sequence[str]) -> str:
    """"أ، ب و ج" with the catalogue's conjunction."""
    if len(items) <= 1:
        return "".join(items)
    return "، ".join(items[:-1]) + kb.replies.fragment("and") + items[-1]


def _mood(kb: KnowledgeBase, trajectory: Sequence[Mapping[str, Any]], running: Any) -> str:
    """The customer's mood now and where it is heading, in words."""
    levels = [p.get("frustration_level") for p in trajectory if p.get("frustration_level")]
    level = levels[-1] if levels else "calm"
    if level == "calm" and isinstance(running, (int, float)) and running >= 0.35:
        level = "annoyed"
    mood = kb.replies.label("moods", str(level), default=str(level))
    scores = [float(p.get("frustration") or 0.0) for p in trajectory]
    if len(scores) >= 2 and scores[-1] - scores[0] >= 0.2:
        mood += kb.replies.fragment("summary_mood_rising")
    elif len(scores) >= 2 and scores[0] - scores[-1] >= 0.2:
        mood += kb.replies.fragment("summary_mood_easing")
    return mood


def _tried(kb: KnowledgeBase, events: Sequence[Mapping[str, Any]]) -> List[str]:
    """What the assistant already did, in the order it did it, each once."""
    done: List[str] = []
    for event in events:
        if event.get("event") != "action":
            continue
        label = kb.replies.label("bot_actions", str(event.get("name")), default="")
        if label and label not in done:
            done.append(label)
    return done


def arabic_summary(
    kb: KnowledgeBase,
    events: Sequence[Mapping[str, Any]],
    slots: Mapping[str, Any],
    intents: Sequence[str],
    trajectory: Sequence[Mapping[str, Any]],
    reasons: Sequence[str],
    running_frustration: Any = None,
) -> str:
    """Two to four short Arabic lines for the agent: problem, service and place,
    what the assistant tried, the customer's mood (and references, if any)."""
    problems = [i for i in intents if i not in _NOT_A_PROBLEM and i not in _REASON_BY_INTENT] or list(intents[-1:])
    problem = kb.replies.label("intents", problems[0], default=problems[0]) if problems else kb.replies.label("intents", "request_human")
    service = kb.service(slots.get("service_type")) if slots.get("service_type") else None
    lines = [
        kb.replies.fragment(
            "summary_problem",
            problem=problem,
            service=kb.replies.fragment("summary_service", service=service.name) if service else "",
            place=kb.replies.fragment("summary_place", district=slots["district"]) if slots.get("district") else "",
        )
    ]
    tried = _tried(kb, events)
    lines.append(
        kb.replies.fragment("summary_tried", tried=_joined(kb, tried)) if tried else kb.replies.fragment("summary_tried_nothing")
    )
    reason_words = [kb.replies.label("handoff_reasons", r, default=r) for r in reasons]
    lines.append(kb.replies.fragment("summary_mood", mood=_mood(kb, trajectory, running_frustration), reasons=_joined(kb, reason_words)))
    references = [
        kb.replies.fragment(f"summary_ref_{name}", value=slots[name])
        for name in ("account_number", "ticket_number", "phone_number")
        if slots.get(name)
    ]
    if references:
        lines.append(kb.replies.fragment("summary_references", references="، ".join(references)))
    return "\n".join(lines)


def build_ticket(tracker: Tracker, kb: KnowledgeBase) -> Dict[str, Any]:
    """The handoff ticket of handoff/PROTOCOL.md, built from the conversation.

    Args:
        tracker: the conversation being handed over.
        kb: the organisation's knowledge (names and wording of the summary).

    Returns:
        JSON-ready ticket data; ``reason`` (the intent behind the handoff) and
        ``priority_name`` come on top of the protocol's fields.
    """
    events = tracker.applied_events()
    latest = ((tracker.latest_message or {}).get("intent") or {}).get("name")
    reason = handoff_reason(events, latest)
    reasons, level, level_name = reasons_and_priority(tracker, reason)
    channel = tracker.get_latest_input_channel()
    slots = ticket_slots(tracker, events)
    intents = intents_seen(events)
    trajectory = signal_trajectory(events)
    running = tracker.get_slot("conversation_frustration")
    ticket = {
        "conversation_id": tracker.sender_id,
        "channel": channel,
        "customer_display": customer_display(tracker.sender_id, channel),
        "reason": reason,
        "reasons": reasons,
        "evidence": handoff_evidence(tracker, reasons, reason),
        "priority": level,
        "priority_name": level_name,
        "signals": trajectory,
        "conversation_frustration": running,
        "intents": intents,
        "slots": slots,
        "entities": entities_seen(events),
        "transcript": transcript(events),
        "summary_ar": arabic_summary(kb, events, slots, intents, trajectory, reasons, running),
    }
    return fit_ticket(ticket, kb)


def _size(ticket: Mapping[str, Any]) -> int:
    return len(json.dumps(ticket, ensure_ascii=False).encode("utf-8"))


def fit_ticket(ticket: Dict[str, Any], kb: KnowledgeBase, max_bytes: int = MAX_TICKET_BYTES) -> Dict[str, Any]:
    """Drop the oldest transcript lines until the ticket fits ``max_bytes``.

    A system line at the top says how many messages were left out, so the agent
    knows the transcript is not the whole story (the tracker still has it).
    """
    if _size(ticket) <= max_bytes:
        return ticket
    lines = list(ticket["transcript"])
    dropped = 0
    while lines and _size({**ticket, "transcript": lines}) > max_bytes:
        cut = max(1, len(lines) // 10)
        lines, dropped = lines[cut:], dropped + cut
    marker = {"ts": lines[0]["ts"] if lines else None, "role": "system", "text": kb.replies.fragment("transcript_cut", count=dropped)}
    return {**ticket, "transcript": [marker, *lines]}


# ---------------------------------------------------------------------- service client
class HandoffUnavailable(Exception):
    """The handoff service could not be reached or answered nonsense."""


@dataclass(frozen=True)
class HandoffReceipt:
    """What the handoff service answers to a new ticket.

    Attributes:
        ticket_id: the service's ticket id.
        position: place in the queue (1 is next).
        estimated_wait_s: the service's wait estimate, None when it has none.
        agents_on_duty: colleagues available for live chat now.
        callback_eta: ISO 8601 time of the promised callback when nobody is on duty.
        within_duty_hours: whether colleagues work at this hour (None: the service
            did not say; then the assistant never claims it is out of hours).
    """

    ticket_id: str
    position: Optional[int] = None
    estimated_wait_s: Optional[float] = None
    agents_on_duty: int = 0
    callback_eta: Optional[str] = None
    within_duty_hours: Optional[bool] = None

    @classmethod
    def from_json(cls, data: Any) -> HandoffReceipt:
        """Read the service's JSON answer.

        Raises:
            HandoffUnavailable: the answer lacks a ticket id.
        """
        if not isinstance(data, Mapping) or not data.get("ticket_id"):
            raise HandoffUnavailable(f"handoff service answered without a ticket id: {data!r:.200}")

        def number(key: str) -> Optional[float]:
            value = data.get(key)
            return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        position = number("position")
        return cls(
            ticket_id=str(data["ticket_id"]),
            position=int(position) if position is not None else None,
            estimated_wait_s=number("estimated_wait_s"),
            agents_on_duty=int(number("agents_on_duty") or 0),
            callback_eta=str(data["callback_eta"]) if data.get("callback_eta") else None,
            within_duty_hours=data["within_duty_hours"] if isinstance(data.get("within_duty_hours"), bool) else None,
        )


class HandoffClient:
    """The action server's client of the handoff service (service token auth).

    Args:
        base_url: the service's base URL, e.g. ``http://localhost:5080``.
        token: the shared service token (``Authorization: Bearer``), or None.
        timeout_s: time limit of one call; slower counts as unavailable.
    """

    def __init__(self, base_url: str, token: str | None, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls) -> HandoffClient:
        """A client for the configured service (read on every call: tests change it)."""
        config = settings.get_settings()
        return cls(config.handoff_url, config.handoff_service_token, config.handoff_timeout_s)

    def _post_blocking(self, path: str, body: Mapping[str, Any]) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            f"{self.base_url}{path}", data=json.dumps(body, ensure_ascii=False).encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 (configured URL)
                text = response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            raise HandoffUnavailable(f"POST {path}: HTTP {error.code}") from error
        except (OSError, ValueError) as error:  # refused, unreachable, timeout, bad URL
            raise HandoffUnavailable(f"POST {path}: {error!r}") from error
        try:
            return json.loads(text) if text.strip() else {}
        except ValueError as error:
            raise HandoffUnavailable(f"POST {path}: not JSON: {text[:200]!r}") from error

    async def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        # The standard library's client in a worker thread: the action server
        # needs no extra HTTP package, and the event loop keeps serving others.
        return await asyncio.to_thread(self._post_blocking, path, body)

    async def create_ticket(self, ticket: Mapping[str, Any]) -> HandoffReceipt:
        """Open (or find the open) ticket of a conversation.

        Raises:
            HandoffUnavailable: the service is down, slow, refuses or answers nonsense.
        """
        return HandoffReceipt.from_json(await self._post("/api/internal/tickets", ticket))

    async def rate(self, ticket_id: str, rating: int, comment: str | None = None) -> None:
        """Store the customer's rating (and comment) with the ticket.

        Raises:
            HandoffUnavailable: as :meth:`create_ticket`.
        """
        body: Dict[str, Any] = {"rating": rating}
        if comment:
            body["comment"] = comment
        await self._post(f"/api/internal/tickets/{ticket_id}/rating", body)


# ---------------------------------------------------------------------- wording
def _count_fragment(kb: KnowledgeBase, unit: str, count: int) -> str:
    """"دقيقة واحدة", "دقيقتين", "5 دقائق", "15 دقيقة": Arabic counts by form."""
    if count == 1:
        form = "one"
    elif count == 2:
        form = "two"
    elif 3 <= count <= 10:
        form = "few"
    else:
        form = "many"
    return kb.replies.fragment(f"{unit}_{form}", count=count)


def wait_words(kb: KnowledgeBase, seconds: Optional[float]) -> str:
    """An honest estimate in words: rounded up, never "no wait" when there is one."""
    if seconds is None or seconds < 0 or math.isnan(seconds):
        return kb.replies.fragment("wait_unknown")
    if seconds < 60:
        return kb.replies.fragment("wait_under_minute")
    minutes = math.ceil(seconds / 60)
    if minutes < 60:
        return _count_fragment(kb, "minutes", minutes)
    return _count_fragment(kb, "hours", math.ceil(minutes / 60))


def queue_words(kb: KnowledgeBase, position: Optional[int]) -> str:
    """"أنت التالي" or "ترتيبك 3"; nothing when the service gave no position."""
    if not position or position < 1:
        return ""
    if position == 1:
        return kb.replies.fragment("queue_next")
    return kb.replies.fragment("queue_position", position=position)


def callback_words(kb: KnowledgeBase, eta: Optional[str], now: datetime) -> str:
    """When the callback comes: the service's time, else the organisation's promise."""
    if eta:
        try:
            moment = datetime.fromisoformat(eta.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is not None:
                moment = moment.astimezone(settings.local_zone())
            return kb.replies.fragment("callback_at", when=kb.format_datetime(moment))
    return kb.handoff_eta(now)


# ---------------------------------------------------------------------- actions
_CLEAR_ESCALATION = [
    SlotSet("handoff_offered", False),
    SlotSet("escalation_reasons", None),
    SlotSet("escalation_priority", None),
    SlotSet("escalation_evidence", None),
]


def _fallback_ticket(ticket: Mapping[str, Any]) -> Dict[str, Any]:
    """The Redis ticket-store fields of a handoff the service could not take."""
    slots = ticket["slots"]
    customer = [line["text"] for line in ticket["transcript"] if line["role"] == "customer" and not line["text"].startswith("/")]
    return {
        "reason": ticket["reason"],
        "reasons": ticket["reasons"],
        "priority": ticket["priority_name"],
        "service": slots.get("service_type"),
        "district": slots.get("district"),
        "city": slots.get("city"),
        "account": slots.get("account_number"),
        # the agent's summary first, then the customer's own latest words
        "summary": ticket["summary_ar"].split("\n") + customer[-FALLBACK_SUMMARY_MESSAGES:],
    }


class ActionHandoff(Action):
    """Hands the conversation to a colleague (see the module docstring).

    The reasons and priority come from EscalationPolicy (slots
    ``escalation_reasons`` / ``escalation_priority``); when a rule started the
    handoff instead (the customer asked, or accepted the offer of a person),
    they are derived from the conversation with the same escalation.yml.
    """

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        ticket = build_ticket(tracker, kb)
        # The conversation leaves the bot: close any open form and clear the
        # escalation slots so the next handoff is judged afresh.
        events: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None), *_CLEAR_ESCALATION]
        # An essential outage already opened with an empathetic lead; otherwise the
        # handoff message itself acknowledges or apologises to an upset customer.
        empathetic = not self._outage_lead(dispatcher, tracker, kb, ticket)
        now = settings.now()
        try:
            receipt = await HandoffClient.from_settings().create_ticket(ticket)
        except HandoffUnavailable as error:
            logger.warning("handoff service unavailable, keeping the ticket in Redis: %s", error)
            return events + self._record_offline(dispatcher, tracker, kb, ticket, now, empathetic)

        events.append(SlotSet("handoff_ticket_id", receipt.ticket_id))
        if receipt.agents_on_duty <= 0:
            # Nobody can chat now: a callback, and the bot stays available meanwhile.
            kb.say(
                dispatcher, tracker, "handoff_callback_off_hours" if receipt.within_duty_hours is False else "handoff_callback_busy",
                ticket=receipt.ticket_id, callback=callback_words(kb, receipt.callback_eta, now), empathetic=empathetic,
            )
            return events
        kb.say(
            dispatcher, tracker, "handoff_queued",
            ticket=receipt.ticket_id, queue=queue_words(kb, receipt.position), wait=wait_words(kb, receipt.estimated_wait_s),
            empathetic=empathetic,
        )
        # A paused bot predicts nothing, so Rasa would never log its action_listen:
        # log it here, so that the customer's messages to the colleague and the
        # relay's EXTERNAL_ intent on return are ordinary user turns that the
        # rules (intent after action_listen) can match.
        return events + [ConversationPaused(), ActionExecuted("action_listen")]

    @staticmethod
    def _outage_lead(dispatcher: CollectingDispatcher, tracker: Tracker, kb: KnowledgeBase, ticket: Mapping[str, Any]) -> bool:
        """An essential service is out: say first that this is why a person takes over.

        Returns:
            Whether the lead was said.
        """
        service = kb.service(ticket["slots"].get("service_type"))
        if escalation.ESSENTIAL_OUTAGE not in ticket["reasons"] or service is None:
            return False
        district = ticket["slots"].get("district")
        place = kb.replies.fragment("summary_place_in", district=district) if district else ""
        kb.say(dispatcher, tracker, "handoff_outage_lead", service_name=service.name, place=place, empathetic=True)
        return True

    @staticmethod
    def _record_offline(
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        kb: KnowledgeBase,
        ticket: Mapping[str, Any],
        now: datetime,
        empathetic: bool,
    ) -> List[EventType]:
        """Keep the ticket in the Redis ticket store and say honestly what happens."""
        try:
            store = get_ticket_store()
            stored = store.create("handoff", conversation_id=tracker.sender_id, **_fallback_ticket(ticket))
            # the service opens it in the agents' queue once it is back (handoff/contract.py)
            store.client.xadd(
                INBOX, {INBOX_TICKET: json.dumps(ticket, ensure_ascii=False), INBOX_OFFLINE_ID: stored.id},
                maxlen=INBOX_MAXLEN, approximate=True,
            )
        except redis.RedisError as error:
            logger.exception("ticket store unavailable too: %s", error)
            kb.say(dispatcher, tracker, "system_unavailable")
            return []
        kb.say(dispatcher, tracker, "handoff_offline", ticket=stored.id, eta=kb.handoff_eta(now), empathetic=empathetic)
        return []


class ActionHandoffReturned(Action):
    """A colleague gave the conversation back to the bot: say so and carry on."""

    def name(self) -> str:
        return "action_handoff_returned"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        get_knowledge_base().say(dispatcher, tracker, "handoff_returned")
        return [SlotSet("handoff_ticket_id", None), *_CLEAR_ESCALATION]


class ActionHandoffResolved(Action):
    """A colleague resolved the request: the bot is back and asks for a rating next."""

    def name(self) -> str:
        return "action_handoff_resolved"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ticket_id = next(tracker.get_latest_entity_values("handoff_ticket_id"), None) or tracker.get_slot("handoff_ticket_id")
        get_knowledge_base().say(dispatcher, tracker, "handoff_resolved")
        return [
            SlotSet("handoff_ticket_id", ticket_id),
            SlotSet("rating", None),
            SlotSet("rating_comment", None),
            *_CLEAR_ESCALATION,
        ]


def _asked(tracker: Tracker, slot: str) -> bool:
    return tracker.get_slot("requested_slot") == slot


def _latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


# Intents that answer the rating question without being a rating ("ok", "thanks"):
# the customer is asked again rather than sent elsewhere.
_ANSWER_INTENTS = {"inform", "nlu_fallback", "affirm", "thank"}


class ValidateRatingForm(FormValidationAction):
    """Reads the rating (button, digit in any script, number word) and the comment."""

    def name(self) -> str:
        return "validate_rating_form"

    async def extract_rating(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        if not _asked(tracker, "rating"):
            return {}
        button = next(tracker.get_latest_entity_values("rating"), None)
        if button is not None:
            return {"rating": button}
        text = str((tracker.latest_message or {}).get("text") or "").strip()
        if parse_rating(text) is not None:
            return {"rating": text}
        intent = _latest_intent(tracker)
        if intent == "deny":
            return {"rating": 0, "rating_comment": ""}  # declines to rate: nothing more to ask
        if intent in _ANSWER_INTENTS:
            return {"rating": text}  # not a rating: validate_rating says what is expected
        return {}  # a new request: let the other policies answer it

    async def extract_rating_comment(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        if not _asked(tracker, "rating_comment"):
            return {}
        text = str((tracker.latest_message or {}).get("text") or "").strip()
        if _latest_intent(tracker) == "deny" or not text or text.startswith("/"):
            return {"rating_comment": ""}  # skipped
        return {"rating_comment": text[:MAX_COMMENT_CHARS]}

    def validate_rating(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        """1-5; 0 means the customer declined to rate."""
        if value == 0:
            return {"rating": 0}
        rating = parse_rating(value)
        if rating is None:
            get_knowledge_base().say(dispatcher, tracker, "rating_invalid")
            return {"rating": None}
        return {"rating": rating}


class ActionAskRating(Action):
    """Asks for a 1-5 rating, with one button per grade."""

    def name(self) -> str:
        return "action_ask_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        get_knowledge_base().say(dispatcher, tracker, "ask_rating")
        return []


class ActionAskRatingComment(Action):
    """Asks for an optional comment, with a button to skip it."""

    def name(self) -> str:
        return "action_ask_rating_comment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        get_knowledge_base().say(dispatcher, tracker, "ask_rating_comment")
        return []


class ActionSubmitRating(Action):
    """Posts the rating (and comment) to the ticket and thanks the customer."""

    def name(self) -> str:
        return "action_submit_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        reset: List[EventType] = [
            SlotSet("rating", None),
            SlotSet("rating_comment", None),
            SlotSet("handoff_ticket_id", None),
            SlotSet("requested_slot", None),
        ]
        rating = parse_rating(tracker.get_slot("rating"))
        if rating is None:  # declined
            kb.say(dispatcher, tracker, "rating_declined")
            return reset
        ticket_id = tracker.get_slot("handoff_ticket_id")
        comment = tracker.get_slot("rating_comment") or None
        if not ticket_id:
            logger.warning("rating %s without a ticket in conversation %s", rating, tracker.sender_id)
        else:
            try:
                await HandoffClient.from_settings().rate(str(ticket_id), rating, comment)
            except HandoffUnavailable as error:
                # Said honestly; the rating is in the tracker (slots and messages) too.
                logger.warning("rating %s for %s not stored: %s", rating, ticket_id, error)
                kb.say(dispatcher, tracker, "rating_not_stored", phone=kb.contact.get("phone", ""))
                return reset
        kb.say(dispatcher, tracker, "rating_thanks_low" if rating <= 2 else "rating_thanks")
        return reset
