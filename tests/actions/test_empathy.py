"""Which lead (none, acknowledgement, apology) the customer's message earns."""

import pytest

from actions import empathy


def message(text, level, score, calm):
    probabilities = {"calm": calm, "annoyed": max(0.0, 1 - calm - max(0.0, score - (1 - calm) / 2)), "angry": 0.0}
    return {"text": text, "signals": {"frustration": {"level": level, "score": score, "probabilities": probabilities}}}


@pytest.mark.parametrize(
    "latest, running, level",
    [
        (message("دفعت الفاتورة امس وما ظهرت", "annoyed", 0.3, 0.4), None, "calm"),  # a polite report, annoyed by a nose
        (message("ثالث مرة اكلمكم وما احد رد علي", "annoyed", 0.45, 0.1), None, "annoyed"),
        (message("I'm moving house next month", "angry", 0.55, 0.05), None, "annoyed"),  # angry by a nose: no apology
        (message("انتم حرامية!!!", "angry", 0.97, 0.01), None, "angry"),
        (message("لا", "annoyed", 0.4, 0.1), None, "calm"),  # a short reply has no mood of its own
        # nor does it carry the conversation's: an account number or a code after an
        # annoyed report gets its answer without a second "I understand"
        (message("4471203", "calm", 0.0, 0.9), 0.5, "calm"),
        # a calm message with words of its own in an annoyed conversation is acknowledged
        (message("طيب ومتى يرجع المبلغ؟", "calm", 0.1, 0.8), 0.5, "annoyed"),
        ({"text": "متى تفتحون؟"}, None, "calm"),
        # a routine request is upset only when its words show it too
        ({**message("I'm moving house next month، كيف انقل الخدمة؟", "angry", 0.78, 0.05), "intent": {"name": "move_service"}}, None, "calm"),
        ({**message("ثالث مرة اطلب انقل الخدمة!!", "angry", 0.9, 0.02), "intent": {"name": "move_service"}}, None, "angry"),
        ({**message("طلبت انقل الخدمة", "calm", 0.1, 0.8), "intent": {"name": "move_service"}}, 0.5, "annoyed"),  # the conversation's mood still counts
    ],
)
def test_the_level_the_assistant_answers_to(latest, running, level):
    assert empathy.frustration_level(latest, running) == level
