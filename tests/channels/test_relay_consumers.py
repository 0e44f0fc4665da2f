"""Two relay consumers (two Rasa processes) in the ``relay`` group on one Redis.

Each relay runs on its own thread and event loop with its own handoff store and
Rasa's real Redis tracker and lock stores (``bench.relay.rasa_stores_app``); the
entries are written to the real ``handoff:outbound`` stream. The deliverer stands
in for a channel and records which relay delivered what, in which order.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import defaultdict
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest
import redis
from channel_harness import wait_until
from rasa.shared.core.events import BotUttered

from bench.relay import rasa_stores_app, save_paused_tracker
from bot.channels import relay as relay_module
from bot.channels.handoff_streams import HandoffStreams
from bot.channels.relay import HandoffRelay
from handoff import contract
from handoff.store import HandoffStore

RECLAIM_IDLE_MS = 600


class Deliveries:
    """What reached the customers, per relay; some texts are slow or never finish."""

    def __init__(self) -> None:
        self.delivered: List[Tuple[str, str, str]] = []  # (relay, conversation, text)
        self.started: List[Tuple[str, str]] = []  # (relay, text)
        self.slow: Dict[str, float] = {}
        self.broken: Set[str] = set()  # texts whose delivery always fails
        self.lock = threading.Lock()

    def deliverer(self, relay: str) -> Any:
        async def deliver(conversation_id: str, message: Dict[str, Any]) -> None:
            text = message.get("text") or ""
            with self.lock:
                self.started.append((relay, text))
            await asyncio.sleep(self.slow.get(text, random.uniform(0, 0.02)))
            if text in self.broken:
                raise RuntimeError("the channel cannot deliver this one")
            with self.lock:
                self.delivered.append((relay, conversation_id, text))

        return deliver

    def texts_of(self, conversation_id: str) -> List[str]:
        with self.lock:
            return [text for _, conversation, text in self.delivered if conversation == conversation_id]

    def relay_of(self, text: str) -> Set[str]:
        with self.lock:
            return {relay for relay, _, delivered in self.delivered if delivered == text}


class RelayProcess:
    """A relay on its own thread and event loop, as in a separate Rasa process."""

    def __init__(self, redis_url: str, name: str, deliveries: Deliveries) -> None:
        self.name = name
        self.app = rasa_stores_app(redis_url)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.relay = HandoffRelay(consumer=name, reclaim_idle_ms=RECLAIM_IDLE_MS)

        async def start() -> None:
            self.relay._streams = HandoffStreams(redis_url)
            self.relay.register_channel("webchat", deliveries.deliverer(name))
            await self.relay.start(self.app)

        self.call(start())

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def kill(self) -> None:
        """Stop consuming mid-delivery, acknowledging and renewing nothing more."""
        self.call(self.relay.stop())

    def close(self) -> None:
        self.call(self.relay.stop())
        self.call(self.relay.streams.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class Producer:
    """The handoff service's side: pushes agent replies onto ``handoff:outbound``."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.app = rasa_stores_app(redis_url)

    def conversation(self, conversation_id: str) -> None:
        asyncio.run(save_paused_tracker(self.app, conversation_id))

    def push(self, conversation_id: str, *texts: str) -> None:
        async def push() -> None:
            store = HandoffStore(self.redis_url)
            ticket = {"ticket_id": f"HO-{conversation_id[-6:]}", "conversation_id": conversation_id, "channel": "webchat"}
            try:
                for text in texts:
                    await store.push_outbound(ticket, "agent", text, agent_name="ليلى")
            finally:
                await store.close()

        asyncio.run(push())

    def customer_entries(self) -> List[Dict[str, str]]:
        """What the relays appended to ``handoff:customer`` for the service."""
        client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            return [fields for _id, fields in client.xrange(contract.CUSTOMER)]
        finally:
            client.close()

    def recorded(self, conversation_id: str) -> List[BotUttered]:
        tracker = asyncio.run(self.app.ctx.agent.tracker_store.retrieve(conversation_id))
        return [event for event in tracker.events if isinstance(event, BotUttered)]


@pytest.fixture
def setup(redis_url: str) -> Iterator[Tuple[Producer, Deliveries, List[RelayProcess]]]:
    relays: List[RelayProcess] = []
    yield Producer(redis_url), Deliveries(), relays
    for relay in relays:
        relay.close()


