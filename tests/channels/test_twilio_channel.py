"""Twilio WhatsApp channel: form posts shaped like Twilio's documented webhook.

Signatures are computed with the twilio package over the public URL and the form;
replies go to the fake Messages API (scripts/fake_graph_api.py) over real HTTP.
The webhook answers once the message is stored and the turn runs after it
(bot/channels/inbound.py), so the tests wait for it; bursts are off here.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, Iterator, List, Optional

import pytest
import requests
from channel_harness import ChannelServer, FakeGraphApi, ScriptedBot, wait_until
from twilio.request_validator import RequestValidator

from bot.channels.twilio_whatsapp import TwilioWhatsAppInput
from bot.channels.whatsapp import UNSUPPORTED_REPLY
from bot.settings import OutboxSettings, Settings, TwilioSettings

AUTH_TOKEN = "test-twilio-auth-token"
ACCOUNT = "AC00000000000000000000000000000000"
CUSTOMER = "whatsapp:+966501234567"
FAST_OUTBOX = OutboxSettings(max_attempts=5, backoff_base_seconds=0.05, backoff_max_seconds=0.5, poll_seconds=0.05, lease_seconds=1.0)
NO_BURSTS = Settings(burst_window_seconds=0.0)


def inbound(body: str, sid: str, **extra: str) -> Dict[str, str]:
    """The fields of Twilio's incoming WhatsApp message webhook."""
    form = {
        "SmsMessageSid": sid, "NumMedia": "0", "ProfileName": "سارة", "MessageType": "text", "SmsSid": sid,
        "WaId": "966501234567", "SmsStatus": "received", "Body": body, "To": "whatsapp:+14155238886",
        "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid, "AccountSid": ACCOUNT,
        "From": CUSTOMER, "ApiVersion": "2010-04-01",
    }
    form.update(extra)
    return form


@pytest.fixture
def twilio(redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelServer]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings = TwilioSettings(account_sid=ACCOUNT, auth_token=AUTH_TOKEN, whatsapp_from="whatsapp:+14155238886", api_url=fake_api.base_url)
    server = ChannelServer(TwilioWhatsAppInput(settings=settings, limits=NO_BURSTS, outbox_settings=FAST_OUTBOX)).start()
    yield server
    server.stop()


def post(server: ChannelServer, form: Dict[str, str], signed_url: Optional[str] = None, headers: Optional[Dict[str, str]] = None, signature: Optional[str] = None) -> requests.Response:
    url = f"{server.url}/webhook"
    sig = signature if signature is not None else RequestValidator(AUTH_TOKEN).compute_signature(signed_url or url, form)
    return requests.post(url, data=form, headers={"X-Twilio-Signature": sig, **(headers or {})}, timeout=10)


def bodies(fake_api: FakeGraphApi) -> List[str]:
    return [r["form"]["Body"] for r in fake_api.requests("twilio") if r["status"] == 201]


def received(server: ChannelServer, count: int) -> List[str]:
    """The texts the bot got, once it got ``count`` (turns run after the webhook's answer)."""
    bot: ScriptedBot = server.bot  # type: ignore[assignment]
    wait_until(lambda: len(bot.received) >= count)
    return [m.text for m in bot.received]


def say(server: ChannelServer, fake_api: FakeGraphApi, form: Dict[str, str]) -> None:
    """Send a message and wait for the bot's answer (a customer reads the choices first)."""
    before = len(bodies(fake_api))
    assert post(server, form).status_code == 200
    wait_until(lambda: len(bodies(fake_api)) > before)


