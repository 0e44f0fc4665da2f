"""The handoff relay inside the Rasa process (input-channel layer, every channel).

The handoff service owns the handoff's state; this relay applies it to Rasa and
speaks only the contract of ``handoff/contract.py`` (through
:class:`bot.channels.handoff_streams.HandoffStreams`), never the service's keys.
While a ticket is open, each customer message is appended to ``handoff:customer``
(Redis, before anything is acknowledged), from where the service stores it with the
ticket and shows it in the console; the channel still hands it to Rasa, whose
tracker records it (and answers it only in the ``callback`` state). In the other
direction, a consumer of ``handoff:outbound`` (consumer group ``relay``,
at-least-once) applies every transition and records each agent or system text in
the Rasa tracker as ``BotUttered`` (skipping message ids already recorded), delivers
it through the channel the customer uses, and only then acknowledges it:
``queued`` and ``with_agent`` pause the conversation (once), ``bot`` and
``resolved`` resume it and trigger ``EXTERNAL_handoff_returned`` /
``EXTERNAL_handoff_resolved``.

Several Rasa processes share the ``relay`` group, so consecutive entries of one
conversation may be read by different relays. An entry is therefore handled only
once no earlier entry of its conversation is pending: a relay waits while another
live relay works on one; when one failed or its relay died, the later ones are
left to the reclaim passes, which take idle entries over oldest first. A relay
renews the entries it holds while it works on them, so a slow delivery is never
taken over and sent twice, while the entries of a dead relay are taken over after
``_RECLAIM_IDLE_MS``. A failed entry is retried by the next reclaim pass, and
dropped (the agent told) after ``_MAX_DELIVERIES`` tries.

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
from typing import Any, Awaitable, Callable, ClassVar, Dict, List, Optional, Set

from rasa.core.channels.channel import OutputChannel
from rasa.shared.core.events import BotUttered, ConversationPaused, ConversationResumed

from bot.channels.handoff_streams import HandoffStreams, PendingEntry
from bot.channels.turns import ready_agent
from bot.per_loop import PerLoop
from bot.settings import redis_url
from bot.tasks import stop_task
from bot.untrusted import strip_invisible
from handoff.contract import CALLBACK, FIELD_CHANNEL, FIELD_STATE, FIELD_TICKET, OPEN_STATES, PAUSED_STATES, QUEUED

logger = logging.getLogger(__name__)

OutboundMessage = Dict[str, Any]
Deliverer = Callable[[str, OutboundMessage], Awaitable[Any]]
OutputChannelFactory = Callable[[str], OutputChannel]

EXTERNAL_INTENTS = {"bot": "EXTERNAL_handoff_returned", "resolved": "EXTERNAL_handoff_resolved"}
# An entry left unacknowledged this long by a relay that died is taken over; a live
# relay renews what it holds every third of this, so it keeps its entries.
_RECLAIM_IDLE_MS = 15000
# Reclaim passes (taking over idle entries, oldest first) at least this often.
_RECLAIM_EVERY_S = 5.0
# How long an entry waits for an earlier entry of its conversation held by another
# live relay; then it is left pending and retried later (never handled out of order).
_ORDER_WAIT_S = 30.0
_ORDER_POLL_S = 0.05
# An entry that failed this often (read or taken over each time) is dropped, the
# agent told: its conversation's later entries wait for it until then.
_MAX_DELIVERIES = 10
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
        streams: the handoff contract's keys (default: on ``REDIS_URL``).
        consumer: this relay's consumer name in the ``relay`` group (default: host,
            process id and a random part, so no two relays ever share one).
        reclaim_idle_ms: how long an unacknowledged entry waits before another relay
            takes it over (tests shorten it).
    """

    # one per event loop: Sanic runs one loop per worker process, and tests run
    # several channel servers (several "processes") in one Python process
    _per_loop: ClassVar[PerLoop[HandoffRelay]]

    def __init__(self, streams: Optional[HandoffStreams] = None, consumer: Optional[str] = None, reclaim_idle_ms: int = _RECLAIM_IDLE_MS) -> None:
        self._streams = streams
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.reclaim_idle_ms = reclaim_idle_ms
        self.deliverers: Dict[str, Deliverer] = {}
        self.output_channels: Dict[str, OutputChannelFactory] = {}
        self.app: Any = None
        self._task: Optional[asyncio.Task] = None
        self._renewer: Optional[asyncio.Task] = None
        self._stopping = False
        self._last_typing: Dict[str, float] = {}
        # entries this relay holds and means to handle: renewed until done or given up
        self._holding: Set[str] = set()
        # conversation of entries seen (entries never change), to check the order cheaply
        self._conversation_of: Dict[str, str] = {}

    @classmethod
    def instance(cls) -> HandoffRelay:
        """The relay of this process (of the running event loop), created on first use."""
        return cls._per_loop.current()

    @classmethod
    def of_loop(cls, loop: asyncio.AbstractEventLoop) -> Optional[HandoffRelay]:
        """The relay created on ``loop``, if any (to stop it after the loop stopped)."""
        return cls._per_loop.of_loop(loop)

    @property
    def streams(self) -> HandoffStreams:
        if self._streams is None:
            self._streams = HandoffStreams(redis_url())
        return self._streams

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
            self._task = asyncio.create_task(self._consume(), name=f"relay-{self.consumer}")
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name=f"relay-renew-{self.consumer}")

    async def stop(self) -> None:
        """Stop consuming (bounded: see :mod:`bot.tasks`)."""
        self._stopping = True
        task, self._task = self._task, None
        renewer, self._renewer = self._renewer, None
        await stop_task(task)
        await stop_task(renewer)

    # ------------------------------------------------------------ customer side
    async def on_customer_message(
        self,
        channel: str,
        sender_id: str,
        text: str,
        message_id: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
    ) -> bool:
        """Send a customer message to the ticket while one is open.

        Returns:
            True when a person has the conversation (``queued`` or ``with_agent``): the
            message is persisted and on its way to the console, and the bot is paused
            (the channel still passes it to Rasa so the tracker records it). False
            otherwise, also in the ``callback`` state, where the message joins the
            ticket for the colleague who will call but the bot answers it.
        """
        ticket = await self.streams.conversation(sender_id)
        if ticket is None or ticket.get(FIELD_STATE) not in OPEN_STATES:
            return False
        # the agent must read what the customer wrote in the order it was written:
        # invisible bidi / zero-width controls go (channels strip them too; this is
        # the door into the handoff, whatever channel calls it)
        await self.streams.send_customer(
            "message", sender_id, ticket.get(FIELD_TICKET, ""), channel, strip_invisible(text),
            message_id=message_id, metadata=metadata,
        )
        return ticket.get(FIELD_STATE) in PAUSED_STATES

    async def on_customer_typing(self, channel: str, sender_id: str) -> None:
        """Show the agent that the customer is typing (throttled, not persisted)."""
        now = time.monotonic()
        if now - self._last_typing.get(sender_id, 0.0) < _TYPING_EVERY_S:
            return
        self._last_typing[sender_id] = now
        ticket = await self.streams.conversation(sender_id)
        if ticket and ticket.get(FIELD_STATE) in OPEN_STATES:
            await self.streams.send_customer("typing", sender_id, ticket.get(FIELD_TICKET, ""), channel)

    # ------------------------------------------------------------- agent side
    async def _consume(self) -> None:
        """Read, record, deliver, acknowledge; forever, surviving Redis restarts."""
        last_reclaim = 0.0
        while not self._stopping:
            try:
                await self.streams.ensure_relay_group()
                if time.monotonic() - last_reclaim > min(_RECLAIM_EVERY_S, self.reclaim_idle_ms / 1000):
                    last_reclaim = time.monotonic()
                    await self._handle_batch(await self._reclaim())
                await self._handle_batch(await self.streams.read_outbound(self.consumer, block_ms=2000))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis restarting or a bad entry: retry shortly
                if self._stopping:
                    return
                logger.exception("handoff relay: consumer error, retrying")
                await asyncio.sleep(0.5)

    async def _reclaim(self) -> List[Any]:
        """Entries this or a dead relay read but never acknowledged (oldest first)."""
        return await self.streams.reclaim_outbound(self.consumer, self.reclaim_idle_ms)

    async def _renew(self) -> None:
        """Keep the entries this relay holds from being reclaimed while it works on them."""
        while not self._stopping:
            await asyncio.sleep(self.reclaim_idle_ms / 3000)
            try:
                await self.streams.touch_outbound(self.consumer, sorted(self._holding))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis restarting: the next round renews
                if self._stopping:
                    return
                logger.warning("handoff relay: could not renew %d entries", len(self._holding), exc_info=True)

    def _remember(self, entry_id: str, message: OutboundMessage) -> None:
        if len(self._conversation_of) > 10000:
            self._conversation_of.clear()
        self._conversation_of[entry_id] = str(message.get("conversation_id", ""))

    async def _handle_batch(self, entries: List[Any]) -> None:
        """Conversations in parallel, each conversation's entries in order."""
        by_conversation: Dict[str, List[Any]] = {}
        for entry_id, message in entries:
            self._remember(entry_id, message)
            self._holding.add(entry_id)
            by_conversation.setdefault(str(message.get("conversation_id", "")), []).append((entry_id, message))

        async def in_order(items: List[Any]) -> None:
            try:
                for position, (entry_id, message) in enumerate(items):
                    if not await self._handle_in_order(entry_id, message):
                        # the later ones must not overtake it: they are retried after it
                        await self._retry_later([entry for entry, _ in items[position:]])
                        return
            finally:
                self._holding.difference_update(entry for entry, _ in items)

        await asyncio.gather(*(in_order(items) for items in by_conversation.values()))

    async def _earlier_pending(self, entry_id: str, conversation_id: str) -> List[PendingEntry]:
        """Unacknowledged entries of ``conversation_id`` older than ``entry_id``, oldest first."""
        pending = await self.streams.pending_outbound(last=f"({entry_id}")
        unknown = [p.entry_id for p in pending if p.entry_id not in self._conversation_of]
        if unknown:
            for other_id, message in (await self.streams.outbound_messages(unknown)).items():
                self._remember(other_id, message)
        return [p for p in pending if self._conversation_of.get(p.entry_id) == conversation_id]

    async def _handle_in_order(self, entry_id: str, message: OutboundMessage) -> bool:
        """Handle an entry once no earlier entry of its conversation is pending.

        While another live relay works on an earlier one (it renews it), wait for it, at
        most ``_ORDER_WAIT_S``. An earlier one that failed or whose relay died is retried
        by the next reclaim pass, which takes the entries over oldest first: this one
        waits for that pass instead of going first.

        Returns:
            True when the entry was acknowledged; False when it stays pending.
        """
        conversation_id = str(message.get("conversation_id", ""))
        deadline = time.monotonic() + _ORDER_WAIT_S
        while True:
            earlier = await self._earlier_pending(entry_id, conversation_id)
            if not earlier:
                return await self._handle(entry_id, message)
            worked_on = [p for p in earlier if p.consumer != self.consumer and p.idle_ms < self.reclaim_idle_ms]
            if len(worked_on) < len(earlier):
                return False  # one failed or was left by a dead relay: the reclaim pass goes in order
            if time.monotonic() > deadline:
                logger.warning("handoff relay: entry %s still waits for %s (%s); retried later", entry_id, earlier[0].entry_id, earlier[0].consumer)
                return False
            await asyncio.sleep(_ORDER_POLL_S)

    async def _retry_later(self, entry_ids: List[str]) -> None:
        """Leave entries to the next reclaim pass (by any relay), in their order."""
        self._holding.difference_update(entry_ids)
        try:
            await self.streams.touch_outbound(self.consumer, entry_ids, idle_ms=self.reclaim_idle_ms)
        except Exception:  # noqa: BLE001 - they are reclaimed once idle anyway
            logger.warning("handoff relay: could not mark %d entries for a retry", len(entry_ids), exc_info=True)

    async def _handle(self, entry_id: str, message: OutboundMessage) -> bool:
        """Process and acknowledge one entry; False when it failed (left for a retry)."""
        try:
            await self.process(message)
        except DeliveryRefused as refusal:
            await self._tell_agent(message, f"لم تصل الرسالة إلى العميل: {refusal}", {"delivery_refused": message.get("id"), "reason": str(refusal)})
        except Exception:  # noqa: BLE001 - left unacknowledged: retried by a reclaim pass
            logger.exception("handoff relay: entry %s not delivered; will retry", entry_id)
            if not await self._given_up(entry_id, message):
                return False
        await self.streams.ack_outbound(entry_id)
        return True

    async def _given_up(self, entry_id: str, message: OutboundMessage) -> bool:
        """After ``_MAX_DELIVERIES`` failures an entry is dropped (the agent is told), so that
        one entry that can never be handled does not hold up its conversation for ever."""
        pending = await self.streams.pending_outbound(entry_id, entry_id, count=1)
        if not pending or pending[0].deliveries < _MAX_DELIVERIES:
            return False
        logger.error("handoff relay: entry %s failed %d times; dropped", entry_id, pending[0].deliveries)
        if message.get("kind") != "typing":
            await self._tell_agent(message, "تعذّر إيصال هذه الرسالة إلى العميل بعد عدة محاولات.", {"delivery_failed": message.get("id")})
        return True

    async def _tell_agent(self, message: OutboundMessage, text: str, data: Dict[str, Any]) -> None:
        """A system event in the ticket (the service adds it): the console shows the agent what did not arrive."""
        if message.get("ticket_id"):
            await self.streams.send_customer(
                "relay_notice", str(message.get("conversation_id", "")), str(message["ticket_id"]),
                str(message.get("channel", "")), text, metadata=data,
            )

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
        if kind == "state" and state in (QUEUED, CALLBACK):
            # a new ticket: the action already told the customer; only the pause is applied
            if state == QUEUED:
                await self._record(message)
            return
        if message.get("text") or (kind == "state" and state in PAUSED_STATES):
            await self._record(message)
        if deliver is None:
            logger.warning("handoff relay: no deliverer for channel %r (conversation %s)", channel, conversation_id)
            return
        await deliver(conversation_id, message)

    async def _channel_of(self, conversation_id: str) -> str:
        ticket = await self.streams.conversation(conversation_id)
        return str(ticket.get(FIELD_CHANNEL, "")) if ticket else ""

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
        takes_over = message.get("kind") == "state" and message.get("state") in PAUSED_STATES
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
                            "relay": self.consumer,  # which process delivered it
                        }
                    },
                )
            )
            await agent.tracker_store.save(tracker)

    async def _resume(self, message: OutboundMessage, channel: str, deliver: Optional[Deliverer]) -> None:
        """Give the conversation back to the bot and let it speak (once per control id)."""
        if await self.streams.was_relayed(message["id"]):
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
        await self.streams.mark_relayed(message["id"])


HandoffRelay._per_loop = PerLoop(HandoffRelay)
