"""The trainer's inbox: customer messages from Rasa trackers, flagged and masked.

Pure functions over the JSON that Rasa's RedisTrackerStore writes (a serialised
``Dialogue``: ``{"name": sender_id, "events": [...]}``); the Redis access lives in
:mod:`workbench.store`.

Trackers keep what customers typed, invisible bidi and zero-width controls
included (older messages, other channels). The inbox strips them before masking
(so a phone number split by a zero-width space is still masked) and moves the
entity offsets with the text, so the trainer reads the characters in the order
they were typed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from bot.masking import mask, mask_customer
from bot.nlu.arabic_text import normalize
from bot.untrusted import strip_invisible, strip_invisible_mapped

FALLBACK_INTENT = "nlu_fallback"
FALLBACK_ACTIONS = {"action_fallback", "action_default_fallback", "action_default_ask_affirmation"}
HANDOFF_ACTIONS = {"action_handoff"}
# ``escalated``: this message made the assistant hand the conversation to a person
# (the item carries the evidence that decided it, so a wrong handoff can be relabelled).
FLAGS = ("low_confidence", "fallback", "handed_off", "contradicted", "escalated")
# What customers write when the assistant got them wrong, normalised (alef, teh
# marbuta, digits) the way ``normalize`` leaves them. Matched as whole phrases.
_CORRECTIONS = [
    "مو هذا", "مب هذا", "مش ده", "مش دا", "مش هيك", "مو هيك", "ليس هذا", "ليس ما", "مش هذا",
    "ما قصدت", "مو قصدي", "مش قصدي", "ماقصدت", "لم اقصد", "مش عايز كده", "مش كده", "مو كذا",
    "ماشي لا", "غلط", "خطا", "فهمتني غلط", "ما فهمت", "مافهمت", "ما فهمتني", "مش فاهم", "مو فاهم",
    "not what i meant", "that's not", "thats not", "wrong", "msh keda", "mesh keda", "ghalat",
]
_CORRECTION_RE = re.compile(r"(?:^|\s)(?:" + "|".join(re.escape(normalize(p).text) for p in _CORRECTIONS) + r")(?:\s|$|[!?.؟،,])")


@dataclass
class InboxItem:
    """One customer message as the trainer sees it (personal data masked).

    Attributes:
        id: ``<conversation reference>|<index of the event>``, stable while the tracker
            lives; the reference is opaque (a keyed hash, see :func:`bot.masking.conversation_ref`)
            because the sender id of a WhatsApp customer is their phone number.
        conversation_id: Rasa's sender id (shown to supervisors only, see routes.py).
        customer_display: the masked customer, as the agent console shows it.
        text: the message, invisible controls removed, then masked (same length).
        intent / confidence: what the NLU predicted (``nlu_fallback`` included).
        ranking: the top intents with confidences (fallback excluded).
        entities: extracted entities, offsets on ``text``, values masked.
        frustration / frustration_score, urgency / urgency_score, dialect: signals.
        channel: the input channel (rest, webchat, whatsapp, ...).
        timestamp: Unix time of the message; ``date`` its ISO day (UTC).
        flags: which of :data:`FLAGS` apply.
        handoff_evidence: for an ``escalated`` message, what decided the handoff
            (reason, rule, detail, scores; bot/escalation.py), message text masked.
    """

    id: str
    conversation_id: str
    text: str
    intent: Optional[str]
    confidence: float
    ranking: List[Dict[str, Any]] = field(default_factory=list)
    entities: List[Dict[str, Any]] = field(default_factory=list)
    frustration: Optional[str] = None
    frustration_score: Optional[float] = None
    urgency: Optional[str] = None
    urgency_score: Optional[float] = None
    dialect: Optional[str] = None
    channel: Optional[str] = None
    timestamp: float = 0.0
    date: str = ""
    flags: List[str] = field(default_factory=list)
    handoff_evidence: List[Dict[str, Any]] = field(default_factory=list)
    customer_display: str = ""

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class InboxFilter:
    """Which messages the trainer wants to see.

    Attributes:
        flags: keep messages with at least one of these flags; empty keeps all.
        dialect: keep this dialect only.
        date_from / date_to: inclusive ISO days (UTC).
        intent: keep messages predicted as this intent.
    """

    flags: Sequence[str] = ()
    dialect: Optional[str] = None
    date_from: Optional[str] = None
    date_to: Optional[str] = None
    intent: Optional[str] = None

    @classmethod
    def from_query(cls, query: Dict[str, Any]) -> InboxFilter:
        """Build a filter from query arguments; unknown flags raise ValueError."""
        raw_flags = query.get("flags") or []
        if isinstance(raw_flags, str):
            raw_flags = [f for f in raw_flags.split(",") if f]
        unknown = [f for f in raw_flags if f not in FLAGS]
        if unknown:
            raise ValueError(f"unknown filter {unknown[0]!r}; use one of {', '.join(FLAGS)}")
        for key in ("date_from", "date_to"):
            if query.get(key):
                date.fromisoformat(str(query[key]))  # ValueError on a bad date
        return cls(
            flags=tuple(raw_flags),
            dialect=query.get("dialect") or None,
            date_from=query.get("date_from") or None,
            date_to=query.get("date_to") or None,
            intent=query.get("intent") or None,
        )

    def accepts(self, item: InboxItem) -> bool:
        if self.flags and not set(self.flags) & set(item.flags):
            return False
        if self.dialect and item.dialect != self.dialect:
            return False
        if self.date_from and item.date < self.date_from:
            return False
        if self.date_to and item.date > self.date_to:
            return False
        return not (self.intent and item.intent != self.intent)


def is_correction(text: str) -> bool:
    """Whether a customer message says the assistant misunderstood the one before."""
    return bool(_CORRECTION_RE.search(" " + normalize(text).text + " "))


def _signals(parse: Dict[str, Any]) -> Dict[str, Any]:
    signals = parse.get("signals") or {}
    frustration = signals.get("frustration") or {}
    urgency = signals.get("urgency") or {}
    dialect = signals.get("dialect") or {}
    return {
        "frustration": frustration.get("level"),
        "frustration_score": frustration.get("score"),
        "urgency": urgency.get("service"),
        "urgency_score": urgency.get("score"),
        "dialect": dialect.get("label") if isinstance(dialect, dict) else dialect,
    }


def _masked_entities(text: str, masked: str, entities: Iterable[Dict[str, Any]],
                     moved: Callable[[int], int] = lambda offset: offset) -> List[Dict[str, Any]]:
    """Entities with offsets on ``masked``; ``moved`` maps offsets of ``text`` (the
    tracker's) to the visible text ``masked`` was made from."""
    out = []
    for entity in entities or []:
        start, end = entity.get("start"), entity.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end <= len(text):
            continue
        start, end = moved(start), moved(end)
        if start < end:  # an entity made only of invisible controls disappears with them
            out.append({"entity": entity.get("entity"), "start": start, "end": end, "value": masked[start:end],
                        "extractor": entity.get("extractor")})
    return out


def _handoff_evidence(answer: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The evidence EscalationPolicy recorded, when these events (the assistant's
    answer to one message) hand the conversation to a person; personal data masked."""
    if not any(e.get("event") == "action" and e.get("name") in HANDOFF_ACTIONS for e in answer):
        return []
    recorded = next(
        (e.get("value") for e in answer if e.get("event") == "slot" and e.get("name") == "escalation_evidence" and e.get("value")),
        None,
    )
    if not isinstance(recorded, list):
        return [{"reason": None, "rule": "dialogue_rule", "detail": "", "scores": {}}]
    out = []
    for item in recorded:
        if isinstance(item, dict):
            out.append({
                "reason": item.get("reason"), "rule": item.get("rule"),
                "detail": mask(strip_invisible(str(item.get("detail") or ""))),
                "scores": {k: v for k, v in (item.get("scores") or {}).items() if isinstance(v, (int, float))},
                "bot_asked": mask(strip_invisible(str(item.get("bot_asked") or ""))),
            })
    return out


def items_from_dialogue(
    conversation_id: str, dialogue: Dict[str, Any], low_confidence: float = 0.5, ref: Optional[Callable[[str], str]] = None
) -> List[InboxItem]:
    """Customer messages of one serialised tracker, with their flags.

    Args:
        conversation_id: the sender id (the Redis key without its prefix).
        dialogue: the JSON the tracker store saved.
        low_confidence: confidence under which ``low_confidence`` is flagged.
        ref: the conversation's opaque reference for item ids (None: the id itself,
            for tests and tools that never show ids to people).

    Returns:
        One item per user message with text, oldest first.
    """
    events = dialogue.get("events") or []
    handoff_at = max((i for i, e in enumerate(events) if e.get("event") == "action" and e.get("name") in HANDOFF_ACTIONS), default=-1)
    user_indices = [i for i, e in enumerate(events) if e.get("event") == "user" and (e.get("text") or "").strip()]
    items = []
    reference = ref(conversation_id) if ref else conversation_id
    for position, index in enumerate(user_indices):
        event = events[index]
        text = event.get("text") or ""
        parse = event.get("parse_data") or {}
        intent = parse.get("intent") or {}
        name = intent.get("name")
        confidence = float(intent.get("confidence") or 0.0)
        ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK_INTENT][:5]
        next_index = user_indices[position + 1] if position + 1 < len(user_indices) else len(events)
        answered_by = [e.get("name") for e in events[index + 1 : next_index] if e.get("event") == "action"]
        flags = []
        top_confidence = float(ranking[0].get("confidence") or 0.0) if name == FALLBACK_INTENT and ranking else confidence
        if top_confidence < low_confidence or confidence < low_confidence:
            flags.append("low_confidence")
        if name == FALLBACK_INTENT or FALLBACK_ACTIONS & set(answered_by):
            flags.append("fallback")
        if index < handoff_at:
            flags.append("handed_off")
        if position + 1 < len(user_indices):
            following = events[user_indices[position + 1]]
            following_intent = ((following.get("parse_data") or {}).get("intent") or {}).get("name")
            if following_intent == "deny" or is_correction(following.get("text") or ""):
                flags.append("contradicted")
        evidence = _handoff_evidence(events[index + 1 : next_index])
        if evidence:
            flags.append("escalated")
        visible, moved = strip_invisible_mapped(text)
        masked = mask(visible)
        timestamp = float(event.get("timestamp") or 0.0)
        items.append(
            InboxItem(
                id=f"{reference}|{index}",
                conversation_id=conversation_id,
                customer_display=mask_customer(conversation_id, event.get("input_channel")),
                text=masked,
                intent=name,
                confidence=round(confidence, 4),
                ranking=[{"name": r.get("name"), "confidence": round(float(r.get("confidence") or 0), 4)} for r in ranking],
                entities=_masked_entities(text, masked, parse.get("entities") or [], moved),
                channel=event.get("input_channel"),
                timestamp=timestamp,
                date=datetime.fromtimestamp(timestamp, tz=timezone.utc).date().isoformat() if timestamp else "",
                flags=flags,
                handoff_evidence=evidence,
                **_signals(parse),
            )
        )
    return items


def select(items: Iterable[InboxItem], inbox_filter: InboxFilter, reviewed: Iterable[str] = (), limit: int = 200) -> List[InboxItem]:
    """Items the filter accepts and nobody has reviewed yet, newest first."""
    done = set(reviewed)
    kept = [item for item in items if item.id not in done and inbox_filter.accepts(item)]
    kept.sort(key=lambda item: item.timestamp, reverse=True)
    return kept[:limit]
