"""Response generation that never repeats the same variant twice in a row.

Rasa picks a response variant at random, so a customer can read the very same
sentence twice; that is what makes automated replies feel robotic. This generator
renders every suitable variant and drops those equal to the assistant's last
message before choosing.

Configured in ``endpoints.yml``::

    nlg:
      type: bot.nlg.NonRepeatingNLG
"""

from __future__ import annotations

import copy
import random
from typing import Any, Dict, List, Optional

from rasa.core.nlg.generator import ResponseVariationFilter
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig


def last_bot_text(tracker: DialogueStateTracker) -> Optional[str]:
    """Text of the assistant's most recent message in this conversation."""
    for event in reversed(tracker.events):
        if getattr(event, "type_name", None) == "bot" and getattr(event, "text", None):
            return event.text
    return None


def choose_variant(candidates: List[Dict[str, Any]], previous: Optional[str]) -> Optional[Dict[str, Any]]:
    """A random rendered variant whose text differs from ``previous`` when possible."""
    if not candidates:
        return None
    fresh = [c for c in candidates if c.get("text") != previous] or candidates
    return random.choice(fresh)


class NonRepeatingNLG(TemplatedNaturalLanguageGenerator):
    """Templated responses, minus the variant the customer has just read."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, domain: Optional[Domain] = None) -> None:
        super().__init__(domain.responses if domain else {})

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> Optional[Dict[str, Any]]:
        if utter_action not in self.responses:
            return None
        filled_slots = tracker.current_slot_values()
        variants = ResponseVariationFilter(self.responses).responses_for_utter_action(
            utter_action, output_channel, filled_slots
        )
        rendered = [self._fill_response(copy.deepcopy(v), filled_slots, **kwargs) for v in variants]
        return choose_variant(rendered, last_bot_text(tracker))