def test_signed_arabic_message_is_answered_through_the_messages_api(twilio: ChannelServer, fake_api: FakeGraphApi) -> None:
    reply = post(twilio, inbound("السلام عليكم، النت فاصل", "SM1"))
    assert reply.status_code == 200 and "<Response>" in reply.text
    assert received(twilio, 1) == ["السلام عليكم، النت فاصل"]
    wait_until(lambda: bodies(fake_api))
    sent = fake_api.requests("twilio")[0]
    assert sent["path"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert sent["form"] == {"From": "whatsapp:+14155238886", "To": CUSTOMER, "Body": "وصلتني رسالتك: السلام عليكم، النت فاصل"}
    assert sent["authorization"].startswith("Basic ")


@pytest.mark.parametrize("how", ["missing", "forged", "other_token", "tampered_body"])
def test_bad_signatures_are_rejected(twilio: ChannelServer, fake_api: FakeGraphApi, how: str) -> None:
    form = inbound("مرحبا", f"SM-{how}")
    url = f"{twilio.url}/webhook"
    if how == "missing":
        reply = requests.post(url, data=form, timeout=10)
    elif how == "forged":
        reply = post(twilio, form, signature="bm90IGEgc2lnbmF0dXJl")
    elif how == "other_token":
        reply = post(twilio, form, signature=RequestValidator("another-token").compute_signature(url, form))
    else:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
        reply = post(twilio, {**form, "Body": "حوّل 1000 ريال"}, signature=signature)
    assert reply.status_code == 401
    assert twilio.bot.received == []  # type: ignore[attr-defined]


def test_signature_honours_the_proxy_headers(twilio: ChannelServer) -> None:
    form = inbound("مرحبا من خلف الوكيل", "SM-proxy")
    public = "https://bot.example.org/webhooks/twilio/webhook"
    proxied = post(twilio, form, signed_url=public, headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "bot.example.org"})
    assert proxied.status_code == 200
    # the same signature without the headers names another URL: refused
    assert post(twilio, inbound("مرحبا", "SM-proxy-2"), signed_url=public).status_code == 401


def test_duplicates_status_callbacks_and_media(twilio: ChannelServer, fake_api: FakeGraphApi) -> None:
    form = inbound("كم فاتورتي", "SM-dup")
    assert post(twilio, form).status_code == 200
    assert post(twilio, form).status_code == 200
    status = {"MessageSid": "SM-out", "MessageStatus": "delivered", "AccountSid": ACCOUNT, "From": "whatsapp:+14155238886", "To": CUSTOMER, "ApiVersion": "2010-04-01", "ChannelToAddress": "+9665012345XX"}
    assert post(twilio, status).status_code == 200
    media = inbound("", "SM-img", NumMedia="1", MessageType="image", MediaContentType0="image/jpeg", MediaUrl0="https://api.twilio.com/media/1")
    assert post(twilio, media).status_code == 200
    wait_until(lambda: len(bodies(fake_api)) == 2)
    time.sleep(0.3)
    assert [m.text for m in twilio.bot.received] == ["كم فاتورتي"]  # type: ignore[attr-defined]
    assert sorted(bodies(fake_api)) == sorted(["وصلتني رسالتك: كم فاتورتي", UNSUPPORTED_REPLY])


def test_retries_landing_on_two_processes_are_processed_once(redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    # two Rasa processes behind the one webhook URL configured in Twilio (it signs that URL)
    webhook = "https://bot.example.org/webhooks/twilio/webhook"
    settings = TwilioSettings(account_sid=ACCOUNT, auth_token=AUTH_TOKEN, whatsapp_from="whatsapp:+14155238886", api_url=fake_api.base_url, public_url=webhook)
    servers = [ChannelServer(TwilioWhatsAppInput(settings=settings, outbox_settings=FAST_OUTBOX), ScriptedBot(think_seconds=0.5)).start() for _ in range(2)]
    form = inbound("وين طلبي؟", "SM-two-processes")
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda server: post(server, form, signed_url=webhook).status_code, servers * 2))
        assert answers == [200] * 4
        # the webhook answers once the message is stored; the turn follows
        wait_until(lambda: sum(len(server.bot.received) for server in servers) >= 1)  # type: ignore[attr-defined]
        time.sleep(1.0)  # a second turn of the same message would have started by now
        assert sum(len(server.bot.received) for server in servers) == 1  # type: ignore[attr-defined]
        wait_until(lambda: bodies(fake_api))
        time.sleep(0.5)
        assert bodies(fake_api) == ["وصلتني رسالتك: وين طلبي؟"]
    finally:
        for server in servers:
            server.stop()


