"""The bot's side of a handoff to a person: the ticket goes out, the bot pauses, it comes back.

``action_handoff`` builds a ticket from the conversation (actions/handoff_ticket.py),
sends it to the handoff service (``POST /api/internal/tickets``, see
handoff/PROTOCOL.md; actions/handoff_client.py), pauses the bot and tells the
customer their place in the queue and an honest wait (actions/handoff_wording.py).
With nobody on duty it offers a callback instead of a wait; with the service down
it keeps the ticket in the Redis ticket store so a colleague can still pick it up,
and says so.

When the agent gives the conversation back, the relay triggers
``EXTERNAL_handoff_returned`` (the bot says it is back) or
``EXTERNAL_handoff_resolved`` (the bot asks for a 1-5 rating and an optional
comment next: actions/handoff_rating.py).

Every sentence comes from the reply catalogue (actions/knowledge/replies.yml);
names of services and districts from the knowledge files.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any, List, Mapping

import redis
from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import settings
from actions.handoff_client import HandoffClient, HandoffUnavailable
from actions.handoff_ticket import build_ticket, fallback_ticket
from actions.handoff_wording import callback_words, queue_words, wait_words
from actions.knowledge_base import KnowledgeBase, get_knowledge_base
from actions.tickets import get_ticket_store
from bot import escalation
from handoff.contract import CALLBACK, INBOX, INBOX_MAXLEN, INBOX_OFFLINE_ID, INBOX_TICKET

logger = logging.getLogger(__name__)

# Every way out of a handoff (queued, returned, resolved) clears these, so the
# next handoff is judged afresh rather than on an old decision.
_CLEAR_ESCALATION = [
    SlotSet("handoff_offered", False),
    SlotSet("escalation_reasons", None),
    SlotSet("escalation_priority", None),
    SlotSet("escalation_evidence", None),
]


class ActionHandoff(Action):
    """Hands the conversation to a colleague (see the module docstring).

    The reasons and priority come from EscalationPolicy (slots
    ``escalation_reasons`` / ``escalation_priority``); when a rule started the
    handoff instead (the customer asked, or accepted the offer of a person),
    they are derived from the conversation with the same escalation.yml.
    """

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        ticket = build_ticket(tracker, kb)
        # The conversation leaves the bot: close any open form and clear the
        # escalation slots so the next handoff is judged afresh.
        events: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None), *_CLEAR_ESCALATION]
        # A danger or an essential outage already opened with a lead; otherwise the
        # handoff message itself acknowledges or apologises to an upset customer.
        empathetic = not (self._safety_lead(dispatcher, tracker, kb, ticket) or self._outage_lead(dispatcher, tracker, kb, ticket))
        now = settings.now()
        try:
            receipt = await HandoffClient.from_settings().create_ticket(ticket)
        except HandoffUnavailable as error:
            logger.warning("handoff service unavailable, keeping the ticket in Redis: %s", error)
            return events + self._record_offline(dispatcher, tracker, kb, ticket, now, empathetic)

        events.append(SlotSet("handoff_ticket_id", receipt.ticket_id))
        if receipt.state == CALLBACK:
            # The service decided nobody can chat now: a callback, and the bot stays available meanwhile.
            kb.say(
                dispatcher, tracker, "handoff_callback_off_hours" if receipt.within_duty_hours is False else "handoff_callback_busy",
                ticket=receipt.ticket_id, callback=callback_words(kb, receipt.callback_eta, now), empathetic=empathetic,
            )
            return events
        kb.say(
            dispatcher, tracker, "handoff_queued",
            ticket=receipt.ticket_id, queue=queue_words(kb, receipt.position), wait=wait_words(kb, receipt.estimated_wait_s),
            empathetic=empathetic,
        )
        # A paused bot predicts nothing, so Rasa would never log its action_listen:
        # log it here, so that the customer's messages to the colleague and the
        # relay's EXTERNAL_ intent on return are ordinary user turns that the
        # rules (intent after action_listen) can match.
        return events + [ConversationPaused(), ActionExecuted("action_listen")]

    @staticmethod
    def _safety_lead(dispatcher: CollectingDispatcher, tracker: Tracker, kb: KnowledgeBase, ticket: Mapping[str, Any]) -> bool:
        """A danger around the supply: say how to stay safe before anything else.

        Returns:
            Whether the lead was said.
        """
        if escalation.SAFETY not in ticket["reasons"]:
            return False
        kb.say(dispatcher, tracker, "handoff_safety_lead")
        return True

    @staticmethod
    def _outage_lead(dispatcher: CollectingDispatcher, tracker: Tracker, kb: KnowledgeBase, ticket: Mapping[str, Any]) -> bool:
        """An essential service is out: say first that this is why a person takes over.

        Returns:
            Whether the lead was said.
        """
        service = kb.service(ticket["slots"].get("service_type"))
        if escalation.ESSENTIAL_OUTAGE not in ticket["reasons"] or service is None:
            return False
        district = ticket["slots"].get("district")
        place = kb.replies.fragment("summary_place_in", district=district) if district else ""
        kb.say(dispatcher, tracker, "handoff_outage_lead", service_name=service.name, place=place, empathetic=True)
        return True

    @staticmethod
    def _record_offline(
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        kb: KnowledgeBase,
        ticket: Mapping[str, Any],
        now: datetime,
        empathetic: bool,
    ) -> List[EventType]:
        """Keep the ticket in the Redis ticket store and say honestly what happens."""
        try:
            store = get_ticket_store()
            stored = store.create("handoff", conversation_id=tracker.sender_id, **fallback_ticket(ticket))
            # the service opens it in the agents' queue once it is back (handoff/contract.py)
            store.client.xadd(
                INBOX, {INBOX_TICKET: json.dumps(ticket, ensure_ascii=False), INBOX_OFFLINE_ID: stored.id},
                maxlen=INBOX_MAXLEN, approximate=True,
            )
        except redis.RedisError as error:
            logger.exception("ticket store unavailable too: %s", error)
            kb.say(dispatcher, tracker, "system_unavailable")
            return []
        kb.say(dispatcher, tracker, "handoff_offline", ticket=stored.id, eta=kb.handoff_eta(now), empathetic=empathetic)
        return []


class ActionHandoffReturned(Action):
    """A colleague gave the conversation back to the bot: say so and carry on."""

    def name(self) -> str:
        return "action_handoff_returned"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        get_knowledge_base().say(dispatcher, tracker, "handoff_returned")
        return [SlotSet("handoff_ticket_id", None), *_CLEAR_ESCALATION]


class ActionHandoffResolved(Action):
    """A colleague resolved the request: the bot is back and asks for a rating next."""

    def name(self) -> str:
        return "action_handoff_resolved"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        ticket_id = next(tracker.get_latest_entity_values("handoff_ticket_id"), None) or tracker.get_slot("handoff_ticket_id")
        get_knowledge_base().say(dispatcher, tracker, "handoff_resolved")
        return [
            SlotSet("handoff_ticket_id", ticket_id),
            SlotSet("rating", None),
            SlotSet("rating_comment", None),
            *_CLEAR_ESCALATION,
        ]
