"""The Rasa process reads its environment once: channels share one settings object."""

from __future__ import annotations

import pytest

from bot import settings
from bot.channels.rest import ValidatedRestInput
from bot.channels.webchat import WebchatInput


def test_channels_share_the_settings_read_at_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "321")
    rest, webchat = ValidatedRestInput(), WebchatInput()
    assert rest.settings is webchat.limits is settings.process_settings().channels
    assert rest.settings.max_message_chars == 321
    # a later change of the environment is not seen by this process
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "999")
    assert ValidatedRestInput().settings.max_message_chars == 321


def test_a_malformed_value_fails_at_the_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BURST_WINDOWS", "whatsapp:soon")
    with pytest.raises(ValueError, match="BURST_WINDOWS"):
        settings.process_settings()
