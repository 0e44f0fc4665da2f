"""WhatsApp Cloud API channel: webhooks shaped like Meta's documented examples.

Real Sanic server, real Redis, the fake Graph API over real HTTP; the bot is the
scripted stand-in of channel_harness.py. The webhook answers once the message is
stored; the turn runs after it (bot/channels/inbound.py), so the tests wait for it.
Bursts are off here (``NO_BURSTS``) except where a test is about them.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, Iterator, List, Optional

import pytest
import requests
from channel_harness import ChannelServer, FakeGraphApi, ScriptedBot, wait_until

from bot.channels import relay_link
from bot.channels.messaging import relay_deliverer
from bot.channels.whatsapp import UNSUPPORTED_REPLY, WhatsAppInput, verify_signature
from bot.settings import OutboxSettings, Settings, WhatsAppSettings
from scripts.whatsapp_demo import meta_body
from scripts.whatsapp_demo import sign as signature_of

APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
PHONE_ID = "106540352242922"
CUSTOMER = "966501234567"
FAST_OUTBOX = OutboxSettings(max_attempts=5, backoff_base_seconds=0.05, backoff_max_seconds=0.5, poll_seconds=0.05, lease_seconds=1.0)
NO_BURSTS = Settings(burst_window_seconds=0.0)


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return signature_of(body, secret)


def envelope(messages: Optional[List[Dict[str, Any]]] = None, statuses: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The webhook envelope of Meta's "Webhooks payload examples"."""
    value: Dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": "سارة"}, "wa_id": CUSTOMER}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]}


def text_message(body: str, message_id: str) -> Dict[str, Any]:
    return {"from": CUSTOMER, "id": message_id, "timestamp": str(int(time.time())), "text": {"body": body}, "type": "text"}


@pytest.fixture
def whatsapp(redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelServer]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    server = ChannelServer(make_channel(fake_api)).start()
    yield server
    server.stop()


def make_channel(fake_api: FakeGraphApi, limits: Settings = NO_BURSTS) -> WhatsAppInput:
    settings = WhatsAppSettings(
        access_token="test-token", app_secret=APP_SECRET, verify_token=VERIFY_TOKEN, phone_number_id=PHONE_ID, graph_api_url=fake_api.graph_url, templates=(("agent_followup", "ar"),)
    )
    return WhatsAppInput(settings=settings, limits=limits, outbox_settings=FAST_OUTBOX)


def post(server: ChannelServer, body: bytes, signature: Optional[str]) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return requests.post(f"{server.url}/webhook", data=body, headers=headers, timeout=10)


def texts_sent(fake_api: FakeGraphApi) -> List[str]:
    return [m["text"]["body"] for m in fake_api.sent_messages() if m.get("type") == "text"]


def received(server: ChannelServer, count: int) -> List[str]:
    """The texts the bot got, once it got ``count`` (turns run after the webhook's 200)."""
    bot: ScriptedBot = server.bot  # type: ignore[assignment]
    wait_until(lambda: len(bot.received) >= count)
    return [m.text for m in bot.received]


def say(server: ChannelServer, fake_api: FakeGraphApi, text: str, message_id: str) -> None:
    """Send a text and wait for the bot's answer (as a customer reads it before tapping a button)."""
    before = len(fake_api.sent_messages())
    body = meta_body(envelope([text_message(text, message_id)]))
    assert post(server, body, sign(body)).status_code == 200
    wait_until(lambda: len(fake_api.sent_messages()) > before)


