"""The handoff ticket: what a colleague needs to take over a conversation.

Built from the tracker alone (see handoff/PROTOCOL.md, "Ticket creation"): the
reasons and priority, the frustration and urgency trajectory, intents, slots and
entities, the whole transcript with timestamps and a short Arabic summary for the
agent, cut to fit the service's size limit. :func:`fallback_ticket` gives the
Redis ticket-store fields of a ticket the handoff service could not take.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Mapping, Sequence

from rasa_sdk import Tracker

from actions.billing import clean_account_number
from actions.knowledge_base import KnowledgeBase, strip_district_word
from actions.tickets import canonical_ticket_id
from bot import escalation
from bot.masking import mask_customer

# Answers to "shall I get you a person?": not the reason for a handoff.
_YES_NO = {"affirm", "deny"}
# Intents that are not the customer's request (small talk, answers, system).
_NOT_A_PROBLEM = {"greet", "goodbye", "thank", "affirm", "deny", "inform", "bot_challenge", "nlu_fallback"}
# Slots a ticket carries (the colleague's "what do we know").
TICKET_SLOTS = ("service_type", "account_number", "district", "city", "ticket_number", "phone_number", "date")
# How many of the customer's latest messages the Redis fallback ticket carries.
FALLBACK_SUMMARY_MESSAGES = 3
# The handoff service refuses bodies over 512 KiB; a very long conversation keeps
# its latest messages (and says how many earlier ones are left out) to stay below.
MAX_TICKET_BYTES = 400_000


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


# ---------------------------------------------------------------------- the whole ticket
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


# ---------------------------------------------------------------------- offline
def fallback_ticket(ticket: Mapping[str, Any]) -> Dict[str, Any]:
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
