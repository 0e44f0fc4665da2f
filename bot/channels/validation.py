"""Validation shared by every input channel (REST, web chat, WhatsApp, Twilio).

One place decides what a customer message may look like, so every channel gives the
same clear error for the same bad input: :func:`parse_json_object` for JSON bodies
and frames (nesting refused before parsing), :func:`clean_text` for the text.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Union

from sanic import response
from sanic.response import HTTPResponse

from bot import rate_limit
from bot.untrusted import RefusedBody, json_object, strip_invisible

# Sender ids travel into Redis keys and logs: keep them to a safe alphabet.
SENDER_PATTERN = re.compile(r"^[\w.:@+-]{1,128}$")
# C0/C1 control characters other than tab and newline carry no meaning in a message.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class InputError(Exception):
    """A request the channel refuses, with its HTTP status and messages.

    Attributes:
        status: HTTP status to answer with.
        code: stable English error code for programs.
        message_ar: Arabic explanation for the customer.
    """

    def __init__(self, status: int, code: str, message_ar: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message_ar = status, code, message_ar
        self.first = True  # see check_rate

    def as_dict(self) -> dict:
        return {"error": self.code, "message": self.message_ar}

    def response(self) -> HTTPResponse:
        return response.json(self.as_dict(), status=self.status)


def parse_json_object(raw: Union[bytes, str], max_bytes: int) -> Dict[str, Any]:
    """Decode a JSON object (a webhook body or a WebSocket frame).

    Nesting is checked before ``json.loads``: ``"[" * 20000`` would otherwise end
    in a RecursionError, a 500 instead of a 400.

    Raises:
        InputError: too large (413), not UTF-8, too deep, not JSON or not an object (400).
    """
    try:
        return json_object(raw, max_bytes)
    except RefusedBody as refused:
        raise InputError(refused.status, refused.code, refused.message_ar) from None


def clean_text(text: Any, max_chars: int) -> str:
    """Return the customer's text without control characters and outer spaces.

    Invisible bidi and zero-width controls go too: they would let a message
    reorder what the agent or the trainer reads later.

    Args:
        text: the ``message`` value of a request (anything JSON can hold).
        max_chars: longest text accepted.

    Raises:
        InputError: missing, empty or too long text.
    """
    if not isinstance(text, str):
        raise InputError(400, "missing_message", "الرسالة مفقودة.")
    text = strip_invisible(_CONTROL.sub("", text)).strip()
    if not text:
        raise InputError(400, "empty_message", "الرسالة فارغة، اكتب سؤالك من فضلك.")
    if len(text) > max_chars:
        raise InputError(
            413,
            "message_too_long",
            f"الرسالة طويلة جداً؛ الحد الأقصى {max_chars} حرف. اختصرها من فضلك.",
        )
    return text


RATE_LIMITED_AR = "أرسلت رسائل كثيرة خلال وقت قصير؛ انتظر دقيقة من فضلك ثم أعد المحاولة."


async def check_rate(redis: Any, namespace: str, key: str, limit: int, window_seconds: int) -> None:
    """Count one message of ``key``; raise a 429 :class:`InputError` past ``limit`` per window.

    The error's ``first`` attribute is True only for the first refusal since ``key``
    was last let through, so channels that must answer in the chat (WhatsApp) say it
    once, not per message.
    """
    verdict = await rate_limit.take(redis, namespace, key, limit, window_seconds)
    if not verdict.admitted:
        error = InputError(429, "rate_limited", RATE_LIMITED_AR)
        error.first = verdict.first_refusal
        raise error


def delivery_key(namespace: str, message_id: str) -> str:
    """The mark saying ``message_id`` of ``namespace`` was taken (shared by all Rasa processes).

    Every channel that receives retries (WhatsApp and Twilio webhooks, a REST caller's
    ``message_id``) marks its ids here. A message that reaches the bot is marked by
    ``inbound.accept`` in the same step that stores it (``DeliveryMark``), so a process
    that dies in between leaves the sender's retry free to get through.
    """
    return f"{namespace}:seen:{message_id}"


async def already_delivered(redis: Any, namespace: str, message_id: str) -> bool:
    """Whether ``message_id`` was taken before (a retry whose message is stored)."""
    return bool(await redis.exists(delivery_key(namespace, message_id)))


async def first_delivery(redis: Any, namespace: str, message_id: str, ttl_seconds: int) -> bool:
    """Mark ``message_id`` now; True the first time (a sender's retry is not).

    For messages answered without reaching the bot (an image the channel cannot read);
    the others are marked as they are stored.
    """
    return bool(await redis.set(delivery_key(namespace, message_id), 1, nx=True, ex=ttl_seconds))


async def forget_delivery(redis: Any, namespace: str, message_id: str) -> None:
    """Let a retry of ``message_id`` through again (it was not stored or processed)."""
    await redis.delete(delivery_key(namespace, message_id))
