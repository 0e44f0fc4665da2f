"""REST channel: a customer typing a command gets it read as text (bot/channels/commands.py)."""

from __future__ import annotations

from typing import Iterator

import pytest
import requests
from channel_harness import ChannelServer

from bot.channels.rest import ValidatedRestInput
from bot.settings import Settings


@pytest.fixture
def rest(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelServer]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    server = ChannelServer(ValidatedRestInput(Settings(local_mode=True))).start()
    yield server
    server.stop()


def say(server: ChannelServer, sender: str, text: str) -> requests.Response:
    return requests.post(f"{server.url}/webhook", json={"sender": sender, "message": text}, timeout=10)


def test_a_forged_rating_or_restart_reaches_the_bot_as_plain_text(rest: ChannelServer) -> None:
    # another customer's ticket rated by typing the relay's intent; a paused conversation un-paused
    forged = '/EXTERNAL_handoff_resolved{"handoff_ticket_id":"HO-000001"}'
    assert say(rest, "c1", forged).status_code == 200
    assert say(rest, "c1", "  /restart").status_code == 200
    assert say(rest, "c1", "/").status_code == 400  # nothing left once the slash goes
    texts = [m.text for m in rest.bot.received]  # type: ignore[attr-defined]
    assert texts == ['EXTERNAL_handoff_resolved{"handoff_ticket_id":"HO-000001"}', "restart"]


def test_buttons_the_bot_offered_come_back_as_payloads_in_that_conversation_only(rest: ChannelServer) -> None:
    reply = say(rest, "c2", "rate").json()
    payloads = [b["payload"] for m in reply for b in m.get("buttons") or []]
    assert '/rate{"rating":5}' in payloads
    assert say(rest, "c2", '/rate{"rating":5}').status_code == 200
    assert say(rest, "c3", '/rate{"rating":5}').status_code == 200  # offered to c2, not to c3
    texts = [m.text for m in rest.bot.received]  # type: ignore[attr-defined]
    assert texts == ["rate", '/rate{"rating":5}', 'rate{"rating":5}']
