"""Escalation decision, running frustration and the EscalationPolicy."""

from pathlib import Path

import pytest
import yaml

from bot import escalation
from bot.escalation import Decision, MessageView, decide, is_rising, running_frustration

CONFIG = escalation.load_config()


def view(intent="opening_hours", level="calm", score=0.0, service="none", urgency=0.0, entities=()):
    return MessageView(intent, level, score, service, urgency, tuple(entities))


def test_calm_question_is_not_escalated():
    assert decide(view(), [0.0], 0, CONFIG) == Decision()


@pytest.mark.parametrize(
    "message, scores, fallbacks, reasons, priority",
    [
        (view("request_human"), [0.1], 0, ("explicit_request",), "normal"),
        (view("complaint", "angry", 0.9), [0.9], 0, ("angry",), "urgent"),
        (view("complaint", "annoyed", 0.85), [0.85], 0, ("angry",), "urgent"),  # score above angry_score
        (view("report_outage", "calm", 0.1, "electricity", 0.9), [0.1], 0, ("essential_outage",), "urgent"),
        (view("report_outage", entities=["water"]), [0.0], 0, ("essential_outage",), "urgent"),  # NLU alone
        (view("escalation_threat", "annoyed", 0.5), [0.5], 0, ("escalation_threat",), "high"),
        (view("nlu_fallback"), [0.0, 0.0], 2, ("repeated_misunderstanding",), "normal"),
        (view("complaint", "annoyed", 0.6), [0.2, 0.4, 0.6], 0, ("rising_frustration",), "high"),
        (
            view("report_outage", "angry", 0.95, "internet", 0.97),
            [0.95],
            0,
            ("essential_outage", "angry"),
            "urgent",
        ),
    ],
)
def test_each_reason_and_its_priority(message, scores, fallbacks, reasons, priority):
    decision = decide(message, scores, fallbacks, CONFIG)
    assert decision.reasons == reasons
    assert decision.priority == priority
    assert decision.handoff


def test_one_misunderstanding_is_not_enough():
    assert not decide(view("nlu_fallback"), [0.0], 1, CONFIG).handoff


def test_slow_internet_is_not_an_essential_outage():
    message = view("slow_internet", "annoyed", 0.5, "none", 0.1, ["internet"])
    assert decide(message, [0.5], 0, CONFIG).reasons == ()


def test_running_frustration_is_an_exponential_average():
    assert running_frustration([], 0.5) == 0.0
    assert running_frustration([0.8], 0.5) == 0.8
    assert running_frustration([0.2, 0.4, 0.6], 0.5) == pytest.approx(0.45)


def test_three_increasingly_annoyed_messages_rise_but_flat_or_falling_do_not():
    assert is_rising([0.2, 0.4, 0.6], CONFIG)
    assert not is_rising([0.5, 0.5, 0.5], CONFIG)
    assert not is_rising([0.6, 0.4, 0.2], CONFIG)
    assert not is_rising([0.4, 0.6], CONFIG)  # too few messages
    assert not is_rising([0.0, 0.1, 0.2], CONFIG)  # rising but still calm


def test_thresholds_and_priorities_are_read_from_the_yaml(tmp_path: Path):
    data = yaml.safe_load(escalation.DEFAULT_PATH.read_text(encoding="utf-8"))
    data["thresholds"]["angry_score"] = 0.5
    data["essential_services"] = ["electricity"]
    del data["priorities"]["explicit_request"]
    path = tmp_path / "escalation.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    config = escalation.load_config(path)
    assert decide(view("complaint", "annoyed", 0.55), [0.55], 0, config).reasons == ("angry",)
    assert not decide(view("report_outage", service="water", urgency=0.9), [0.0], 0, config).handoff
    assert not decide(view("request_human"), [0.0], 0, config).handoff  # reason switched off


def test_unknown_reason_in_yaml_is_refused(tmp_path: Path):
    path = tmp_path / "escalation.yml"
    path.write_text("priorities: {grumpy: 1}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="grumpy"):
        escalation.load_config(path)


def test_message_view_reads_rasa_parse_data():
    parse = {
        "intent": {"name": "report_outage"},
        "entities": [{"entity": "service_type", "value": "internet"}, {"entity": "district", "value": "النرجس"}],
        "signals": {"frustration": {"level": "angry", "score": 0.9}, "urgency": {"service": "internet", "score": 0.8}},
    }
    message = MessageView.from_parse_data(parse)
    assert (message.intent, message.frustration_level, message.urgency_service) == ("report_outage", "angry", "internet")
    assert message.entity_services == ("internet",)
    assert MessageView.from_parse_data({}).frustration_score == 0.0


def test_consecutive_fallbacks_counts_from_the_newest():
    assert escalation.consecutive_fallbacks(["nlu_fallback", "nlu_fallback", "greet"]) == 2
    assert escalation.consecutive_fallbacks(["greet", "nlu_fallback"]) == 0
