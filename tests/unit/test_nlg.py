"""Responses never repeat the sentence the customer has just read."""

import asyncio

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.nlg import NonRepeatingNLG, choose_variant

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
slots:
  district:
    type: text
    mappings:
      - type: custom
responses:
  utter_greet:
    - text: "أهلاً"
    - text: "مرحباً"
    - text: "حيّاك الله"
  utter_only:
    - text: "جملة وحيدة"
  utter_district:
    - text: "حي {district}"
"""
)


def _tracker(*bot_texts):
    tracker = DialogueStateTracker("u1", DOMAIN.slots)
    for text in bot_texts:
        tracker.update(UserUttered("مرحبا"))
        tracker.update(BotUttered(text))
    return tracker


@pytest.mark.parametrize("previous", ["أهلاً", "مرحباً", "حيّاك الله"])
def test_never_the_same_variant_twice_in_a_row(previous):
    nlg = NonRepeatingNLG(domain=DOMAIN)
    tracker = _tracker(previous)
    seen = {asyncio.run(nlg.generate("utter_greet", tracker, "rest"))["text"] for _ in range(40)}
    assert previous not in seen
    assert len(seen) == 2  # still varies between the others


def test_a_single_variant_is_still_sent():
    nlg = NonRepeatingNLG(domain=DOMAIN)
    assert asyncio.run(nlg.generate("utter_only", _tracker("جملة وحيدة"), "rest"))["text"] == "جملة وحيدة"


def test_slots_and_kwargs_are_filled():
    nlg = NonRepeatingNLG(domain=DOMAIN)
    tracker = _tracker()
    tracker._set_slot("district", "النرجس")
    assert asyncio.run(nlg.generate("utter_district", tracker, "rest"))["text"] == "حي النرجس"


def test_unknown_response_gives_none():
    assert asyncio.run(NonRepeatingNLG(domain=DOMAIN).generate("utter_missing", _tracker(), "rest")) is None


def test_choose_variant_falls_back_when_all_are_equal():
    assert choose_variant([{"text": "a"}], "a") == {"text": "a"}
    assert choose_variant([], None) is None
