"""Validation of request bodies: clear 4xx errors instead of stack traces.

``mask_customer`` (the masked display of a customer) is :func:`bot.masking.mask_customer`,
re-exported here for the service's callers.

Pure functions: they take bytes or dicts and return clean values or raise
:class:`PayloadError`; the HTTP layer turns that into a JSON response.

Every JSON body of the service (console, internal API, trainer workbench) goes
through :func:`parse_json_object`, which refuses deep nesting before parsing.
Customer text (transcript lines, evidence, slots, comments) and what agents type
loses its C0/C1 controls and its invisible bidi / zero-width controls here, so
nothing can reorder what the next person reads (``bot/untrusted.py``).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from bot.masking import mask, mask_customer
from bot.untrusted import RefusedBody, json_object, strip_invisible

# Conversation ids travel into Redis keys and logs (same alphabet as the REST channel's senders).
CONVERSATION_ID = re.compile(r"^[\w.:@+-]{1,128}$")
# C0/C1 control characters other than tab and newline carry no meaning in a message.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
ROLES = ("customer", "bot", "agent", "system")
MAX_BODY_BYTES = 512 * 1024


def plain(text: str) -> str:
    """``text`` without control characters: C0/C1 and the invisible bidi / zero-width ones."""
    return strip_invisible(_CONTROL.sub("", text))


class PayloadError(Exception):
    """A request body the service refuses.

    Attributes:
        status: HTTP status (400 or 413, 422 for a valid JSON with wrong fields).
        code: short English error code.
        message_ar: explanation in Arabic for the console.
    """

    def __init__(self, status: int, code: str, message_ar: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message_ar = status, code, message_ar


def parse_json_object(body: bytes, max_bytes: int = MAX_BODY_BYTES) -> Dict[str, Any]:
    """Decode a JSON object body.

    Raises:
        PayloadError: too large, not UTF-8, nested deeper than
            :data:`bot.untrusted.MAX_JSON_DEPTH` (checked before parsing: deep
            nesting would end in a RecursionError, a 500), not JSON, or not an object.
    """
    try:
        return json_object(body, max_bytes)
    except RefusedBody as refused:
        raise PayloadError(refused.status, refused.code, refused.message_ar) from None


def clean_text(value: Any, max_chars: int, field: str = "text") -> str:
    """A non-empty message without control characters, at most ``max_chars`` long.

    Raises:
        PayloadError: missing, empty or too long.
    """
    if not isinstance(value, str):
        raise PayloadError(422, f"missing_{field}", "النص مفقود.")
    text = plain(value).strip()
    if not text:
        raise PayloadError(422, f"empty_{field}", "النص فارغ.")
    if len(text) > max_chars:
        raise PayloadError(413, f"{field}_too_long", f"النص أطول من {max_chars} حرف.")
    return text


def _list_of_dicts(value: Any, field: str) -> List[Dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PayloadError(422, f"invalid_{field}", f"الحقل {field} يجب أن يكون قائمة كائنات.")
    return value


def validate_ticket(payload: Dict[str, Any], max_chars: int = 2000) -> Dict[str, Any]:
    """Check and normalise the ticket JSON of ``POST /api/internal/tickets``.

    Returns:
        The ticket fields the store keeps (unknown keys dropped).

    Raises:
        PayloadError: a required field is missing or has the wrong type.
    """
    conversation_id = payload.get("conversation_id")
    if not isinstance(conversation_id, str) or not CONVERSATION_ID.match(conversation_id):
        raise PayloadError(422, "invalid_conversation_id", "معرّف المحادثة مفقود أو غير صالح.")
    priority = payload.get("priority", 3)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 3:
        raise PayloadError(422, "invalid_priority", "الأولوية يجب أن تكون 1 أو 2 أو 3.")
    channel = payload.get("channel") or "rest"
    if not isinstance(channel, str) or not re.match(r"^[a-z][a-z0-9_]{0,31}$", channel):
        raise PayloadError(422, "invalid_channel", "اسم القناة غير صالح.")
    reasons = payload.get("reasons") or []
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise PayloadError(422, "invalid_reasons", "الأسباب يجب أن تكون قائمة نصوص.")
    slots = payload.get("slots") or {}
    if not isinstance(slots, dict):
        raise PayloadError(422, "invalid_slots", "الخانات يجب أن تكون كائناً.")
    slots = _plain_values(slots)
    transcript = []
    for line in _list_of_dicts(payload.get("transcript"), "transcript"):
        role = line.get("role") if line.get("role") in ROLES else "system"
        text = plain(line["text"]).strip() if isinstance(line.get("text"), str) else ""
        if text:
            transcript.append({"ts": _number(line.get("ts")), "role": role, "text": text[: max_chars * 2]})
    signals = []
    for point in _list_of_dicts(payload.get("signals"), "signals"):
        signals.append(
            {
                "ts": _number(point.get("ts")),
                "frustration": _number(point.get("frustration")),
                "urgency_service": point.get("urgency_service") if isinstance(point.get("urgency_service"), str) else None,
                "urgency_score": _number(point.get("urgency_score")),
            }
        )
    evidence = [_evidence(item, max_chars) for item in _list_of_dicts(payload.get("evidence"), "evidence")]
    # the action server masks the display already; masking again costs nothing and keeps
    # a raw number out of every console even if a client sends one
    display = plain(payload["customer_display"]) if isinstance(payload.get("customer_display"), str) else ""
    return {
        "conversation_id": conversation_id,
        "channel": channel,
        "customer_display": mask(display[:80], digit_runs=True) if display else mask_customer(conversation_id, channel),
        "reasons": reasons,
        "evidence": evidence,
        "priority": priority,
        "signals": signals,
        "intents": [i for i in payload.get("intents") or [] if isinstance(i, str)],
        "slots": slots,
        "entities": [_plain_values(entity) for entity in _list_of_dicts(payload.get("entities"), "entities")],
        "transcript": transcript,
        "summary_ar": plain(payload["summary_ar"]) if isinstance(payload.get("summary_ar"), str) else "",
    }


def _evidence(item: Dict[str, Any], max_chars: int) -> Dict[str, Any]:
    """One entry of what decided a handoff (bot/escalation.py ``Evidence``), texts only."""
    def text(key: str, limit: int) -> Optional[str]:
        value = item.get(key)
        return plain(value)[:limit] if isinstance(value, str) else None

    raw = item.get("scores")
    scores: Dict[str, Any] = raw if isinstance(raw, dict) else {}
    return {
        "reason": text("reason", 40),
        "rule": text("rule", 80),
        "detail": text("detail", 300),
        "message": text("message", max_chars),
        "bot_asked": text("bot_asked", max_chars),
        "scores": {str(k)[:40]: v for k, v in list(scores.items())[:8] if _number(v) is not None},
    }


def validate_rating(payload: Dict[str, Any], max_chars: int = 2000) -> Dict[str, Any]:
    """``{rating: 1..5, comment?}`` of the internal rating endpoint."""
    rating = payload.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise PayloadError(422, "invalid_rating", "التقييم يجب أن يكون عدداً من 1 إلى 5.")
    comment = payload.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise PayloadError(422, "invalid_comment", "التعليق يجب أن يكون نصاً.")
    comment = plain(comment or "").strip()[:max_chars]
    return {"rating": rating, "comment": comment or None}


def _plain_values(record: Dict[str, Any]) -> Dict[str, Any]:
    """``record`` with :func:`plain` string values (slot values and entities quote the customer)."""
    return {key: plain(value) if isinstance(value, str) else value for key, value in record.items()}


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


__all__ = ["PayloadError", "clean_text", "mask_customer", "parse_json_object", "validate_rating", "validate_ticket"]
