"""Web chat over two Rasa workers: a frame reaches the session's tabs wherever they are.

Two real Sanic servers, each with its own web chat channel (as two worker processes
have), one real Redis. The relay may hand an agent's message to the worker that does
not hold the customer's socket; the customer must still see it at once, and once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Iterator, Tuple

import pytest
import redis
from channel_harness import ChannelServer, wait_until
from test_webchat_channel import Client, make_channel, run

from bot.channels.webchat import WebchatInput
from bot.channels.webchat_hub import FRAMES_CHANNEL


@pytest.fixture
def two_workers(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tuple[ChannelServer, ChannelServer]]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    first = ChannelServer(make_channel()).start()
    second = ChannelServer(make_channel()).start()
    client = redis.Redis.from_url(redis_url)
    try:
        # both workers listen before anything is published
        wait_until(lambda: dict(client.pubsub_numsub(FRAMES_CHANNEL)).get(FRAMES_CHANNEL.encode(), 0) >= 2)
        yield first, second
    finally:
        client.close()
        second.stop()
        first.stop()


def test_an_agent_message_read_by_the_other_worker_reaches_the_open_tab(two_workers: Tuple[ChannelServer, ChannelServer]) -> None:
    holding, other = two_workers
    other_channel = other.channel
    assert isinstance(other_channel, WebchatInput)

    async def scenario() -> None:
        async with Client(holding) as tab:
            sid = (await tab.hello())["session_id"]
            agent = {"id": "1700000000002-0", "ticket_id": "T7", "conversation_id": sid, "kind": "agent",
                     "text": "معك سارة من فريق الدعم", "agent_name": "سارة", "ts": time.time()}
            # the relay of the worker without the socket delivers it
            other.call(other_channel.deliver_outbound(sid, agent))
            got = await tab.next("message", "agent", timeout=5)
            assert got["id"] == "1700000000002-0" and got["text"] == "معك سارة من فريق الدعم"
            # once: the worker that published it does not push it a second time
            later = await tab.frames_for(1.0)
            assert not [frame for frame in later if frame.get("id") == "1700000000002-0"]

    run(scenario())


def test_a_reply_reaches_a_second_tab_open_on_the_other_worker(two_workers: Tuple[ChannelServer, ChannelServer]) -> None:
    first, second = two_workers

    async def scenario() -> None:
        async with Client(first) as tab_one:
            session = await tab_one.hello()
            async with Client(second) as tab_two:
                assert (await tab_two.hello(session["token"]))["session_id"] == session["session_id"]
                await tab_one.say("مرحبا")
                replies = await asyncio.gather(tab_one.next("message", "bot"), tab_two.next("message", "bot"))
                assert [reply["text"] for reply in replies] == ["وصلتني رسالتك: مرحبا"] * 2

    run(scenario())
