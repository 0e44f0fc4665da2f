"""Web chat with two Rasa processes on one Redis: frames reach the socket wherever it is open.

Two real Sanic servers, each with its own web chat channel, hub and event loop (as
two Rasa processes have), one real Redis, real WebSocket clients. Process B stands in
for whatever produces a frame elsewhere: its relay consumer delivering an agent's
reply (``deliver_outbound``) or its HTTP API sending a bot reply (the output channel).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any, Dict, Iterator, List, Tuple, cast

import pytest
import redis
from channel_harness import ChannelServer, ScriptedBot, WebchatClient, wait_until

from bot.channels.webchat import WebchatInput
from bot.settings import Settings, WebchatSettings


def make_channel() -> WebchatInput:
    settings = WebchatSettings(secret="test-webchat-secret", allowed_origins=("http://shop.example",))
    return WebchatInput(settings=settings, limits=Settings(max_message_chars=200, max_body_bytes=4096, reply_timeout_seconds=10))


def channel_of(server: ChannelServer) -> WebchatInput:
    return cast(WebchatInput, server.channel)


def hub_of(server: ChannelServer) -> Any:
    return channel_of(server).hub


def bot_of(server: ChannelServer) -> ScriptedBot:
    return cast(ScriptedBot, server.bot)


def listening(*servers: ChannelServer) -> bool:
    return all(hub_of(server).listening for server in servers)


@pytest.fixture
def two_processes(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tuple[ChannelServer, ChannelServer]]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    a = ChannelServer(make_channel()).start()
    b = ChannelServer(make_channel()).start()
    wait_until(lambda: listening(a, b))
    yield a, b
    a.stop()
    b.stop()


def agent_reply(session_id: str, text: str) -> Dict[str, Any]:
    return {"id": f"agent-{time.monotonic_ns()}", "ticket_id": "HO-000001", "conversation_id": session_id, "kind": "agent", "text": text, "agent_name": "ليلى", "ts": time.time()}


def delivered(server: ChannelServer, channel: WebchatInput, session_id: str, message: Dict[str, Any]) -> bool:
    try:
        server.call(channel.deliver_outbound(session_id, message))
    except redis.exceptions.ConnectionError:
        return False
    return True


def messages(frames: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [frame for frame in frames if frame["type"] in ("message", "state")]


def test_frames_from_the_other_process_reach_the_socket_once(two_processes: Tuple[ChannelServer, ChannelServer]) -> None:
    a, b = two_processes
    on_b = channel_of(b)

    async def scenario() -> None:
        async with WebchatClient(a) as tab_on_a, WebchatClient(b) as tab_on_b:
            session = await tab_on_a.hello()
            sid = session["session_id"]
            # the same conversation in a second tab, on the other process
            assert (await tab_on_b.hello(session["token"]))["session_id"] == sid

            # an agent's reply that process B's relay consumed, the agent typing, a handoff state
            b.call(on_b.deliver_outbound(sid, {"kind": "typing", "conversation_id": sid}))
            assert (await tab_on_a.next("typing"))["role"] == "agent"
            reply = agent_reply(sid, "أهلاً، معك ليلى")
            b.call(on_b.deliver_outbound(sid, reply))
            got = await tab_on_a.next("message", "agent")
            assert got["id"] == reply["id"] and got["text"] == "أهلاً، معك ليلى"
            b.call(on_b.deliver_outbound(sid, {"id": "state-1", "conversation_id": sid, "kind": "state", "state": "with_agent", "agent_name": "ليلى"}))
            assert (await tab_on_a.next("state"))["state"] == "with_agent"
            # a bot reply produced in process B (e.g. through its HTTP API)
            b.call(on_b.get_output_channel().send_text_message(sid, "رد من العملية الأخرى"))
            assert (await tab_on_a.next("message", "bot"))["text"] == "رد من العملية الأخرى"

            # the customer writes on A: the tab on B sees the message and the bot's answer
            await tab_on_a.say("كم فاتورتي؟")
            assert (await tab_on_b.next("message", "customer"))["text"] == "كم فاتورتي؟"
            assert (await tab_on_b.next("message", "bot"))["text"] == "وصلتني رسالتك: كم فاتورتي؟"

            seen_on_a = messages(await tab_on_a.frames_for(0.5))
            seen_on_b = messages(await tab_on_b.frames_for(0.1))
        # nothing came twice: A pushed its own frames directly and skipped them on the channel
        all_on_a = Counter(frame["id"] for frame in seen_on_a)
        assert all(count == 1 for count in all_on_a.values()), all_on_a
        assert [frame["role"] for frame in seen_on_a] == ["customer", "bot"]
        assert seen_on_b == []  # the frames waited for above were the only ones

    asyncio.run(scenario())
    assert [m.text for m in bot_of(a).received] == ["كم فاتورتي؟"]
    assert bot_of(b).received == []


def test_a_browser_that_was_away_gets_what_it_missed_on_reconnecting(two_processes: Tuple[ChannelServer, ChannelServer]) -> None:
    a, b = two_processes
    on_b = channel_of(b)

    async def scenario() -> None:
        async with WebchatClient(a) as tab:
            session = await tab.hello()
        sid = session["session_id"]
        # no socket open anywhere: published to nobody, kept in the history
        reply = agent_reply(sid, "هل ما زلت معنا؟")
        b.call(on_b.deliver_outbound(sid, reply))
        async with WebchatClient(a) as again:
            history = (await again.hello(session["token"]))["history"]
            assert [(item["id"], item["text"]) for item in history] == [(reply["id"], "هل ما زلت معنا؟")]
            assert messages(await again.frames_for(0.3)) == []  # in the history, and only there

    asyncio.run(scenario())


def test_the_subscriber_catches_up_after_losing_redis(two_processes: Tuple[ChannelServer, ChannelServer], redis_url: str, redis_server_process: Any) -> None:
    a, b = two_processes
    on_b = channel_of(b)
    admin = redis.Redis.from_url(redis_url)

    async def scenario() -> None:
        async with WebchatClient(a) as tab:
            sid = (await tab.hello())["session_id"]
            # A's subscriber connection drops and A waits before subscribing again;
            # meanwhile B stores and publishes a reply that A cannot hear
            hub_of(a).reconnect_min_seconds = 1.5
            admin.client_kill_filter(_type="pubsub")
            wait_until(lambda: not hub_of(a).listening)
            missed = agent_reply(sid, "وصل ردّك أثناء الانقطاع")
            b.call(on_b.deliver_outbound(sid, missed))
            got = await tab.next("message", "agent", timeout=10)
            assert got["id"] == missed["id"]  # pushed from the history once A was back

            # Redis itself restarts: both subscribers come back and frames flow again
            hub_of(a).reconnect_min_seconds = 0.1
            redis_server_process.restart()
            wait_until(lambda: listening(a, b), timeout=20)
            after = agent_reply(sid, "بعد إعادة التشغيل")
            # B's pooled connections died with Redis: the first try may fail, and the
            # relay retries an entry it could not deliver
            wait_until(lambda: delivered(b, on_b, sid, after))
            assert (await tab.next("message", "agent", timeout=10))["id"] == after["id"]
            later = messages(await tab.frames_for(0.5))
        assert later == []  # the catch-up pushed nothing a second time

    try:
        asyncio.run(scenario())
    finally:
        admin.close()
