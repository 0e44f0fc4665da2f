"""The handoff relay inside the Rasa process (input-channel layer, every channel).

While a person has a conversation, each customer message is stored in the
ticket's event stream (Redis, before anything is acknowledged) and reaches the
agent console through the feed; the channel still hands it to Rasa, whose paused
tracker records it. In the other direction, a consumer of ``handoff:outbound``
(consumer group ``relay``, at-least-once) records each agent or system text in
the Rasa tracker as ``BotUttered`` (skipping message ids already recorded),
delivers it through the channel the customer uses, and only then acknowledges
it. ``state == "bot"`` and ``state == "resolved"`` resume the conversation and
trigger ``EXTERNAL_handoff_returned`` / ``EXTERNAL_handoff_resolved``.

See ``handoff/PROTOCOL.md`` for the interface::

    relay = HandoffRelay.instance()
    relay.register_channel("webchat", deliver)
    await relay.start(app)
    handled = await relay.on_customer_message("webchat", sender_id, text)
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import OutputChannel
from rasa.shared.core.events import BotUttered, ConversationPaused, ConversationResumed

from bot.channels.turns import ready_agent
from bot.settings import redis_url
from bot.tasks import stop_task
from bot.untrusted import strip_invisible
from handoff.store import OPEN_STATES, WITH_AGENT, HandoffStore

logger = logging.getLogger(__name__)

OutboundMessage = Dict[str, Any]
Deliverer = Callable[[str, OutboundMessage], Awaitable[Any]]
OutputChannelFactory = Callable[[str], OutputChannel]

EXTERNAL_INTENTS = {"bot": "EXTERNAL_handoff_returned", "resolved": "EXTERNAL_handoff_resolved"}
# An entry left unacknowledged this long by a relay that died is taken over.
_RECLAIM_IDLE_MS = 15000
# Customer typing notices: at most one per conversation in this many seconds.
_TYPING_EVERY_S = 2.0


class DeliveryRefused(Exception):
    """Raised by a deliverer that cannot deliver (e.g. WhatsApp's 24-hour window).

    The relay acknowledges the entry and shows the reason to the agent in the console.
    """


class RelayOutputChannel(OutputChannel):
    """Sends the bot's own replies (after a return or resolve) through a channel's deliverer."""

    def __init__(self, channel: str, deliver: Deliverer, ticket_id: str, conversation_id: str) -> None:
        self.channel, self.deliver = channel, deliver
        self.ticket_id, self.conversation_id = ticket_id, conversation_id

    @classmethod
    def name(cls) -> str:
        return "handoff_relay"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        for part in text.strip().split("\n\n"):
            await self.deliver(
                recipient_id,
                {
                    "id": uuid.uuid4().hex,
                    "ticket_id": self.ticket_id,
                    "conversation_id": self.conversation_id,
                    "kind": "bot",
                    "text": part,
                    "ts": time.time(),
                },
            )


class HandoffRelay:
    """One per Rasa process; channels register a deliverer and report customer messages.

    Args:
        store: the handoff store (default: on ``REDIS_URL``).
        consumer: this process's consumer name in the ``relay`` group.
    """

    _instance: Optional[HandoffRelay] = None

    def __init__(self, store: Optional[HandoffStore] = None, consumer: Optional[str] = None) -> None:
        self._store = store
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.deliverers: Dict[str, Deliverer] = {}
        self.output_channels: Dict[str, OutputChannelFactory] = {}
        self.app: Any = None
        self._task: Optional[asyncio.Task] = None
        self._stopping = False
        self._last_typing: Dict[str, float] = {}

    @classmethod
    def instance(cls) -> HandoffRelay:
        """The process's relay (created on first use)."""
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    @property
    def store(self) -> HandoffStore:
        if self._store is None:
            self._store = HandoffStore(redis_url())
        return self._store

    def register_channel(self, name: str, deliver: Deliverer, output_channel: Optional[OutputChannelFactory] = None) -> None:
        """Tell the relay how to reach customers of channel ``name``.

        Args:
            name: the channel's name (``rest``, ``webchat``, ``whatsapp``, ``twilio``).
            deliver: ``deliver(sender_id, OutboundMessage)``; may raise :class:`DeliveryRefused`.
            output_channel: optional ``factory(sender_id) -> OutputChannel`` for the bot's own
                replies after a return/resolve; by default they go through ``deliver`` as ``kind: "bot"``.
        """
        self.deliverers[name] = deliver
        if output_channel is not None:
            self.output_channels[name] = output_channel

    async def start(self, app: Any) -> None:
        """Start consuming ``handoff:outbound`` (idempotent; call from ``before_server_start``)."""
        self.app = app
        self._stopping = False
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._consume())

    async def stop(self) -> None:
        """Stop consuming (bounded: see :mod:`bot.tasks`)."""
        self._stopping = True
        task, self._task = self._task, None
        await stop_task(task)

    # ------------------------------------------------------------ customer side
    async def on_customer_message(
        self,
        channel: str,
        sender_id: str,
        text: str,
        message_id: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> bool:
        """Store a customer message with the agent when a person has the conversation.

        Returns:
            True when the conversation is with a person (queued or with an agent):
            the message is persisted and on its way to the console. The channel
            still passes it to Rasa so the paused tracker records it.
        """
        ticket = await self.store.open_ticket(sender_id)
        if ticket is None or ticket["state"] not in OPEN_STATES:
            return False
        if message_id and not await self.store.claim_message_id(ticket["ticket_id"], message_id):
            return True  # a channel's retry of a message already stored
        data: Dict[str, Any] = {"channel": channel}
        if message_id:
            data["message_id"] = message_id
        if metadata:
            data["metadata"] = metadata
        # the agent must read what the customer wrote in the order it was written:
        # invisible bidi / zero-width controls go (channels strip them too; this is
        # the door into the handoff store, whatever channel calls it)
        await self.store.add_event(ticket["ticket_id"], "message", "customer", strip_invisible(text), data=data)
        return True

    async def on_customer_typing(self, channel: str, sender_id: str) -> None:
        """Show the agent that the customer is typing (throttled, not persisted)."""
        now = time.monotonic()
        if now - self._last_typing.get(sender_id, 0.0) < _TYPING_EVERY_S:
            return
        self._last_typing[sender_id] = now
        ticket_id = await self.store.open_ticket_id(sender_id)
        if ticket_id:
            await self.store.publish(ticket_id, "typing", {"role": "customer", "channel": channel})

    # ------------------------------------------------------------- agent side
    async def _consume(self) -> None:
        """Read, record, deliver, acknowledge; forever, surviving Redis restarts."""
        last_reclaim = 0.0
        while not self._stopping:
            try:
                await self.store.ensure_relay_group()
                if time.monotonic() - last_reclaim > 5:
                    last_reclaim = time.monotonic()
                    await self._handle_batch(await self._reclaim())
                await self._handle_batch(await self.store.read_outbound(self.consumer, block_ms=2000))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis restarting or a bad entry: retry shortly
                if self._stopping:
                    return
                logger.exception("handoff relay: consumer error, retrying")
                await asyncio.sleep(0.5)

    async def _reclaim(self) -> List[Any]:
        """Entries this or a dead relay read but never acknowledged."""
        return await self.store.reclaim_outbound(self.consumer, _RECLAIM_IDLE_MS)

    async def _handle_batch(self, entries: List[Any]) -> None:
        """Conversations in parallel, each conversation's entries in order."""
        by_conversation: Dict[str, List[Any]] = {}
        for entry_id, message in entries:
            by_conversation.setdefault(str(message.get("conversation_id", "")), []).append((entry_id, message))

        async def in_order(items: List[Any]) -> None:
            for entry_id, message in items:
                await self._handle(entry_id, message)

        await asyncio.gather(*(in_order(items) for items in by_conversation.values()))

    async def _handle(self, entry_id: str, message: OutboundMessage) -> None:
        try:
            await self.process(message)
        except DeliveryRefused as refusal:
            await self.store.add_event(
                message["ticket_id"], "system", "system", f"لم تصل الرسالة إلى العميل: {refusal}",
                data={"delivery_refused": message.get("id"), "reason": str(refusal)},
            )
        except Exception:  # noqa: BLE001 - left unacknowledged: retried after _RECLAIM_IDLE_MS
            logger.exception("handoff relay: entry %s not delivered; will retry", entry_id)
            return
        await self.store.ack_outbound(entry_id)

    async def process(self, message: OutboundMessage) -> None:
        """Record one outbound message in the tracker and deliver it (idempotent per id)."""
        conversation_id = message["conversation_id"]
        channel = message.get("channel") or await self._channel_of(conversation_id)
        deliver = self.deliverers.get(channel)
        kind, state = message.get("kind"), message.get("state")
        if kind == "typing":
            if deliver:
                await deliver(conversation_id, message)
            return
        if kind == "state" and state in EXTERNAL_INTENTS:
            if deliver:
                await deliver(conversation_id, message)
            await self._resume(message, channel, deliver)
            return
        if message.get("text") or (kind == "state" and state == WITH_AGENT):
            await self._record(message)
        if deliver is None:
            logger.warning("handoff relay: no deliverer for channel %r (conversation %s)", channel, conversation_id)
            return
        await deliver(conversation_id, message)

    async def _channel_of(self, conversation_id: str) -> str:
        ticket = await self.store.open_ticket(conversation_id)
        return str(ticket.get("channel", "")) if ticket else ""

    async def _agent(self) -> Any:
        """Rasa's agent, once the server has loaded it."""
        return await ready_agent(self.app)

    async def _record(self, message: OutboundMessage) -> None:
        """Append the text to the tracker as BotUttered, unless its id is there already.

        When a person takes the conversation (state ``with_agent``) the bot is paused in
        the same update: a callback ticket left the bot answering while nobody was free,
        and once an agent claims it the bot must fall silent, or both would answer.
        """
        agent = await self._agent()
        conversation_id = message["conversation_id"]
        takes_over = message.get("kind") == "state" and message.get("state") == WITH_AGENT
        async with agent.lock_store.lock(conversation_id):
            tracker = await agent.tracker_store.retrieve(conversation_id)
            if tracker is None:
                return
            pause = takes_over and not tracker.is_paused()
            recorded = not message.get("text") or any(
                isinstance(event, BotUttered) and (event.metadata or {}).get("handoff", {}).get("message_id") == message["id"]
                for event in tracker.events
            )
            if recorded and not pause:
                return
            if pause:
                tracker.update(ConversationPaused())
            if recorded:
                await agent.tracker_store.save(tracker)
                return
            tracker.update(
                BotUttered(
                    message["text"],
                    metadata={
                        "handoff": {
                            "message_id": message["id"],
                            "agent": message.get("agent_name"),
                            "kind": message.get("kind"),
                            "ticket_id": message.get("ticket_id"),
                        }
                    },
                )
            )
            await agent.tracker_store.save(tracker)

    async def _resume(self, message: OutboundMessage, channel: str, deliver: Optional[Deliverer]) -> None:
        """Give the conversation back to the bot and let it speak (once per control id)."""
        if await self.store.was_relayed(message["id"]):
            return
        agent = await self._agent()
        conversation_id = message["conversation_id"]
        if channel in self.output_channels:
            output: OutputChannel = self.output_channels[channel](conversation_id)
        elif deliver is not None:
            output = RelayOutputChannel(channel, deliver, message["ticket_id"], conversation_id)
        else:
            output = OutputChannel()
        intent = EXTERNAL_INTENTS[message["state"]]
        async with agent.lock_store.lock(conversation_id):
            tracker = await agent.processor.fetch_tracker_and_update_session(conversation_id, output)
            tracker.update(ConversationResumed())
            await agent.processor.trigger_external_user_uttered(
                intent, {"handoff_ticket_id": message["ticket_id"]}, tracker, output
            )
        await self.store.mark_relayed(message["id"])