def test_verification_handshake_echoes_challenge_only_for_the_right_token(whatsapp: ChannelServer) -> None:
    ok = requests.get(f"{whatsapp.url}/webhook", params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}, timeout=5)
    assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = requests.get(f"{whatsapp.url}/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"}, timeout=5)
    assert wrong.status_code == 403
    no_mode = requests.get(f"{whatsapp.url}/webhook", params={"hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}, timeout=5)
    assert no_mode.status_code == 403


def test_arabic_text_signed_over_raw_bytes_reaches_the_bot_and_is_answered(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    body = meta_body(envelope([text_message("الكهربا مقطوعة عندنا في حي النرجس", "wamid.HBgLOTY2NTAxMjM0NTY3FQIAEhggQTFB")]))
    assert b"\\u0627" in body  # Meta escapes Arabic: the signature covers these bytes
    reply = post(whatsapp, body, sign(body))
    assert reply.status_code == 200
    bot: ScriptedBot = whatsapp.bot  # type: ignore[assignment]
    assert received(whatsapp, 1) == ["الكهربا مقطوعة عندنا في حي النرجس"]
    assert bot.received[0].sender_id == CUSTOMER and bot.received[0].input_channel == "whatsapp"
    wait_until(lambda: texts_sent(fake_api))
    assert texts_sent(fake_api) == ["وصلتني رسالتك: الكهربا مقطوعة عندنا في حي النرجس"]
    sent = fake_api.requests()
    assert all(r["path"] == f"/v19.0/{PHONE_ID}/messages" and r["authorization"] == "Bearer test-token" for r in sent)
    receipts = [r["json"] for r in sent if r["json"].get("status") == "read"]
    assert receipts == [{"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.HBgLOTY2NTAxMjM0NTY3FQIAEhggQTFB"}]


@pytest.mark.parametrize("how", ["missing", "forged", "reserialised", "wrong_secret", "not_hex"])
def test_bad_signatures_are_rejected_with_401_and_nothing_is_processed(whatsapp: ChannelServer, fake_api: FakeGraphApi, how: str) -> None:
    payload = envelope([text_message("مرحبا", f"wamid.sig-{how}")])
    body = meta_body(payload)
    signature = {
        "missing": None,
        "forged": "sha256=" + "0" * 64,
        # the same JSON re-serialised with raw Arabic: the bytes differ, so does the HMAC
        "reserialised": sign(json.dumps(payload, ensure_ascii=False).encode("utf-8")),
        "wrong_secret": sign(body, "another-secret"),
        "not_hex": "sha1=abc",
    }[how]
    reply = post(whatsapp, body, signature)
    assert reply.status_code == 401
    assert whatsapp.bot.received == []  # type: ignore[attr-defined]
    time.sleep(0.2)
    assert fake_api.requests() == []


def test_signature_check_is_on_raw_bytes() -> None:
    body = meta_body(envelope([text_message("السلام عليكم", "wamid.x")]))
    assert verify_signature(body, sign(body), APP_SECRET)
    assert not verify_signature(body + b" ", sign(body), APP_SECRET)
    assert not verify_signature(body, sign(body), "")


def test_duplicate_delivery_is_processed_once(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    body = meta_body(envelope([text_message("كم فاتورتي؟", "wamid.dup-1")]))
    for _ in range(3):
        assert post(whatsapp, body, sign(body)).status_code == 200
    wait_until(lambda: texts_sent(fake_api))
    time.sleep(0.3)
    assert len(whatsapp.bot.received) == 1  # type: ignore[attr-defined]
    assert texts_sent(fake_api) == ["وصلتني رسالتك: كم فاتورتي؟"]


def test_retries_landing_on_two_processes_are_processed_once(redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    # two Rasa processes behind one URL; the bot is still thinking when Meta retries
    servers = [ChannelServer(make_channel(fake_api), ScriptedBot(think_seconds=0.5)).start() for _ in range(2)]
    body = meta_body(envelope([text_message("وين طلبي؟", "wamid.two-processes")]))
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda server: post(server, body, sign(body)).status_code, servers * 2))
        assert answers == [200] * 4
        # the webhook answers once the message is stored; the turn follows
        wait_until(lambda: sum(len(server.bot.received) for server in servers) >= 1)  # type: ignore[attr-defined]
        time.sleep(1.0)  # a second turn of the same message would have started by now
        assert sum(len(server.bot.received) for server in servers) == 1  # type: ignore[attr-defined]
        wait_until(lambda: texts_sent(fake_api))
        time.sleep(0.5)
        assert texts_sent(fake_api) == ["وصلتني رسالتك: وين طلبي؟"]
    finally:
        for server in servers:
            server.stop()


def test_a_delivery_cut_off_before_it_was_stored_lets_metas_retry_through(redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> None:
    """The process that took the first delivery stops for good before storing it (it was
    killed): the retry, on another process, must not be refused as a duplicate."""
    import asyncio

    monkeypatch.setenv("REDIS_URL", redis_url)
    servers = [ChannelServer(make_channel(fake_api), ScriptedBot()).start() for _ in range(2)]
    copy_for_the_agent, calls = relay_link.customer_message, []

    dead = threading.Event()

    async def the_first_never_returns(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        if len(calls) == 1:
            # the first process dies here, after the read receipt, before the store: it
            # runs no clean-up (a killed process), so cancelling the request does nothing
            while not dead.is_set():
                try:
                    await asyncio.sleep(0.05)
                except asyncio.CancelledError:
                    continue
            return
        await copy_for_the_agent(*args, **kwargs)

    monkeypatch.setattr(relay_link, "customer_message", the_first_never_returns)
    body = meta_body(envelope([text_message("الكهرباء مقطوعة", "wamid.cut-off")]))
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(f"{servers[0].url}/webhook", data=body, timeout=1.5,
                          headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body), "Connection": "close"})
        assert post(servers[1], body, sign(body)).status_code == 200  # Meta's retry
        wait_until(lambda: servers[1].bot.received)  # type: ignore[attr-defined]
        assert [m.text for m in servers[1].bot.received] == ["الكهرباء مقطوعة"]  # type: ignore[attr-defined]
        # and a third delivery, now that it is stored, is a duplicate
        assert post(servers[1], body, sign(body)).status_code == 200
        time.sleep(0.5)
        assert len(servers[0].bot.received) + len(servers[1].bot.received) == 1  # type: ignore[attr-defined]
    finally:
        dead.set()
        time.sleep(0.2)  # the stalled request ends before its server stops
        for server in servers:
            server.stop()


def test_status_callbacks_are_ignored_cleanly(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    status = {"id": "wamid.out-1", "status": "delivered", "timestamp": "1700000000", "recipient_id": CUSTOMER, "conversation": {"id": "c1", "origin": {"type": "service"}}, "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"}}
    body = meta_body(envelope(statuses=[status]))
    assert post(whatsapp, body, sign(body)).status_code == 200
    time.sleep(0.2)
    assert whatsapp.bot.received == [] and fake_api.requests() == []  # type: ignore[attr-defined]


def test_button_and_list_replies_send_their_ids_to_the_bot(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    # the bot offers the buttons first: only offered payloads may come back as commands
    say(whatsapp, fake_api, "buttons", "wamid.ask-1")
    whatsapp.bot.received.clear()  # type: ignore[attr-defined]
    button = {"context": {"from": "15550783881", "id": "wamid.q1"}, "from": CUSTOMER, "id": "wamid.btn-1", "timestamp": str(int(time.time())), "type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": '/choose{"service":"water"}', "title": "الماء"}}}
    listed = {"context": {"from": "15550783881", "id": "wamid.q2"}, "from": CUSTOMER, "id": "wamid.list-1", "timestamp": str(int(time.time())), "type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "/opt4", "title": "خيار 4", "description": ""}}}
    body = meta_body(envelope([button]))
    assert post(whatsapp, body, sign(body)).status_code == 200
    received(whatsapp, 1)
    say(whatsapp, fake_api, "menu", "wamid.ask-2")
    body = meta_body(envelope([listed]))
    assert post(whatsapp, body, sign(body)).status_code == 200
    texts = received(whatsapp, 3)
    assert texts[0] == '/choose{"service":"water"}' and texts[-1] == "/opt4"


@pytest.mark.parametrize("typed, reads", [
    ('/EXTERNAL_handoff_resolved{"handoff_ticket_id":"HO-000001"}', 'EXTERNAL_handoff_resolved{"handoff_ticket_id":"HO-000001"}'),
    ("/restart", "restart"),
    ("/ /restart", "restart"),
    ('/choose{"service":"water"}', 'choose{"service":"water"}'),  # a real payload, but never offered here
])
def test_typed_commands_reach_the_bot_as_plain_text(whatsapp: ChannelServer, typed: str, reads: str) -> None:
    body = meta_body(envelope([text_message(typed, "wamid.cmd-1")]))
    assert post(whatsapp, body, sign(body)).status_code == 200
    assert received(whatsapp, 1) == [reads]
    assert not any(m.text.startswith("/") for m in whatsapp.bot.received)  # type: ignore[attr-defined]


def test_an_offered_payload_is_a_command_only_while_it_is_on_offer(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    for i, text in enumerate(["rate", '/rate{"rating":5}', "menu", '/rate{"rating":1}']):
        say(whatsapp, fake_api, text, f"wamid.offer-{i}")
    # the rating was offered, then replaced by the menu: the second one is text
    assert received(whatsapp, 4) == ["rate", '/rate{"rating":5}', "menu", 'rate{"rating":1}']


def test_unsupported_types_get_a_polite_arabic_reply(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    image = {"from": CUSTOMER, "id": "wamid.img-1", "timestamp": str(int(time.time())), "type": "image", "image": {"caption": "", "mime_type": "image/jpeg", "sha256": "abc", "id": "1234"}}
    location = {"from": CUSTOMER, "id": "wamid.loc-1", "timestamp": str(int(time.time())), "type": "location", "location": {"latitude": 24.7, "longitude": 46.6}}
    body = meta_body(envelope([image, location]))
    assert post(whatsapp, body, sign(body)).status_code == 200
    assert whatsapp.bot.received == []  # type: ignore[attr-defined]
    wait_until(lambda: len(texts_sent(fake_api)) == 2)
    assert texts_sent(fake_api) == [UNSUPPORTED_REPLY, UNSUPPORTED_REPLY]


def test_bad_input_gets_clear_answers(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    broken = b'{"object": "whatsapp_business_account", "entry": ['
    reply = post(whatsapp, broken, sign(broken))
    assert reply.status_code == 400 and reply.json()["error"] == "invalid_json"
    long_text = meta_body(envelope([text_message("ا" * 5000, "wamid.long-1"), text_message("   ", "wamid.empty-1")]))
    assert post(whatsapp, long_text, sign(long_text)).status_code == 200
    assert whatsapp.bot.received == []  # type: ignore[attr-defined]
    wait_until(lambda: texts_sent(fake_api))
    time.sleep(0.2)
    assert len(texts_sent(fake_api)) == 1 and "الحد الأقصى" in texts_sent(fake_api)[0]


def test_buttons_become_interactive_messages(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    body = meta_body(envelope([text_message("buttons", "wamid.b-1"), text_message("menu", "wamid.m-1")]))
    assert post(whatsapp, body, sign(body)).status_code == 200
    wait_until(lambda: len([m for m in fake_api.sent_messages() if m["type"] == "interactive"]) == 2)
    three, five = [m["interactive"] for m in fake_api.sent_messages() if m["type"] == "interactive"]
    assert three["type"] == "button"
    assert [b["reply"]["title"] for b in three["action"]["buttons"]] == ["الكهرباء", "الماء", "الإنترنت"]
    assert five["type"] == "list" and len(five["action"]["sections"][0]["rows"]) == 5


def test_graph_outage_500_twice_then_200_delivers_the_reply_once(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    fake_api.fail_next(2)
    body = meta_body(envelope([text_message("وين فاتورتي", "wamid.outage-1")]))
    assert post(whatsapp, body, sign(body)).status_code == 200
    wait_until(lambda: texts_sent(fake_api), timeout=10)
    time.sleep(0.5)
    assert texts_sent(fake_api) == ["وصلتني رسالتك: وين فاتورتي"]
    attempts = [r for r in fake_api.requests() if r["json"].get("type") == "text"]
    assert [a["status"] for a in attempts] == [500, 500, 200]


def test_restart_between_receive_and_send_loses_nothing(redis_url: str, redis_server_process: Any, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    fake_api.fail_next(1000, read_receipts=True)  # the Graph API is down while the message arrives
    first = ChannelServer(make_channel(fake_api)).start()
    body = meta_body(envelope([text_message("النت فاصل من الصبح", "wamid.restart-1")]))
    try:
        assert post(first, body, sign(body)).status_code == 200
        wait_until(lambda: len(fake_api.requests()) >= 2)
    finally:
        first.stop()  # the Rasa process goes away with the reply still unsent
    redis_server_process.restart()  # and Redis restarts too (append-only file)
    fake_api.clear()  # the Graph API is back
    second = ChannelServer(make_channel(fake_api)).start()
    try:
        wait_until(lambda: texts_sent(fake_api), timeout=10)
        assert post(second, body, sign(body)).status_code == 200  # Meta's retry of the same message
        time.sleep(0.5)
        assert texts_sent(fake_api) == ["وصلتني رسالتك: النت فاصل من الصبح"]
    finally:
        second.stop()


def test_agent_reply_outside_24h_window_is_refused_with_a_clear_error(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    channel: WhatsAppInput = whatsapp.channel  # type: ignore[assignment]
    deliver = relay_deliverer(channel.runtime, channel._send_agent_text, channel.template_names)
    agent_message = {"id": "1-0", "ticket_id": "T1", "conversation_id": "966500000001", "kind": "agent", "text": "مرحباً، معك ليلى", "agent_name": "ليلى", "ts": time.time()}
    with pytest.raises(relay_link.DeliveryRefused) as refused:
        whatsapp.call(deliver("966500000001", agent_message))
    assert "24-hour" in str(refused.value) and "agent_followup" in str(refused.value)
    # the customer writes: the window opens and the same reply goes out
    body = meta_body(envelope([{**text_message("أبي موظف", "wamid.w-1"), "from": "966500000001"}]))
    assert post(whatsapp, body, sign(body)).status_code == 200
    whatsapp.call(deliver("966500000001", agent_message))
    wait_until(lambda: "*ليلى*: مرحباً، معك ليلى" in texts_sent(fake_api))
    # templates stay allowed outside the window
    whatsapp.call(channel.send_template("966500000002", "agent_followup", ("T1",)))
    wait_until(lambda: [m for m in fake_api.sent_messages() if m["type"] == "template"])
    with pytest.raises(ValueError):
        whatsapp.call(channel.send_template("966500000002", "not_approved"))


def test_unconfigured_channel_answers_503(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    server = ChannelServer(WhatsAppInput(settings=WhatsAppSettings())).start()
    try:
        body = meta_body(envelope([text_message("مرحبا", "wamid.nc")]))
        assert post(server, body, sign(body)).status_code == 503
    finally:
        server.stop()


def test_deep_json_with_a_valid_signature_gets_a_clean_400(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    deep = b"[" * 20000 + b"]" * 20000
    reply = post(whatsapp, deep, sign(deep))
    assert reply.status_code == 400 and reply.json()["error"] == "json_too_deep" and reply.json()["message"]
    nested = b'{"entry": ' + b"[" * 40 + b"]" * 40 + b"}"
    assert post(whatsapp, nested, sign(nested)).json()["error"] == "json_too_deep"
    assert whatsapp.bot.received == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("signature", ["sha256=ééé".encode(), "sha256=تجربة".encode(), b"sha256=\xff\xfe", "ééé".encode()])
def test_non_ascii_signature_headers_get_401_not_500(whatsapp: ChannelServer, fake_api: FakeGraphApi, signature: bytes) -> None:
    body = meta_body(envelope([text_message("مرحبا", "wamid.hdr-1")]))
    reply = requests.post(f"{whatsapp.url}/webhook", data=body, headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature}, timeout=10)
    assert reply.status_code == 401 and reply.json()["error"] == "invalid_signature"
    assert whatsapp.bot.received == []  # type: ignore[attr-defined]
    assert not verify_signature(body, "sha256=ééé", APP_SECRET)


def test_non_ascii_verify_token_gets_403_not_500(whatsapp: ChannelServer) -> None:
    reply = requests.get(f"{whatsapp.url}/webhook", params={"hub.mode": "subscribe", "hub.verify_token": "تجربة", "hub.challenge": "1"}, timeout=5)
    assert reply.status_code == 403


def test_replayed_or_future_dated_messages_are_dropped(whatsapp: ChannelServer, fake_api: FakeGraphApi) -> None:
    now = int(time.time())
    stale = {**text_message("رسالة قديمة معادة", "wamid.old-1"), "timestamp": str(now - 2 * 24 * 3600)}
    future = {**text_message("رسالة من المستقبل", "wamid.future-1"), "timestamp": str(now + 3600)}
    missing = {k: v for k, v in text_message("بلا وقت", "wamid.none-1").items() if k != "timestamp"}
    fresh = text_message("رسالة جديدة", "wamid.new-1")
    body = meta_body(envelope([stale, future, missing, fresh]))
    # correctly signed (a captured body): acknowledged so Meta stops retrying, but only the fresh one is processed
    assert post(whatsapp, body, sign(body)).status_code == 200
    wait_until(lambda: texts_sent(fake_api))
    assert [m.text for m in whatsapp.bot.received] == ["رسالة جديدة"]  # type: ignore[attr-defined]
    time.sleep(0.2)
    receipts = [r["json"]["message_id"] for r in fake_api.requests() if r["json"].get("status") == "read"]
    assert receipts == ["wamid.new-1"]  # the stale ones did not reopen the 24-hour window either


def test_a_flood_from_one_number_stops_reaching_the_bot_and_is_told_once(redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    channel = make_channel(fake_api, Settings(messages_per_conversation=3, burst_window_seconds=0.0))
    server = ChannelServer(channel).start()
    try:
        for n in range(6):
            body = meta_body(envelope([text_message(f"رسالة {n}", f"wamid.flood{n}")]))
            assert post(server, body, sign(body)).status_code == 200  # Meta must not retry
        bot: ScriptedBot = server.bot  # type: ignore[assignment]
        wait_until(lambda: len(bot.received) == 3)
        time.sleep(0.3)
        assert [m.text for m in bot.received] == ["رسالة 0", "رسالة 1", "رسالة 2"]
        wait_until(lambda: any("رسائل كثيرة" in text for text in texts_sent(fake_api)))
        assert sum("رسائل كثيرة" in text for text in texts_sent(fake_api)) == 1
    finally:
        server.stop()
