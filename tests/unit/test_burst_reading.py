"""Which parse the last message of a burst is understood by (bot/channels/turns.py)."""

from __future__ import annotations

from typing import Any, Dict

from bot.channels.turns import choose_reading


def parse(intent: str, confidence: float, text: str, **entities: str) -> Dict[str, Any]:
    return {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": [{"entity": k, "value": v} for k, v in entities.items()]}


def test_a_surer_joined_reading_wins_even_with_another_intent() -> None:
    alone = parse("inform", 0.55, "مقطوع")
    joined = parse("report_outage", 0.93, "الماي مقطوع", service_type="water")
    assert choose_reading(alone, joined) is joined


def test_the_same_intent_about_as_sure_is_read_together_for_its_entities() -> None:
    alone = parse("report_outage", 0.9999998880, "مقطوعة من الصبح عندنا")
    joined = parse("report_outage", 0.9999998382, "الكهرباء مقطوعة من الصبح عندنا", service_type="electricity")
    assert choose_reading(alone, joined) is joined


def test_a_less_sure_or_different_reading_leaves_the_last_message_alone() -> None:
    question = parse("bot_challenge", 1.0, "هل أنت روبوت؟")
    assert choose_reading(question, parse("bot_challenge", 0.80, "السلام عليكم هل أنت روبوت؟")) is question
    assert choose_reading(question, parse("greet", 1.0, "السلام عليكم هل أنت روبوت؟")) is question
