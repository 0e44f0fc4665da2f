"""The intake (bot/channels/inbound.py) with the real Rasa agent of the shipped model.

The agent is loaded as ``rasa run`` loads it (endpoints.yml: Redis tracker and lock
stores, the project's NLG) and sits behind the real REST and WhatsApp channels on a
real Sanic server; Redis is real, the Graph API is the local fake over real HTTP. The
replies asked for here are responses (``utter_*``), so no action server runs: a custom
action a turn may predict fails as Rasa handles it (logged, the turn goes on).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Iterator, List

import pytest
import requests
from rasa.core.channels.channel import CollectingOutputChannel

from bot.channels import inbound
from bot.channels.rest import ValidatedRestInput
from bot.channels.turns import RasaTurns
from bot.settings import Settings
from scripts.stack import ROOT, redis_env, retention_env

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "channels"))  # the channel tests' harness
from channel_harness import ChannelServer, FakeGraphApi, wait_until  # noqa: E402
from test_inbound import arrival, stream_order  # noqa: E402
from test_whatsapp_channel import envelope, make_channel, meta_body, post, sign, text_message  # noqa: E402

ACTIONS_DOWN = "http://127.0.0.1:9/webhook"  # nothing listens: custom actions fail, responses do not


@pytest.fixture(scope="module")
def agent(trained_model: Any, redis_server_process: Any) -> Any:
    """The shipped model, loaded by Rasa from endpoints.yml against the test Redis."""
    from rasa.core.agent import load_agent
    from rasa.core.utils import AvailableEndpoints

    env = {**redis_env(redis_server_process.url), **retention_env({}), "ACTION_SERVER_URL": ACTIONS_DOWN, "ACTION_SERVER_TOKEN": "unused"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        endpoints = AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))
        loaded = asyncio.run(load_agent(model_path=str(trained_model), endpoints=endpoints))
    assert loaded is not None and loaded.is_ready()
    return loaded


@pytest.fixture
def quick_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOUND_STALE_SECONDS", "1")
    monkeypatch.setenv("INBOUND_SWEEP_SECONDS", "0.2")


@pytest.fixture
def fake_api() -> Iterator[FakeGraphApi]:
    server = FakeGraphApi().start()
    yield server
    server.stop()


def rest_server(agent: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch, **limits: Any) -> ChannelServer:
    monkeypatch.setenv("REDIS_URL", redis_url)
    return ChannelServer(ValidatedRestInput(Settings(local_mode=True, **limits)), agent=agent).start()


def say(server: ChannelServer, sender: str, text: str) -> requests.Response:
    # Connection: close: no idle keep-alive sockets left behind when the test server stops
    return requests.post(f"{server.url}/webhook", json={"sender": sender, "message": text}, headers={"Connection": "close"}, timeout=180)


def events(agent: Any, sender: str) -> List[Dict[str, Any]]:
    """The conversation's events as Rasa stored them (all of them: a turn loads only a window)."""
    tracker = asyncio.run(agent.tracker_store.retrieve_full_tracker(sender))
    return [event.as_dict() for event in tracker.events] if tracker else []


def user_events(agent: Any, sender: str) -> List[Dict[str, Any]]:
    return [e for e in events(agent, sender) if e["event"] == "user"]


def responses(agent: Any, name: str) -> List[str]:
    return [variant["text"] for variant in agent.domain.responses[name]]


