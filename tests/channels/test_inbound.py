"""The intake (bot/channels/inbound.py) behind the real channels, with the scripted bot.

Real Sanic servers, real HTTP, real Redis; the bot is the scripted stand-in of
channel_harness.py, run where Rasa's processor would run (``ScriptedTurns``). The
same guarantees with the real Rasa agent and tracker: tests/integration/test_inbound_agent.py.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List

import pytest
import redis
import requests
from channel_harness import ChannelServer, FakeGraphApi, ScriptedBot, wait_until
from rasa.core.channels.channel import UserMessage
from test_whatsapp_channel import envelope as whatsapp_envelope
from test_whatsapp_channel import make_channel, meta_body, post, sign, text_message

from bot.channels import inbound
from bot.channels.rest import ValidatedRestInput
from bot.channels.validation import delivery_key
from bot.settings import Settings
from handoff import contract
from handoff.store import HandoffStore


@pytest.fixture
def quick_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strays are taken up after half a second (the default is 10 s)."""
    monkeypatch.setenv("INBOUND_STALE_SECONDS", "0.5")
    monkeypatch.setenv("INBOUND_SWEEP_SECONDS", "0.1")


def rest_server(redis_url: str, monkeypatch: pytest.MonkeyPatch, bot: Any = None, **limits: Any) -> ChannelServer:
    monkeypatch.setenv("REDIS_URL", redis_url)
    return ChannelServer(ValidatedRestInput(Settings(local_mode=True, **limits)), bot).start()


def say(server: ChannelServer, sender: str, text: str) -> requests.Response:
    # Connection: close: no idle keep-alive sockets left behind when the test server stops
    return requests.post(f"{server.url}/webhook", json={"sender": sender, "message": text}, headers={"Connection": "close"}, timeout=30)


def texts(reply: requests.Response) -> List[str]:
    return [m.get("text") for m in reply.json()]


def nothing_waits(redis_url: str, conversation_id: str) -> bool:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return not client.exists(inbound.stream_key(conversation_id)) and client.zscore(inbound.PENDING, conversation_id) is None
    finally:
        client.close()


class SlowBot(ScriptedBot):
    """Takes ``seconds`` over every message whose text starts with ``بطيء``; raises on ``عطل``."""

    def __init__(self, seconds: float = 0.0) -> None:
        super().__init__()
        self.seconds = seconds

    async def __call__(self, message: UserMessage) -> None:
        if str(message.text).startswith("عطل"):
            raise RuntimeError("a bug in this turn")
        if str(message.text).startswith("بطيء"):
            await asyncio.sleep(self.seconds)
        await super().__call__(message)


def stream_order(server: ChannelServer, monkeypatch: pytest.MonkeyPatch) -> List[inbound.Entry]:
    """The entries the server's drains take, in the order they take them (the stream's
    order, which is the order of arrival: Redis gives each entry an increasing id)."""
    assert server.loop is not None
    intake = inbound.Inbound.of_loop(server.loop)
    assert intake is not None
    taken: List[inbound.Entry] = []
    run_turn = intake._run_turn

    async def recording(conversation_id: str, entries: List[inbound.Entry]) -> Any:
        taken.extend(entries)
        return await run_turn(conversation_id, entries)

    monkeypatch.setattr(intake, "_run_turn", recording)
    return taken


def arrival(entry: inbound.Entry) -> tuple:
    return tuple(map(int, entry.entry_id.split("-")))


