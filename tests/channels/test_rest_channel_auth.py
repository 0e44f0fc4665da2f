"""REST channel only for trusted callers (REST_API_KEY), and a REST caller cannot take
over another channel's conversation by sending its sender id."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import requests
from channel_harness import ChannelServer

from bot.channels.rest import ValidatedRestInput, is_foreign_sender
from bot.settings import Settings

KEY = "rest-key-0123456789abcdef0123456789abcdef"


@pytest.fixture
def serve(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    servers = []

    def start(settings: Settings) -> ChannelServer:
        server = ChannelServer(ValidatedRestInput(settings)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def post(server: ChannelServer, sender: str = "c1", headers: Any = None) -> requests.Response:
    return requests.post(f"{server.url}/webhook", json={"sender": sender, "message": "مرحبا"}, headers=headers or {}, timeout=10)


def test_without_a_key_outside_local_mode_the_channel_is_closed(serve: Any) -> None:
    server = serve(Settings())
    response = post(server)
    assert response.status_code == 503
    assert response.json()["error"] == "rest_not_configured"
    assert server.bot.received == []  # type: ignore[attr-defined]


def test_a_configured_key_is_required(serve: Any) -> None:
    server = serve(Settings(rest_api_key=KEY))
    for headers in ({}, {"X-Api-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY},
                    {"X-Api-Key": KEY[:-1]}, {"Authorization": f"Basic {KEY}"}):
        response = post(server, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"] == "unauthorized"
    assert server.bot.received == []  # type: ignore[attr-defined]
    assert post(server, headers={"X-Api-Key": KEY}).status_code == 200
    assert post(server, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert len(server.bot.received) == 2  # type: ignore[attr-defined]


def test_local_mode_needs_no_key_but_a_configured_key_still_applies(serve: Any) -> None:
    assert post(serve(Settings(local_mode=True))).status_code == 200
    assert post(serve(Settings(local_mode=True, rest_api_key=KEY))).status_code == 401


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REST_API_KEY", raising=False)
    monkeypatch.delenv("NOOR_LOCAL_MODE", raising=False)
    assert Settings.from_env().local_mode is False and Settings.from_env().rest_api_key == ""
    monkeypatch.setenv("REST_API_KEY", KEY)
    monkeypatch.setenv("NOOR_LOCAL_MODE", "1")
    settings = Settings.from_env()
    assert settings.rest_api_key == KEY and settings.local_mode is True
    assert KEY not in repr(settings)


@pytest.mark.parametrize(
    "sender",
    ["966501234567", "+966501234567", "whatsapp:+966501234567", "twilio:abc", "web-3f2a9c", "WEB-3f2a9c", "rest:c1"],
)
def test_another_channels_sender_id_is_refused(serve: Any, sender: str) -> None:
    server = serve(Settings(rest_api_key=KEY))
    response = post(server, sender=sender, headers={"X-Api-Key": KEY})
    assert response.status_code == 400
    assert response.json()["error"] == "foreign_sender"
    assert server.bot.received == []  # type: ignore[attr-defined]


def test_plain_rest_senders_still_work() -> None:
    for sender in ("eval-1a2b-c01", "rest-abcd1234", "t1", "u1", "c-42", "bill-0a1b2c", "user@example.com"):
        assert not is_foreign_sender(sender), sender


# ------------------------------------------------------------------ flood limits
def test_one_conversation_is_limited_per_window_and_others_are_not(serve: Any) -> None:
    server = serve(Settings(local_mode=True, messages_per_conversation=3))
    assert [post(server, sender="c-flood").status_code for _ in range(3)] == [200, 200, 200]
    refused = post(server, sender="c-flood")
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert post(server, sender="c-other").status_code == 200
    assert len(server.bot.received) == 4  # type: ignore[attr-defined]


def test_one_address_is_limited_across_sender_ids(serve: Any) -> None:
    # a scraper rotating sender ids from one address
    server = serve(Settings(local_mode=True, rest_messages_per_address=5))
    codes = [post(server, sender=f"rot-{n}").status_code for n in range(8)]
    assert codes == [200] * 5 + [429] * 3
    assert len(server.bot.received) == 5  # type: ignore[attr-defined]


# ------------------------------------------------------------------ per-caller keys
CRM, IVR = "crm-key-0123456789abcdef0123", "ivr-key-0123456789abcdef0123"


def test_each_caller_keeps_to_its_own_conversations(serve: Any) -> None:
    server = serve(Settings(rest_callers=(("crm", CRM), ("ivr", IVR))))
    assert post(server, sender="crm-42", headers={"X-Api-Key": CRM}).status_code == 200
    # the IVR's key cannot continue the CRM's conversation, nor use plain ids
    for sender in ("crm-42", "c1", "ivr"):
        refused = post(server, sender=sender, headers={"X-Api-Key": IVR})
        assert refused.status_code == 400 and refused.json()["error"] == "foreign_sender", sender
    assert post(server, sender="ivr-42", headers={"Authorization": f"Bearer {IVR}"}).status_code == 200
    assert post(server, sender="crm-43", headers={"X-Api-Key": "crm-key-wrong"}).status_code == 401
    assert [m.sender_id for m in server.bot.received] == ["crm-42", "ivr-42"]  # type: ignore[attr-defined]


def test_a_caller_may_hold_two_keys_while_rotating(serve: Any) -> None:
    old, new = "crm-old-0123456789abcdef", "crm-new-0123456789abcdef"
    server = serve(Settings(rest_callers=(("crm", old), ("crm", new))))
    assert [post(server, sender="crm-1", headers={"X-Api-Key": key}).status_code for key in (old, new)] == [200, 200]


def test_malformed_caller_keys_stop_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("crm", "crm:short", "c r m:0123456789abcdef0123", ":0123456789abcdef0123"):
        monkeypatch.setenv("REST_API_KEYS", value)
        with pytest.raises(ValueError):
            Settings.from_env()
    monkeypatch.setenv("REST_API_KEYS", f"crm:{CRM}, ivr:{IVR}")
    assert Settings.from_env().rest_callers == (("crm", CRM), ("ivr", IVR))