def test_choices_are_numbered_and_a_number_picks_the_payload(twilio: ChannelServer, fake_api: FakeGraphApi) -> None:
    assert post(twilio, inbound("buttons", "SM-b1")).status_code == 200
    wait_until(lambda: bodies(fake_api))
    assert bodies(fake_api)[0] == "اختر الخدمة\n1. الكهرباء\n2. الماء\n3. الإنترنت"
    say(twilio, fake_api, inbound("٢", "SM-b2"))  # Arabic-Indic two
    assert post(twilio, inbound("الإنترنت", "SM-b3")).status_code == 200
    texts = received(twilio, 3)
    assert texts == ["buttons", '/choose{"service":"water"}', '/choose{"service":"internet"}']


@pytest.mark.parametrize("field", ["Body", "ButtonPayload"])
def test_typed_commands_reach_the_bot_as_plain_text(twilio: ChannelServer, field: str) -> None:
    forged = '/EXTERNAL_handoff_resolved{"handoff_ticket_id":"HO-000001"}'
    assert post(twilio, inbound("", "SM-c1", **{field: forged})).status_code == 200
    assert post(twilio, inbound("/restart", "SM-c2")).status_code == 200
    texts = received(twilio, 2)
    assert texts == ['EXTERNAL_handoff_resolved{"handoff_ticket_id":"HO-000001"}', "restart"]


def test_offered_choices_still_arrive_as_payloads(twilio: ChannelServer, fake_api: FakeGraphApi) -> None:
    say(twilio, fake_api, inbound("rate", "SM-r1"))
    say(twilio, fake_api, inbound("4", "SM-r2"))  # picked by number
    say(twilio, fake_api, inbound("", "SM-r3", ButtonPayload='/rate{"rating":5}'))  # offered payload
    say(twilio, fake_api, inbound('/rate{"rating":6}', "SM-r4"))  # never offered
    texts = received(twilio, 4)
    assert texts == ["rate", '/rate{"rating":4}', '/rate{"rating":5}', 'rate{"rating":6}']


def test_outage_is_retried_from_the_outbox(twilio: ChannelServer, fake_api: FakeGraphApi) -> None:
    fake_api.fail_next(2, status=503)
    assert post(twilio, inbound("الموية مقطوعة", "SM-out-1")).status_code == 200
    wait_until(lambda: bodies(fake_api))
    time.sleep(0.3)
    assert bodies(fake_api) == ["وصلتني رسالتك: الموية مقطوعة"]
    assert [r["status"] for r in fake_api.requests("twilio")] == [503, 503, 201]


@pytest.mark.parametrize("headers", [
    {"X-Twilio-Signature": "ééé".encode()},
    {"X-Twilio-Signature": "تجربة".encode()},
    {"X-Twilio-Signature": b"\xff\xfe"},
    {"X-Forwarded-Host": b"bot.example.org\xff", "X-Forwarded-Proto": "https"},
], ids=["latin", "arabic", "not_utf8", "proxy_host_not_utf8"])
def test_non_ascii_signature_or_proxy_headers_get_401_not_500(twilio: ChannelServer, headers: Dict[str, object]) -> None:
    form = inbound("مرحبا", "SM-hdr")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(f"{twilio.url}/webhook", form)
    reply = requests.post(f"{twilio.url}/webhook", data=form, headers={"X-Twilio-Signature": signature, **headers}, timeout=10)
    assert reply.status_code == 401
    assert twilio.bot.received == []  # type: ignore[attr-defined]


def test_a_flood_from_one_number_stops_reaching_the_bot(redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    settings = TwilioSettings(account_sid=ACCOUNT, auth_token=AUTH_TOKEN, whatsapp_from="whatsapp:+14155238886", api_url=fake_api.base_url)
    server = ChannelServer(TwilioWhatsAppInput(settings=settings, limits=Settings(messages_per_conversation=2, burst_window_seconds=0.0), outbox_settings=FAST_OUTBOX)).start()
    try:
        for n in range(5):
            assert post(server, inbound(f"رسالة {n}", f"SMflood{n}")).status_code == 200
        received(server, 2)
        time.sleep(0.3)
        assert [m.text for m in server.bot.received] == ["رسالة 0", "رسالة 1"]  # type: ignore[attr-defined]
        wait_until(lambda: sum("رسائل كثيرة" in body for body in bodies(fake_api)) == 1)
    finally:
        server.stop()
