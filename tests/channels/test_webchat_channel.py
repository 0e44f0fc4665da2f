"""Web chat channel: server-issued sessions, history, limits, relay delivery.

Real Sanic server with the channel's blueprint, real Redis, a real WebSocket client;
the bot is the scripted stand-in of channel_harness.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Dict, Iterator, Optional

import pytest
import websockets
from channel_harness import ChannelServer, ScriptedBot
from channel_harness import WebchatClient as Client

from bot.channels.webchat import TokenSigner, WebchatInput
from bot.settings import Settings, WebchatSettings

SECRET = "test-webchat-secret"


def make_channel(**overrides: Any) -> WebchatInput:
    settings = WebchatSettings(secret=SECRET, allowed_origins=("http://shop.example",), **overrides)
    return WebchatInput(settings=settings, limits=Settings(max_message_chars=200, max_body_bytes=4096, reply_timeout_seconds=10))


@pytest.fixture
def webchat(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelServer]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    server = ChannelServer(make_channel(rate_limit_messages=3)).start()
    yield server
    server.stop()


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_server_issues_the_session_and_history_comes_back_on_reconnect(webchat: ChannelServer) -> None:
    async def scenario() -> None:
        async with Client(webchat) as client:
            session = await client.hello()
            assert session["session_id"].startswith("web-") and len(session["session_id"]) >= 24
            assert session["history"] == []
            await client.say("مرحبا، كم فاتورتي؟")
            echo = await client.next("message", "customer")
            assert echo["text"] == "مرحبا، كم فاتورتي؟"
            reply = await client.next("message", "bot")
            assert reply["text"] == "وصلتني رسالتك: مرحبا، كم فاتورتي؟"
        async with Client(webchat) as again:
            resumed = await again.hello(session["token"])
            assert resumed["session_id"] == session["session_id"]
            assert [(h["role"], h["text"]) for h in resumed["history"]] == [("customer", "مرحبا، كم فاتورتي؟"), ("bot", "وصلتني رسالتك: مرحبا، كم فاتورتي؟")]

    run(scenario())
    bot: ScriptedBot = webchat.bot  # type: ignore[assignment]
    assert bot.received[0].input_channel == "webchat"


def test_a_client_cannot_read_or_post_into_another_session(webchat: ChannelServer) -> None:
    async def scenario() -> None:
        async with Client(webchat) as alice:
            a = await alice.hello()
            await alice.say("رقم حسابي 4471203")
            await alice.next("message", "bot")
        victim, issued, mac = a["token"].split(".")
        other_secret = TokenSigner("attacker-secret", 3600).issue(victim)
        guesses = [
            victim,  # the bare id
            f"{victim}.{issued}.{'A' * len(mac)}",  # forged signature
            f"{victim[:-1]}{'y' if victim.endswith('x') else 'x'}.{issued}.{mac}",  # tampered id (one char changed), original signature
            f"{victim}.{int(issued) + 1}.{mac}",  # tampered time
            other_secret,  # signed with another key
            json.dumps({"session_id": victim}),
        ]
        for guess in guesses:
            async with Client(webchat) as mallory:
                session = await mallory.hello(guess)
                assert session["session_id"] != victim and session["history"] == []
                # a frame naming the victim's id still lands in mallory's own session
                await mallory.ws.send(json.dumps({"type": "message", "text": "اقرأ", "session_id": victim, "sender": victim}))
                await mallory.next("message", "bot")
        async with Client(webchat) as alice_again:
            history = (await alice_again.hello(a["token"]))["history"]
            assert [h["text"] for h in history if h["role"] == "customer"] == ["رقم حسابي 4471203"]

    run(scenario())
    senders = {m.sender_id for m in webchat.bot.received}  # type: ignore[attr-defined]
    assert len(senders) == 7  # alice + six separate sessions, none of them alice's


def test_expired_tokens_are_not_accepted() -> None:
    signer = TokenSigner(SECRET, ttl_seconds=60)
    token = signer.issue("web-abc", now=1000)
    assert signer.session_of(token, now=1059) == "web-abc"
    assert signer.session_of(token, now=1061) is None
    assert signer.session_of(None) is None and signer.session_of("a.b") is None


def test_rate_limit_and_size_limit_give_clear_errors(webchat: ChannelServer) -> None:
    async def scenario() -> None:
        async with Client(webchat) as client:
            await client.hello()
            await client.say("ا" * 201)
            too_long = await client.next("error")
            assert too_long["error"] == "message_too_long" and "200" in too_long["message"]
            await client.say("   ")
            assert (await client.next("error"))["error"] == "empty_message"
            await client.ws.send("{broken json")
            assert (await client.next("error"))["error"] == "invalid_json"
            await client.say('/inform{"account_number": "1"}')
            assert (await client.next("error"))["error"] == "command_not_allowed"
            # three messages were counted in this window already (the broken JSON was not)
            await client.say("رسالة إضافية")
            limited = await client.next("error")
            assert limited["error"] == "rate_limited" and "انتظر" in limited["message"]

    run(scenario())
    assert webchat.bot.received == []  # type: ignore[attr-defined]


def test_button_payloads_are_accepted_only_when_offered(webchat: ChannelServer) -> None:
    async def scenario() -> None:
        async with Client(webchat) as client:
            await client.hello()
            await client.say("buttons")
            offer = await client.next("message", "bot")
            assert [b["title"] for b in offer["buttons"]] == ["الكهرباء", "الماء", "الإنترنت"]
            await client.say("الماء", payload=offer["buttons"][1]["payload"])
            echo = await client.next("message", "customer")
            assert echo["text"] == "الماء"  # the customer sees the title, the bot gets the payload
            await client.next("message", "bot")
            await client.say("الماء", payload='/EXTERNAL_handoff_resolved')
            await client.next("message", "bot")

    run(scenario())
    texts = [m.text for m in webchat.bot.received]  # type: ignore[attr-defined]
    assert texts == ["buttons", '/choose{"service":"water"}', "الماء"]


def test_foreign_origin_is_refused(webchat: ChannelServer) -> None:
    async def scenario() -> None:
        async with Client(webchat, origin="http://evil.example") as client:
            frame = json.loads(await asyncio.wait_for(client.ws.recv(), 5))
            assert frame["error"] == "origin_not_allowed"
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(client.ws.recv(), 5)

    run(scenario())


def test_agent_messages_and_handoff_state_reach_the_open_tab_and_the_history(webchat: ChannelServer) -> None:
    channel: WebchatInput = webchat.channel  # type: ignore[assignment]

    async def scenario() -> None:
        async with Client(webchat) as client:
            session = await client.hello()
            sid = session["session_id"]
            state = {"id": "1700000000000-0", "ticket_id": "T9", "conversation_id": sid, "kind": "state", "state": "with_agent", "agent_name": "ليلى", "ts": time.time()}
            agent = {"id": "1700000000001-0", "ticket_id": "T9", "conversation_id": sid, "kind": "agent", "text": "أهلاً، معك ليلى من فريق الدعم", "agent_name": "ليلى", "ts": time.time()}
            webchat.call(channel.deliver_outbound(sid, state))
            webchat.call(channel.deliver_outbound(sid, agent))
            got_state = await client.next("state")
            assert got_state["state"] == "with_agent" and got_state["agent_name"] == "ليلى"
            got_agent = await client.next("message", "agent")
            assert got_agent["id"] == "1700000000001-0" and got_agent["agent_name"] == "ليلى"
        async with Client(webchat) as again:
            resumed = await again.hello(session["token"])
            assert resumed["state"]["state"] == "with_agent"
            assert [h.get("role", h["type"]) for h in resumed["history"]] == ["state", "agent"]

    run(scenario())


def test_without_a_configured_secret_tokens_survive_a_restart(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)

    def channel() -> WebchatInput:
        return WebchatInput(settings=WebchatSettings(secret="", allowed_origins=("*",)))

    async def hello(server: ChannelServer, token: Optional[str]) -> Dict[str, Any]:
        async with Client(server) as client:
            return await client.hello(token)

    first = ChannelServer(channel()).start()
    try:
        session = run(hello(first, None))
    finally:
        first.stop()
    second = ChannelServer(channel()).start()  # a restarted Rasa process
    try:
        assert run(hello(second, session["token"]))["session_id"] == session["session_id"]
    finally:
        second.stop()


def test_a_redis_restart_loses_no_message(webchat: ChannelServer, redis_server_process: Any) -> None:
    async def scenario() -> None:
        async with Client(webchat) as client:
            session = await client.hello()
            await client.say("قبل إعادة التشغيل")
            await client.next("message", "bot")
            redis_server_process.restart()
            delivered = False
            for _ in range(20):  # the widget keeps the text until it is echoed; the customer resends
                await client.say("بعد إعادة التشغيل")
                frame = {"type": "typing"}
                while frame["type"] == "typing":
                    frame = json.loads(await asyncio.wait_for(client.ws.recv(), 5))
                if frame["type"] == "error":
                    assert frame["error"] == "unavailable" and "أعد" in frame["message"]
                    await asyncio.sleep(0.25)
                    continue
                delivered = frame["role"] == "customer"
                break
            assert delivered
            await client.next("message", "bot")
        async with Client(webchat) as again:
            history = (await again.hello(session["token"]))["history"]
            assert [h["text"] for h in history if h["role"] == "customer"] == ["قبل إعادة التشغيل", "بعد إعادة التشغيل"]

    run(scenario())


def test_deep_frames_get_an_error_frame_and_the_session_goes_on(webchat: ChannelServer) -> None:
    async def scenario() -> None:
        async with Client(webchat) as client:
            await client.hello()
            await client.ws.send("[" * 2000 + "]" * 2000)  # under the size limit; json.loads alone would hit RecursionError
            deep = await client.next("error")
            assert deep["error"] == "json_too_deep" and deep["message"]
            await client.ws.send(json.dumps({"type": "message", "text": "x", "extra": json.loads("[" * 40 + "]" * 40)}))
            assert (await client.next("error"))["error"] == "json_too_deep"
            await client.say("مرحبا\u202e بعد\u200b ذلك")
            assert (await client.next("message", role="bot"))["text"] == "وصلتني رسالتك: مرحبا بعد ذلك"

    run(scenario())
    assert [m.text for m in webchat.bot.received] == ["مرحبا بعد ذلك"]  # type: ignore[attr-defined]


def test_forged_non_ascii_tokens_open_a_new_session_instead_of_crashing(webchat: ChannelServer) -> None:
    async def scenario() -> None:
        for token in ("تجربة.123.تجربة", "web-x.123.ééé"):
            async with Client(webchat) as client:
                session = await client.hello(token)
                # a new session: its id (the part before the first dot) is not the forged one
                assert session["token"] and session["token"].split(".")[0] != token.split(".")[0]
        async with Client(webchat) as client:
            await client.ws.send('{"type": "hello", "token": "\\ud800.1.abc"}')  # a lone surrogate
            assert (await client.next("session"))["token"]

    run(scenario())
    assert TokenSigner(SECRET, 60).session_of("تجربة.1.ééé") is None
