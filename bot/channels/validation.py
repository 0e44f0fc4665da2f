"""Validation shared by every input channel (REST, web chat, WhatsApp, Twilio).

One place decides what a customer message may look like, so every channel gives the
same clear error for the same bad input.
"""

from __future__ import annotations

import re
from typing import Any

from sanic import response
from sanic.response import HTTPResponse

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

    def as_dict(self) -> dict:
        return {"error": self.code, "message": self.message_ar}

    def response(self) -> HTTPResponse:
        return response.json(self.as_dict(), status=self.status)


def clean_text(text: Any, max_chars: int) -> str:
    """Return the customer's text without control characters and outer spaces.

    Args:
        text: the ``message`` value of a request (anything JSON can hold).
        max_chars: longest text accepted.

    Raises:
        InputError: missing, empty or too long text.
    """
    if not isinstance(text, str):
        raise InputError(400, "missing_message", "الرسالة مفقودة.")
    text = _CONTROL.sub("", text).strip()
    if not text:
        raise InputError(400, "empty_message", "الرسالة فارغة، اكتب سؤالك من فضلك.")
    if len(text) > max_chars:
        raise InputError(
            413,
            "message_too_long",
            f"الرسالة طويلة جداً؛ الحد الأقصى {max_chars} حرف. اختصرها من فضلك.",
        )
    return text