def test_a_turn_survives_its_client_giving_up(agent: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server = rest_server(agent, redis_url, monkeypatch, reply_timeout_seconds=2)
    try:
        held, release = threading.Event(), threading.Event()

        async def busy_conversation() -> None:
            # another turn (or the relay recording an agent's reply) holds the conversation
            async with agent.lock_store.lock("late-agent"):
                held.set()
                while not release.is_set():
                    await asyncio.sleep(0.05)

        asyncio.run_coroutine_threadsafe(busy_conversation(), server.loop)  # type: ignore[arg-type]
        assert held.wait(10)
        late = say(server, "late-agent", "السلام عليكم")
        assert late.status_code == 202 and late.json()["status"] == "accepted"
        message_id = late.json()["message_id"]
        release.set()
        # the request is gone; the turn is not: the message reaches the tracker
        wait_until(lambda: [e["message_id"] for e in user_events(agent, "late-agent")] == [message_id], timeout=60)
        reply = say(server, "late-agent", "هل أنت روبوت؟")
        assert reply.status_code == 200
        said = [m["text"] for m in reply.json()]
        assert said[0] in responses(agent, "utter_greet")  # the late turn's reply comes first
        assert said[1:] and all(text in responses(agent, "utter_iamabot") for text in said[1:])
        assert len(user_events(agent, "late-agent")) == 2
    finally:
        server.stop()


def test_thirty_messages_at_once_are_thirty_turns_in_arrival_order(agent: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server = rest_server(agent, redis_url, monkeypatch, reply_timeout_seconds=170, messages_per_conversation=100)
    taken = stream_order(server, monkeypatch)
    try:
        phrases = ["السلام عليكم", "شكرا", "هل أنت روبوت؟"]
        sent = [f"{phrases[n % 3]} {n}" for n in range(30)]
        start = threading.Barrier(30)

        def fire(text: str) -> requests.Response:
            start.wait()
            return say(server, "thirty-1", text)

        with ThreadPoolExecutor(30) as pool:
            replies = list(pool.map(fire, sent))
        assert [r.status_code for r in replies] == [200] * 30
        assert all(r.json() for r in replies)  # each answered, to its own request
        recorded = events(agent, "thirty-1")
        users = [e for e in recorded if e["event"] == "user"]
        assert sorted(e["text"] for e in users) == sorted(sent)  # all 30, none twice
        assert len({e["message_id"] for e in users}) == 30
        assert [e["message_id"] for e in users] == [e.message_id for e in taken]  # in the stream's order,
        assert [arrival(e) for e in taken] == sorted(arrival(e) for e in taken)  # which is the arrival order
        # one turn each: every message is followed by the bot's answer before the next one
        kinds = [e["event"] for e in recorded if e["event"] in ("user", "bot")]
        turns = "".join("u" if kind == "user" else "b" for kind in kinds)
        assert turns.count("u") == 30 and "uu" not in turns and turns.endswith("b")
    finally:
        server.stop()


def test_a_crash_between_the_tracker_save_and_the_ack_neither_doubles_nor_loses_the_answer(agent: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)

    async def scenario() -> Dict[str, Any]:
        app = SimpleNamespace(ctx=SimpleNamespace(agent=agent))
        intake = inbound.Inbound(Settings(), runner=RasaTurns(app))
        later: List[Dict[str, Any]] = []

        async def keep(sender: str, replies: List[Dict[str, Any]]) -> None:
            later.extend(replies)

        intake.register("rest", inbound.ChannelHooks(lambda _sender: CollectingOutputChannel(), 0.0, keep))
        finish, crashes = intake._finish, []

        async def crash_once(conversation_id: str, entries: List[inbound.Entry], payload: str, acknowledge: bool = False) -> Any:
            if acknowledge and not crashes:  # the tracker is saved, the entry not yet deleted
                crashes.append(entries[0].message_id)
                raise ConnectionError("the process died here")
            return await finish(conversation_id, entries, payload, acknowledge)

        monkeypatch.setattr(intake, "_finish", crash_once)
        message_id = await intake.accept("rest", "crash-1", "السلام عليكم")
        for _ in range(300):  # the drain retries after the crash, as another process's would
            if not intake._draining and not await intake.waiting("crash-1"):
                break
            await asyncio.sleep(0.1)
        await intake.stop()
        return {"message_id": message_id, "crashes": crashes, "later": later, "waiting": await intake.waiting("crash-1")}

    outcome = asyncio.run(scenario())
    assert outcome["crashes"] == [outcome["message_id"]] and outcome["waiting"] == []
    users = user_events(agent, "crash-1")
    assert [e["message_id"] for e in users] == [outcome["message_id"]]  # once, not twice
    bot = [e["text"] for e in events(agent, "crash-1") if e["event"] == "bot"]
    assert len(bot) == 1 and bot[0] in responses(agent, "utter_greet")  # answered once
    # REST's replies of the crashed turn were in that process's memory: the retry reads
    # them back from the tracker and hands them over (kept for the sender's next reply),
    # without answering again (WhatsApp's had reached the outbox before the save)
    assert [reply["text"] for reply in outcome["later"]] == bot
    assert all(reply["recipient_id"] == "crash-1" for reply in outcome["later"])


def test_the_sweeper_drains_a_conversation_a_dead_process_left(agent: Any, redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch, quick_sweeps: None) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    server = ChannelServer(make_channel(fake_api, Settings(burst_window_seconds=0.0)), agent=agent).start()
    try:
        async def store_and_die() -> str:
            gone = inbound.Inbound(Settings.from_env())
            await gone.stop()  # it stored the message and never drained it
            return await gone.accept("whatsapp", "966500000111", "هل أنت روبوت؟", message_id="wamid.stranded-1")

        assert server.call(store_and_die()) == "wamid.stranded-1"
        wait_until(lambda: [e["message_id"] for e in user_events(agent, "966500000111")] == ["wamid.stranded-1"], timeout=60)
        wait_until(lambda: fake_api.sent_messages(), timeout=30)
        sent = [m["text"]["body"] for m in fake_api.sent_messages()]
        assert sent and all(text in responses(agent, "utter_iamabot") for text in sent)
    finally:
        server.stop()


def test_a_whatsapp_burst_is_three_user_events_and_one_answer_to_the_question(agent: Any, redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    server = ChannelServer(make_channel(fake_api, Settings(burst_window_seconds=1.0)), agent=agent).start()
    customer = "966501234567"  # the sender of test_whatsapp_channel's envelope
    try:
        for n, text in enumerate(["السلام عليكم", "عندي سؤال", "هل أنت روبوت؟"]):
            body = meta_body(envelope([text_message(text, f"wamid.burst-{n}")]))
            assert post(server, body, sign(body)).status_code == 200
        wait_until(lambda: fake_api.sent_messages(), timeout=60)
        time.sleep(2.0)  # nothing else follows
        recorded = events(agent, customer)
        users = [e for e in recorded if e["event"] == "user"]
        assert [e["text"] for e in users] == ["السلام عليكم", "عندي سؤال", "هل أنت روبوت؟"]
        after_first = recorded[recorded.index(users[0]):]
        kinds = "".join({"user": "u", "bot": "b"}.get(e["event"], "") for e in after_first)
        assert kinds.startswith("uuub") and "u" not in kinds[3:]  # one answer, after the last
        bot = [e["text"] for e in recorded if e["event"] == "bot"]
        assert bot and all(text in responses(agent, "utter_iamabot") for text in bot)  # the question's answer, no greeting
        assert [m["text"]["body"] for m in fake_api.sent_messages()] == bot
        assert users[-1]["metadata"]["burst"]["messages"] == 3
        assert users[-1]["parse_data"]["intent"]["name"] == "bot_challenge"  # alone or read together: the question
    finally:
        server.stop()


def test_a_burst_is_read_together_when_that_reads_better(agent: Any, redis_url: str, fake_api: FakeGraphApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    server = ChannelServer(make_channel(fake_api, Settings(burst_window_seconds=1.0)), agent=agent).start()
    try:
        for n, text in enumerate(["الكهرباء", "مقطوعة من الصبح عندنا"]):
            body = meta_body(envelope([text_message(text, f"wamid.joined-{n}")]))
            assert post(server, body, sign(body)).status_code == 200
        wait_until(lambda: len(user_events(agent, "966501234567")) == 2, timeout=60)
        first, last = user_events(agent, "966501234567")
        assert last["text"] == "مقطوعة من الصبح عندنا"  # the customer's words stay as written
        alone = asyncio.run(agent.parse_message("مقطوعة من الصبح عندنا"))
        assert alone["intent"]["name"] == "report_outage" and not alone["entities"]  # which service, it does not say
        assert last["metadata"]["burst"] == {"messages": 2, "read_together": True}
        assert last["parse_data"]["text"] == "الكهرباء مقطوعة من الصبح عندنا"
        assert last["parse_data"]["intent"]["name"] == "report_outage"
        assert ("service_type", "electricity") in {(e["entity"], e["value"]) for e in last["parse_data"]["entities"]}
        assert first["parse_data"]["text"] == "الكهرباء"  # the earlier message keeps its own parse
    finally:
        server.stop()
