"""What agents and services can do with tickets, independent of HTTP.

Each operation persists first (ticket hash, event stream) and only then queues
the customer-facing message on ``handoff:outbound``, so an acknowledged action
is never lost, and tells the consoles through the feed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from typing import Any, Dict

from handoff.contract import (
    CALLBACK,
    CUSTOMER,
    CUSTOMER_CONVERSATION,
    CUSTOMER_KIND,
    CUSTOMER_MESSAGE_ID,
    CUSTOMER_METADATA,
    CUSTOMER_TEXT,
    CUSTOMER_TICKET,
    INBOX,
    INBOX_OFFLINE_ID,
    INBOX_TICKET,
    OPEN_STATES,
    QUEUED,
    WITH_AGENT,
)
from handoff.payloads import PayloadError, validate_ticket
from handoff.settings import HandoffSettings, QueueConfig
from handoff.store import HandoffStore, StoreError
from handoff.waiting import callback_eta, estimated_wait_seconds, local_now, position_message, within_duty_hours

logger = logging.getLogger(__name__)


class HandoffService:
    """Ticket operations on top of :class:`HandoffStore`.

    Args:
        store: the Redis store.
        settings: service settings.
        config: queue rules (SLA, handle time, duty hours, update interval).
    """

    def __init__(self, store: HandoffStore, settings: HandoffSettings, config: QueueConfig) -> None:
        self.store = store
        self.settings = settings
        self.config = config
        self._last_update: Dict[str, float] = {}

    # ---------------------------------------------------------------- waiting
    async def waiting_info(self, ticket_id: str) -> Dict[str, Any]:
        """Position, estimated wait, agents on duty and callback time of a ticket."""
        position = await self.store.position(ticket_id) or 0
        on_duty = len(await self.store.agents_on_duty(self.config.heartbeat_seconds))
        now = local_now(self.settings.timezone)
        callback = callback_eta(now, on_duty, self.config)
        return {
            "position": position,
            "estimated_wait_s": estimated_wait_seconds(position, on_duty, self.config),
            "agents_on_duty": on_duty,
            "callback_eta": callback.isoformat() if callback else None,
            # "out of hours" is said only when it is true; within duty hours nobody
            # is free right now, which is a different promise
            "within_duty_hours": within_duty_hours(now, self.config),
        }

    async def open_ticket(self, payload: Dict[str, Any], offline: bool = False) -> Dict[str, Any]:
        """Create (or find) the conversation's ticket and say where it stands.

        The service decides the new ticket's state: ``queued`` when an agent is on duty
        (the bot falls silent), ``callback`` when nobody is, or when the ticket was
        promised while the service was unreachable (``offline``: the customer was told a
        colleague will contact them, and the bot kept answering). The state entry on
        ``handoff:outbound`` lets every Rasa process apply it (the relay pauses a queued
        conversation, idempotently, if the action has not already).
        """
        on_duty = len(await self.store.agents_on_duty(self.config.heartbeat_seconds))
        state = CALLBACK if offline or on_duty == 0 else QUEUED
        ticket, created = await self.store.create_ticket(payload, state=state)
        if created:
            await self.store.push_outbound(ticket, "state", "", state=ticket["state"])
        info = await self.waiting_info(ticket["ticket_id"])
        return {"ticket_id": ticket["ticket_id"], "created": created, "state": ticket["state"], **info}

    # ----------------------------------------------------------------- agents
    async def claim(self, ticket_id: str, agent: str, agent_name: str) -> Dict[str, Any]:
        ticket = await self.store.claim(ticket_id, agent)
        await self.store.push_outbound(
            ticket, "state", f"معك الآن {agent_name} من فريق خدمة العملاء.", state=WITH_AGENT, agent_name=agent_name
        )
        await self._ticket_changed(ticket)
        return ticket

    async def send_message(self, ticket_id: str, agent: str, agent_name: str, text: str) -> Dict[str, Any]:
        """An agent's reply: stored in the ticket's stream, then queued for the customer."""
        ticket = await self._held(ticket_id, agent)
        event = await self.store.add_event(ticket_id, "message", "agent", text, agent=agent, data={"agent_name": agent_name})
        # derived from the stream id, so a retried delivery keeps the same id
        await self.store.push_outbound(ticket, "agent", text, id=f"{ticket_id}@{event.id}", agent_name=agent_name)
        return event.as_dict()

    async def add_note(self, ticket_id: str, agent: str, text: str) -> Dict[str, Any]:
        """An internal note: colleagues see it, the customer never does."""
        await self.store.require_ticket(ticket_id)
        event = await self.store.add_event(ticket_id, "note", "agent", text, agent=agent)
        return event.as_dict()

    async def agent_typing(self, ticket_id: str, agent: str, agent_name: str) -> None:
        ticket = await self._held(ticket_id, agent)
        await self.store.push_outbound(ticket, "typing", "", agent_name=agent_name)

    async def transfer(self, ticket_id: str, agent: str, role: str, target: str) -> Dict[str, Any]:
        """Hand a ticket to another agent (supervisors may move any open ticket)."""
        account = await self.store.get_account(target)
        if account is None or account.get("role") not in ("agent", "supervisor"):
            raise StoreError(422, "unknown_agent", target)
        holder = "" if role == "supervisor" else agent
        await self.store.transition(
            ticket_id, allowed=OPEN_STATES, new_state=WITH_AGENT, holder=holder, new_agent=target,
            fields={"claimed_ms": int(time.time() * 1000)},
        )
        ticket = await self.store.require_ticket(ticket_id)
        await self.store.add_event(ticket_id, "state", "system", "", agent=agent, data={"state": WITH_AGENT, "to": target})
        name = account.get("name") or target
        await self.store.push_outbound(ticket, "state", f"حوّلت محادثتك إلى زميلي {name}، وسيكمل معك.", state=WITH_AGENT, agent_name=name)
        await self._ticket_changed(ticket)
        return ticket

    async def close(self, ticket_id: str, agent: str, role: str, new_state: str) -> Dict[str, Any]:
        """Return the conversation to the bot (``bot``) or resolve it (``resolved``)."""
        holder = "" if role == "supervisor" else agent
        await self.store.transition(
            ticket_id, allowed=OPEN_STATES, new_state=new_state, holder=holder,
            fields={"closed_ms": int(time.time() * 1000), "closed_by": agent},
        )
        ticket = await self.store.require_ticket(ticket_id)
        await self.store.add_event(ticket_id, "state", "system", "", agent=agent, data={"state": new_state})
        # retention (RETENTION_DAYS_TICKETS) counts from closing
        await self.store.expire_closed(ticket_id)
        await self.store.push_outbound(ticket, "state", "", state=new_state)
        await self._ticket_changed(ticket)
        return ticket

    async def _held(self, ticket_id: str, agent: str) -> Dict[str, Any]:
        ticket = await self.store.require_ticket(ticket_id)
        if ticket["state"] != WITH_AGENT:
            raise StoreError(409, "wrong_state", ticket["state"])
        if ticket["agent"] != agent:
            raise StoreError(403, "not_your_ticket", ticket["agent"])
        return ticket

    async def _ticket_changed(self, ticket: Dict[str, Any]) -> None:
        await self.store.publish(ticket["ticket_id"], "ticket_updated", {"ticket": self.store.summary(ticket)})

    # ------------------------------------------------------ position updates
    async def send_position_updates(self) -> int:
        """Tell each customer waiting longer than the interval where they are.

        Returns:
            How many updates were queued.
        """
        interval = self.config.position_update_seconds
        now = time.time()
        sent = 0
        for summary in await self.store.queue():
            if summary["state"] != QUEUED:
                continue  # a callback was promised; the bot is still answering them
            ticket_id = summary["ticket_id"]
            last = self._last_update.get(ticket_id, summary["created_ms"] / 1000)
            if now - last < interval:
                continue
            self._last_update[ticket_id] = now
            info = await self.waiting_info(ticket_id)
            if not info["position"]:
                continue
            callback = datetime.fromisoformat(info["callback_eta"]) if info["callback_eta"] else None
            text = position_message(info["position"], info["estimated_wait_s"], callback)
            await self.store.add_event(ticket_id, "system", "system", text, data={"state": QUEUED, **info})
            await self.store.push_outbound(summary, "system", text, state=QUEUED, position=info["position"])
            sent += 1
        waiting = {item["ticket_id"] for item in await self.store.queue()}
        for ticket_id in set(self._last_update) - waiting:
            del self._last_update[ticket_id]
        return sent

    async def replay_offline(self, consumer: str = "handoff-service") -> int:
        """Open the tickets the action server queued while this service was unreachable.

        The customer was promised a colleague (a ``T-…`` ticket); the ticket now joins
        the agents' queue like any other (idempotent per conversation, so a replay after
        a crash opens nothing twice), with a note of the number the customer was given.

        Returns:
            How many inbox entries were handled.
        """
        handled = 0
        for pending in (True, False):
            for entry_id, fields in await self.store.read_inbox(consumer, block_ms=1000, pending=pending):
                try:
                    payload = validate_ticket(json.loads(fields.get(INBOX_TICKET) or ""), self.settings.max_message_chars)
                except (PayloadError, ValueError):
                    logger.error("handoff inbox: entry %s is not a valid ticket; dropped", entry_id)
                    await self.store.ack_group(INBOX, entry_id)
                    continue
                result = await self.open_ticket(payload, offline=True)
                offline = fields.get(INBOX_OFFLINE_ID) or ""
                if result["created"]:
                    await self.store.add_event(
                        result["ticket_id"], "system", "system",
                        f"فُتحت هذه التذكرة أثناء تعذّر الوصول إلى الخدمة؛ رقمها لدى العميل {offline}.",
                        data={"offline_ticket": offline},
                    )
                await self.store.ack_group(INBOX, entry_id)
                handled += 1
        return handled

    async def take_customer_messages(self, consumer: str = "handoff-service") -> int:
        """Store what customers wrote while their ticket is open (``handoff:customer``).

        The Rasa side appends each message before the bot sees it; here it joins the
        ticket's events (once per channel message id: a channel's retry is dropped) and
        the consoles' feed. A message whose ticket has closed meanwhile went to the bot,
        which answers it; it is acknowledged and dropped here.

        Returns:
            How many entries were handled.
        """
        handled = 0
        for pending in (True, False):
            for entry_id, fields in await self.store.read_customer(consumer, block_ms=1000, pending=pending):
                await self._customer_entry(fields)
                await self.store.ack_group(CUSTOMER, entry_id)
                handled += 1
        return handled

    async def _customer_entry(self, fields: Dict[str, str]) -> None:
        if fields.get(CUSTOMER_KIND) == "relay_notice":
            # what the relay could not deliver (WhatsApp's 24-hour window, repeated failures)
            ticket_id = fields.get(CUSTOMER_TICKET, "")
            if await self.store.get_ticket(ticket_id):
                await self.store.add_event(ticket_id, "system", "system", fields.get(CUSTOMER_TEXT, ""), data=_json_object(fields.get(CUSTOMER_METADATA)))
            return
        ticket = await self.store.open_ticket(fields.get(CUSTOMER_CONVERSATION, ""))
        if ticket is None or ticket["state"] not in OPEN_STATES:
            return
        ticket_id, channel = ticket["ticket_id"], ticket.get("channel", "")
        if fields.get(CUSTOMER_KIND) == "typing":
            await self.store.publish(ticket_id, "typing", {"role": "customer", "channel": channel})
            return
        message_id = fields.get(CUSTOMER_MESSAGE_ID) or ""
        if message_id and not await self.store.claim_message_id(ticket_id, message_id):
            return  # a channel's retry of a message already stored
        data: Dict[str, Any] = {"channel": channel}
        if message_id:
            data["message_id"] = message_id
        metadata = _json_object(fields.get(CUSTOMER_METADATA))
        if metadata:
            data["metadata"] = metadata
        await self.store.add_event(ticket_id, "message", "customer", fields.get(CUSTOMER_TEXT, ""), data=data)

    async def inbox_loop(self) -> None:
        """Run :meth:`replay_offline` forever (a background task of the app)."""
        await self._forever(self.replay_offline, "handoff inbox replay failed")

    async def customer_loop(self) -> None:
        """Run :meth:`take_customer_messages` forever (a background task of the app)."""
        await self._forever(self.take_customer_messages, "customer messages not stored")

    @staticmethod
    async def _forever(step: Any, failure: str) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis down: try again shortly
                logger.exception(failure)
                await asyncio.sleep(1.0)

    async def position_loop(self) -> None:
        """Run :meth:`send_position_updates` forever (a background task of the app)."""
        while True:
            try:
                await self.send_position_updates()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - Redis down: try again next round
                logger.exception("position updates failed")
            await asyncio.sleep(max(1.0, self.config.position_update_seconds / 4))


def _json_object(raw: Any) -> Dict[str, Any]:
    """A JSON object written by the Rasa side; anything else is empty."""
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
