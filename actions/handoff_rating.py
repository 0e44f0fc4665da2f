"""The rating after a resolved handoff: the form that asks for it, and its submission.

``action_handoff_resolved`` (actions/handoff.py) clears the rating slots; the
``rating_form`` then asks for a 1-5 rating and an optional comment, and
``action_submit_rating`` posts them to the handoff service
(``POST /api/internal/tickets/<id>/rating``, handoff/PROTOCOL.md) and thanks the
customer. Reading a rating from free text is :mod:`actions.rating`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff_client import HandoffClient, HandoffUnavailable
from actions.knowledge_base import get_knowledge_base
from actions.rating import parse_rating

logger = logging.getLogger(__name__)

# A rating comment longer than this is cut (the rest is not worth a failed call).
MAX_COMMENT_CHARS = 1000


def _asked(tracker: Tracker, slot: str) -> bool:
    return tracker.get_slot("requested_slot") == slot


def _latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


# Intents that answer the rating question without being a rating ("ok", "thanks"):
# the customer is asked again rather than sent elsewhere.
_ANSWER_INTENTS = {"inform", "nlu_fallback", "affirm", "thank"}


class ValidateRatingForm(FormValidationAction):
    """Reads the rating (button, digit in any script, number word) and the comment."""

    def name(self) -> str:
        return "validate_rating_form"

    async def extract_rating(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        if not _asked(tracker, "rating"):
            return {}
        button = next(tracker.get_latest_entity_values("rating"), None)
        if button is not None:
            return {"rating": button}
        text = str((tracker.latest_message or {}).get("text") or "").strip()
        if parse_rating(text) is not None:
            return {"rating": text}
        intent = _latest_intent(tracker)
        if intent == "deny":
            return {"rating": 0, "rating_comment": ""}  # declines to rate: nothing more to ask
        if intent in _ANSWER_INTENTS:
            return {"rating": text}  # not a rating: validate_rating says what is expected
        return {}  # a new request: let the other policies answer it

    async def extract_rating_comment(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        if not _asked(tracker, "rating_comment"):
            return {}
        text = str((tracker.latest_message or {}).get("text") or "").strip()
        if _latest_intent(tracker) == "deny" or not text or text.startswith("/"):
            return {"rating_comment": ""}  # skipped
        return {"rating_comment": text[:MAX_COMMENT_CHARS]}

    def validate_rating(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        """1-5; 0 means the customer declined to rate."""
        if value == 0:
            return {"rating": 0}
        rating = parse_rating(value)
        if rating is None:
            get_knowledge_base().say(dispatcher, tracker, "rating_invalid")
            return {"rating": None}
        return {"rating": rating}


class ActionAskRating(Action):
    """Asks for a 1-5 rating, with one button per grade."""

    def name(self) -> str:
        return "action_ask_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        get_knowledge_base().say(dispatcher, tracker, "ask_rating")
        return []


class ActionAskRatingComment(Action):
    """Asks for an optional comment, with a button to skip it."""

    def name(self) -> str:
        return "action_ask_rating_comment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        get_knowledge_base().say(dispatcher, tracker, "ask_rating_comment")
        return []


class ActionSubmitRating(Action):
    """Posts the rating (and comment) to the ticket and thanks the customer."""

    def name(self) -> str:
        return "action_submit_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        kb = get_knowledge_base()
        reset: List[EventType] = [
            SlotSet("rating", None),
            SlotSet("rating_comment", None),
            SlotSet("handoff_ticket_id", None),
            SlotSet("requested_slot", None),
        ]
        rating = parse_rating(tracker.get_slot("rating"))
        if rating is None:  # declined
            kb.say(dispatcher, tracker, "rating_declined")
            return reset
        ticket_id = tracker.get_slot("handoff_ticket_id")
        comment = tracker.get_slot("rating_comment") or None
        if not ticket_id:
            logger.warning("rating %s without a ticket in conversation %s", rating, tracker.sender_id)
        else:
            try:
                await HandoffClient.from_settings().rate(str(ticket_id), rating, comment)
            except HandoffUnavailable as error:
                # Said honestly; the rating is in the tracker (slots and messages) too.
                logger.warning("rating %s for %s not stored: %s", rating, ticket_id, error)
                kb.say(dispatcher, tracker, "rating_not_stored", phone=kb.contact.get("phone", ""))
                return reset
        kb.say(dispatcher, tracker, "rating_thanks_low" if rating <= 2 else "rating_thanks")
        return reset