def test_thirty_messages_fired_at_once_are_each_handled_once_in_arrival_order(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server = rest_server(redis_url, monkeypatch, messages_per_conversation=100)
    taken = stream_order(server, monkeypatch)
    try:
        sent = [f"رسالة رقم {n}" for n in range(30)]
        start = threading.Barrier(30)

        def fire(text: str) -> requests.Response:
            start.wait()
            return say(server, "burst-rest", text)

        with ThreadPoolExecutor(30) as pool:
            replies = list(pool.map(fire, sent))
        assert [r.status_code for r in replies] == [200] * 30
        for text, reply in zip(sent, replies, strict=True):
            assert texts(reply) == [f"وصلتني رسالتك: {text}"]  # its own answer, once, nobody else's
        received = server.bot.received  # type: ignore[attr-defined]
        assert sorted(m.text for m in received) == sorted(sent) and len({m.message_id for m in received}) == 30
        assert [e.message_id for e in taken] == [m.message_id for m in received]  # as taken, so handled
        assert [arrival(e) for e in taken] == sorted(arrival(e) for e in taken)  # taken as they arrived
        assert nothing_waits(redis_url, "burst-rest")
    finally:
        server.stop()


def test_a_turn_that_outlasts_the_reply_timeout_finishes_and_its_reply_comes_next(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bot = SlowBot(seconds=2.5)
    server = rest_server(redis_url, monkeypatch, bot, reply_timeout_seconds=1)
    try:
        late = say(server, "late-1", "بطيء جداً")
        assert late.status_code == 202
        body = late.json()
        assert body["status"] == "accepted" and body["message_id"] and "لا داعي لإعادة إرسالها" in body["message"]
        wait_until(lambda: len(bot.received) == 1)  # the turn goes on without its request
        time.sleep(2.0)
        reply = say(server, "late-1", "سريع")
        assert reply.status_code == 200
        assert texts(reply) == ["وصلتني رسالتك: بطيء جداً", "وصلتني رسالتك: سريع"]
        assert [m.message_id for m in bot.received][0] == body["message_id"]
        assert texts(say(server, "late-1", "ثالث")) == ["وصلتني رسالتك: ثالث"]  # handed over once only
    finally:
        server.stop()


def test_a_failing_turn_is_retried_then_set_aside_and_the_next_message_is_answered(redis_url: str, monkeypatch: pytest.MonkeyPatch, quick_sweeps: None) -> None:
    monkeypatch.setenv("INBOUND_MAX_ATTEMPTS", "3")
    server = rest_server(redis_url, monkeypatch, SlowBot())
    try:
        failed = say(server, "fails-1", "عطل في هذه الرسالة")
        assert failed.status_code == 202 and failed.json()["status"] == "retrying"
        client = redis.Redis.from_url(redis_url, decode_responses=True)
        # the sweeper retries it (attempts 2 and 3), then sets it aside in the dead-letter list
        wait_until(lambda: client.llen(inbound.DEAD) == 1, timeout=15)
        dead = json.loads(client.lindex(inbound.DEAD, 0))
        assert (dead["text"], dead["conversation_id"], dead["attempts"]) == ("عطل في هذه الرسالة", "fails-1", 3)
        assert client.ttl(inbound.DEAD) > 0
        reply = say(server, "fails-1", "بعده")
        assert reply.status_code == 200 and texts(reply) == ["وصلتني رسالتك: بعده"]
        assert nothing_waits(redis_url, "fails-1")
        client.close()
    finally:
        server.stop()


def test_the_sweeper_takes_up_a_conversation_its_process_left_waiting(redis_url: str, monkeypatch: pytest.MonkeyPatch, quick_sweeps: None) -> None:
    server = rest_server(redis_url, monkeypatch)
    try:
        async def store_and_die() -> str:
            # a process that stored the message and died before its drain ran
            gone = inbound.Inbound(Settings.from_env())
            await gone.stop()
            return await gone.accept("rest", "stranded-1", "ضاعت؟", metadata={"from": "a dead process"})

        message_id = server.call(store_and_die())
        wait_until(lambda: [m.message_id for m in server.bot.received] == [message_id], timeout=10)  # type: ignore[attr-defined]
        reply = say(server, "stranded-1", "وصلت؟")
        assert texts(reply) == ["وصلتني رسالتك: ضاعت؟", "وصلتني رسالتك: وصلت؟"]  # nobody waited: it comes next
        assert nothing_waits(redis_url, "stranded-1")
    finally:
        server.stop()


def test_a_retry_of_a_message_a_dead_process_stored_gets_it_handled_without_the_sweepers_wait(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first delivery reached a process that stored it and died; the sender's retry
    (same id) is a duplicate, and the process it reached drains the conversation at once
    instead of leaving it to the sweeper (INBOUND_STALE_SECONDS, 10 s by default)."""
    monkeypatch.setenv("INBOUND_STALE_SECONDS", "30")
    server = rest_server(redis_url, monkeypatch)
    try:
        async def store_and_die() -> str:
            gone = inbound.Inbound(Settings.from_env())
            await gone.stop()
            mark = inbound.DeliveryMark(delivery_key("rest:stranded-2", "crm-77"), 60)
            return await gone.accept("rest", "stranded-2", "انقطعت الكهرباء", delivery=mark)

        message_id = server.call(store_and_die())
        body = {"sender": "stranded-2", "message": "انقطعت الكهرباء", "message_id": "crm-77"}
        again = requests.post(f"{server.url}/webhook", json=body, headers={"Connection": "close"}, timeout=30)
        assert again.status_code == 202 and again.json()["status"] == "duplicate"
        wait_until(lambda: [m.message_id for m in server.bot.received] == [message_id], timeout=5)  # type: ignore[attr-defined]
        wait_until(lambda: nothing_waits(redis_url, "stranded-2"), timeout=5)
    finally:
        server.stop()


def test_a_whatsapp_burst_is_one_turn_and_a_never_ending_one_is_cut(redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    server = ChannelServer(make_channel(fake_api, Settings(burst_window_seconds=0.5, messages_per_conversation=100))).start()
    try:
        for n, text in enumerate(["السلام عليكم", "عندي مشكلة", "النت فاصل"]):
            body = meta_body(whatsapp_envelope([text_message(text, f"wamid.b{n}")]))
            assert post(server, body, sign(body)).status_code == 200
        wait_until(lambda: len(server.turns.runs) == 1 and len(server.bot.received) == 3)  # type: ignore[union-attr, attr-defined]
        time.sleep(0.8)
        assert server.turns.runs == [["السلام عليكم", "عندي مشكلة", "النت فاصل"]]  # type: ignore[union-attr]
        # a message every 0.3 s never leaves 0.5 s of quiet: a turn starts 1.5 s after the first anyway
        started = time.monotonic()
        for n in range(8):
            body = meta_body(whatsapp_envelope([text_message(f"متتالية {n}", f"wamid.s{n}")]))
            assert post(server, body, sign(body)).status_code == 200
            time.sleep(0.3)
        wait_until(lambda: len(server.bot.received) == 11)  # type: ignore[attr-defined]
        runs = server.turns.runs[1:]  # type: ignore[union-attr]
        assert len(runs) >= 2 and sum(runs, []) == [f"متتالية {n}" for n in range(8)]
        assert time.monotonic() - started < 5
    finally:
        server.stop()


def customer_lines(redis_url: str, ticket_id: str) -> List[str]:
    """What the relay handed the handoff service for the ticket (``handoff:customer``, the contract)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return [
            fields["text"] for _id, fields in client.xrange(contract.CUSTOMER)
            if fields.get("ticket_id") == ticket_id and fields.get("kind") == "message"
        ]
    finally:
        client.close()


class RelayWatchingBot(ScriptedBot):
    """Notes, for every message it gets, whether it is already on its way to the agent."""

    def __init__(self, redis_url: str, ticket_id: str) -> None:
        super().__init__()
        self.redis_url, self.ticket_id = redis_url, ticket_id
        self.stored_first: Dict[str, bool] = {}

    async def __call__(self, message: UserMessage) -> None:
        stored = await asyncio.to_thread(customer_lines, self.redis_url, self.ticket_id)
        self.stored_first[str(message.text)] = str(message.text) in stored
        await super().__call__(message)


def test_the_relay_hears_each_message_once_and_before_the_bot(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def open_ticket() -> str:
        store = HandoffStore(redis_url)
        try:
            ticket, _ = await store.create_ticket({"conversation_id": "relayed-1", "channel": "rest", "priority": 1})
            return str(ticket["ticket_id"])
        finally:
            await store.close()

    ticket_id = asyncio.run(open_ticket())
    bot = RelayWatchingBot(redis_url, ticket_id)
    server = rest_server(redis_url, monkeypatch, bot)
    try:
        sent = [f"للموظف {n}" for n in range(8)]
        with ThreadPoolExecutor(8) as pool:
            assert [r.status_code for r in pool.map(lambda text: say(server, "relayed-1", text), sent)] == [200] * 8

        assert sorted(customer_lines(redis_url, ticket_id)) == sorted(sent)  # once each
        assert bot.stored_first == {text: True for text in sent}
    finally:
        server.stop()


def test_a_request_that_waits_gets_only_its_own_burst_share(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # REST with a burst window: the earlier requests of a burst get [], the last one the answer
    monkeypatch.setenv("REDIS_URL", redis_url)
    channel = ValidatedRestInput(Settings(local_mode=True, burst_windows=(("rest", 0.6),)))
    server = ChannelServer(channel).start()
    try:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(say, server, "rest-burst", "أولى")
            time.sleep(0.2)
            second = pool.submit(say, server, "rest-burst", "ثانية")
            replies = [first.result(), second.result()]
        assert [r.status_code for r in replies] == [200, 200]
        assert texts(replies[0]) == [] and texts(replies[1]) == ["وصلتني رسالتك: أولى", "وصلتني رسالتك: ثانية"]
        assert server.turns.runs == [["أولى", "ثانية"]]  # type: ignore[union-attr]
    finally:
        server.stop()


def test_a_client_that_hangs_up_gets_the_reply_with_its_next_message(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    bot = SlowBot(seconds=2.0)
    server = rest_server(redis_url, monkeypatch, bot)  # the server would wait 30 s; the client does not
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(f"{server.url}/webhook", json={"sender": "hangs-up", "message": "بطيء"}, timeout=0.5)
        wait_until(lambda: len(bot.received) == 1)
        time.sleep(2.5)
        assert texts(say(server, "hangs-up", "عدت")) == ["وصلتني رسالتك: بطيء", "وصلتني رسالتك: عدت"]
    finally:
        server.stop()


def test_the_delivery_mark_is_set_with_the_message_and_only_then(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sender's message id is marked taken in the same step that stores the message:
    never marked without being stored (a retry would be refused), never stored twice."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    mark = inbound.DeliveryMark("test:seen:crm-7", 60)
    client = redis.Redis.from_url(redis_url, decode_responses=True)

    async def scenario() -> List[str]:
        intake = inbound.Inbound(Settings.from_env())
        await intake.stop()  # store only: no drain
        stored = await intake.accept("rest", "marked-1", "أول مرة", delivery=mark)
        with pytest.raises(inbound.AlreadyAccepted):
            await intake.accept("rest", "marked-1", "أول مرة", delivery=mark)
        # Redis refusing the write stores nothing and marks nothing
        broken = inbound.Inbound(Settings.from_env(), redis=redis.asyncio.Redis(host="127.0.0.1", port=1))
        with pytest.raises(redis.exceptions.ConnectionError):
            await broken.accept("rest", "marked-2", "لم تُحفظ", delivery=inbound.DeliveryMark("test:seen:crm-8", 60))
        return [stored]

    try:
        stored = asyncio.run(scenario())
        entries = client.xrange(inbound.stream_key("marked-1"))
        assert [fields["m"] for _, fields in entries] == stored and client.ttl(mark.key) > 0
        assert not client.exists("test:seen:crm-8") and not client.exists(inbound.stream_key("marked-2"))
    finally:
        client.close()


def test_a_retry_with_the_callers_message_id_is_taken_once(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a caller whose request died with a process (a 502 from the proxy) sends it again
    bot = ScriptedBot()
    server = rest_server(redis_url, monkeypatch, bot)
    try:
        body = {"sender": "retrying-1", "message": "كم سعر الكيلوواط؟", "message_id": "crm-42"}
        first = requests.post(f"{server.url}/webhook", json=body, headers={"Connection": "close"}, timeout=30)
        again = requests.post(f"{server.url}/webhook", json=body, headers={"Connection": "close"}, timeout=30)
        assert first.status_code == 200 and texts(first)
        assert again.status_code == 202 and again.json()["status"] == "duplicate"
        time.sleep(0.5)
        assert [m.text for m in bot.received] == ["كم سعر الكيلوواط؟"]
        # another message id is another message; a malformed one is refused
        other = requests.post(f"{server.url}/webhook", json=dict(body, message_id="crm-43"), headers={"Connection": "close"}, timeout=30)
        assert other.status_code == 200
        bad = requests.post(f"{server.url}/webhook", json=dict(body, message_id="<script>"), headers={"Connection": "close"}, timeout=30)
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_message_id"
        assert len(bot.received) == 2
    finally:
        server.stop()
