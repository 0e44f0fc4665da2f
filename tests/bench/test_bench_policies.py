"""The inputs of bench.policies and bench.validator (the measurements themselves print figures)."""

import json
from pathlib import Path

import jsonschema
from rasa.core.actions.action import RemoteAction

from bench import policies, validator

EVENTS = [
    {"event": "action", "name": "action_session_start", "policy": None},
    {"event": "action", "name": "action_listen", "policy": None},
    {"event": "user", "text": "كم فاتورتي"},
    {"event": "action", "name": "bill_form", "policy": "policy_1_RulePolicy"},
    {"event": "action", "name": "action_listen", "policy": "policy_1_RulePolicy"},
    {"event": "user", "text": "1234567"},
    {"event": "action", "name": "action_bill_summary", "policy": "followup_action"},
    {"event": "action", "name": "action_listen", "policy": "policy_0_EscalationPolicy"},
]


def test_only_the_actions_a_policy_chose_are_prediction_points(tmp_path: Path):
    path = tmp_path / "trackers.jsonl"
    path.write_text(json.dumps({"id": "c1", "sender": "s1", "events": EVENTS}, ensure_ascii=False) + "\n", encoding="utf-8")
    points = list(policies.prediction_points("ted", path))
    assert [(p.action, p.policy, len(p.events)) for p in points] == [
        ("bill_form", "policy_1_RulePolicy", 3),
        ("action_listen", "policy_1_RulePolicy", 4),
        ("action_listen", "policy_0_EscalationPolicy", 7),
    ]
    assert policies.customer_texts(points) == ["كم فاتورتي", "1234567"]


def test_the_validator_benchmark_times_valid_responses():
    """An invalid sample would time Rasa's error path instead of the usual one."""
    for response in validator.sample_responses().values():
        jsonschema.validate(response, RemoteAction.action_response_format_spec())
