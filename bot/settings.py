"""Settings of the Rasa-side code (channels, NLG), read from the environment once."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        return int(raw) if raw else default
    except ValueError as error:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from error


@dataclass(frozen=True)
class Settings:
    """Limits and timeouts of the input channels.

    Attributes:
        max_message_chars: longest customer message accepted (longer: HTTP 413).
        max_body_bytes: largest request body accepted.
        reply_timeout_seconds: a request waiting longer for the bot gets HTTP 504.
    """

    max_message_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    reply_timeout_seconds: int = 30

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            max_message_chars=_int("MAX_MESSAGE_CHARS", cls.max_message_chars),
            max_body_bytes=_int("MAX_BODY_BYTES", cls.max_body_bytes),
            reply_timeout_seconds=_int("REPLY_TIMEOUT_SECONDS", cls.reply_timeout_seconds),
        )