def test_each_entry_is_handled_once_and_in_order_per_conversation(setup: Any, redis_url: str) -> None:
    producer, deliveries, relays = setup
    conversations = [f"web-order-{i:06d}" for i in range(4)]
    for conversation in conversations:
        producer.conversation(conversation)
    relays += [RelayProcess(redis_url, name, deliveries) for name in ("relay-a", "relay-b")]
    sent: Dict[str, List[str]] = defaultdict(list)
    for n in range(10):  # consecutive entries of one conversation land on both relays
        for conversation in conversations:
            text = f"{conversation[-1]}-{n}"
            sent[conversation].append(text)
            producer.push(conversation, text)
        time.sleep(0.01)
    wait_until(lambda: sum(len(deliveries.texts_of(c)) for c in conversations) >= 40, timeout=30)
    time.sleep(0.3)
    for conversation in conversations:
        assert deliveries.texts_of(conversation) == sent[conversation]  # once each, in order
        assert [event.text for event in producer.recorded(conversation)] == sent[conversation]
        # the relay that delivered each one recorded it: the tracker names the process
        assert all(
            {event.metadata["handoff"]["relay"]} == deliveries.relay_of(event.text)
            for event in producer.recorded(conversation)
        )
    shares = {relay.name: len([d for d in deliveries.delivered if d[0] == relay.name]) for relay in relays}
    assert all(shares.values()), shares  # both relays took part


def test_a_slow_entry_stays_with_its_relay_and_the_next_ones_wait_for_it(setup: Any, redis_url: str) -> None:
    producer, deliveries, relays = setup
    producer.conversation("web-slow-000001")
    relays += [RelayProcess(redis_url, name, deliveries) for name in ("relay-a", "relay-b")]
    deliveries.slow["first, slowly"] = 4 * RECLAIM_IDLE_MS / 1000  # far past the reclaim time
    producer.push("web-slow-000001", "first, slowly")
    wait_until(lambda: deliveries.started)
    holder = deliveries.started[0][0]
    # the holder is busy: the other relay reads these, and must not overtake the first
    producer.push("web-slow-000001", "second", "third")
    wait_until(lambda: len(deliveries.texts_of("web-slow-000001")) == 3, timeout=15)
    time.sleep(RECLAIM_IDLE_MS / 1000)
    assert deliveries.texts_of("web-slow-000001") == ["first, slowly", "second", "third"]
    assert deliveries.relay_of("first, slowly") == {holder}  # renewed, never taken over
    assert len(deliveries.relay_of("second") - {holder}) == 1  # read by the other relay while the holder was busy
    assert [started for _, started in deliveries.started].count("first, slowly") == 1


def test_a_dead_relays_entry_is_taken_over_before_the_next_one(setup: Any, redis_url: str) -> None:
    producer, deliveries, relays = setup
    producer.conversation("web-dead-000001")
    dying = RelayProcess(redis_url, "relay-dying", deliveries)
    relays.append(dying)
    deliveries.slow["lost with its relay"] = 3600
    producer.push("web-dead-000001", "lost with its relay")
    wait_until(lambda: deliveries.started)
    dying.kill()  # the process dies mid-delivery: the entry stays pending with it
    relays.append(RelayProcess(redis_url, "relay-survivor", deliveries))
    deliveries.slow["lost with its relay"] = 0
    producer.push("web-dead-000001", "after it")
    wait_until(lambda: len(deliveries.texts_of("web-dead-000001")) == 2, timeout=15)
    assert deliveries.texts_of("web-dead-000001") == ["lost with its relay", "after it"]
    assert deliveries.relay_of("lost with its relay") == deliveries.relay_of("after it") == {"relay-survivor"}


def test_an_entry_that_always_fails_is_retried_then_dropped_and_the_agent_told(setup: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    producer, deliveries, relays = setup
    monkeypatch.setattr(relay_module, "_MAX_DELIVERIES", 3)
    producer.conversation("web-fail-000001")
    relays += [RelayProcess(redis_url, name, deliveries) for name in ("relay-a", "relay-b")]
    deliveries.broken.add("never arrives")
    producer.push("web-fail-000001", "never arrives", "waits for it")
    wait_until(lambda: deliveries.texts_of("web-fail-000001"), timeout=20)
    started = [text for _, text in deliveries.started]
    assert deliveries.texts_of("web-fail-000001") == ["waits for it"]
    # three tries, and only then the next entry of the conversation
    assert started == ["never arrives"] * 3 + ["waits for it"]
    # the relay tells the service (handoff:customer), which adds the system event for the
    # agent (that part: tests/handoff/test_relay.py::test_refused_delivery_is_shown_to_the_agent)
    told = [fields for fields in producer.customer_entries() if fields["kind"] == "relay_notice"]
    assert len(told) == 1 and told[0]["ticket_id"] == "HO-000001"
    assert json.loads(told[0]["metadata"]).get("delivery_failed")
