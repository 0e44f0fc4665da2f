"""The scale benchmark's read-back: lost, duplicated and interleaved turns from tracker events."""

from __future__ import annotations

from typing import Any, Dict, List

from bench.scale import count_turns, cpu_per_message, table


def user(run: str, seq: int) -> Dict[str, Any]:
    return {"event": "user", "text": "x", "metadata": {"bench": {"run": run, "seq": seq}}}


def action(name: str) -> Dict[str, Any]:
    return {"event": "action", "name": name}


def turn(run: str, seq: int) -> List[Dict[str, Any]]:
    return [user(run, seq), action("utter_answer"), {"event": "bot", "text": "y"}, action("action_listen")]


def test_a_clean_conversation_counts_nothing_wrong():
    events = [action("action_listen")] + turn("r1", 0) + turn("r1", 1) + turn("r1", 2)
    assert count_turns(events, "r1", 3) == {"recorded": 3, "lost": 0, "duplicated": 0, "interleaved": 0}


def test_lost_and_duplicated_messages_are_counted():
    events = turn("r1", 0) + turn("r1", 0) + turn("r1", 2)
    assert count_turns(events, "r1", 4) == {"recorded": 3, "lost": 2, "duplicated": 1, "interleaved": 0}


def test_a_turn_that_starts_before_the_last_one_listened_is_interleaved():
    # message 1 arrives while the bot is still acting on message 0
    events = [user("r1", 0), action("utter_answer"), user("r1", 1), action("utter_answer"), action("action_listen")]
    assert count_turns(events, "r1", 2)["interleaved"] == 1


def test_a_burst_understood_together_is_not_interleaved():
    # messages recorded one after the other, answered once after the last
    events = [user("r1", 0), user("r1", 1), user("r1", 2), action("utter_answer"), action("action_listen")]
    assert count_turns(events, "r1", 3) == {"recorded": 3, "lost": 0, "duplicated": 0, "interleaved": 0}


def test_other_runs_are_ignored():
    events = turn("old", 0) + turn("r1", 0)
    assert count_turns(events, "r1", 1)["recorded"] == 1


def test_the_table_has_a_row_per_shape():
    figures = {"shape": "bursts", "conversations": 2, "messages_each": 5, "messages_per_second": 9.5,
               "latency_ms": {"p50": 100, "p95": 200}, "lost": 0, "duplicated": 0, "interleaved": 0, "errors": {"504": 2}}
    lines = table([{"workers": 2, "shapes": [figures]}])
    assert lines[-1] == "| 2 | bursts 2×5 | 9.5 | 100 | 200 | 0 | 0 | 0 | 2 | – | – |"
    figures["cpu_ms_per_message"] = {"rasa": 31.5, "other": 9.0}
    assert table([{"workers": 2, "shapes": [figures]}])[-1] == "| 2 | bursts 2×5 | 9.5 | 100 | 200 | 0 | 0 | 0 | 2 | 31.5 | 9.0 |"


def test_cpu_per_message_adds_the_rasa_workers_and_keeps_the_rest_apart():
    before = {"rasa-1": 10.0, "rasa-2": 20.0, "redis-server": 1.0, "load generator": 5.0}
    after = {"rasa-1": 12.0, "rasa-2": 21.5, "redis-server": 1.25, "load generator": 5.75}
    assert cpu_per_message(before, after, 100) == {"rasa": 35.0, "other": 10.0}
    assert cpu_per_message(before, after, 0) == {"rasa": None, "other": None}


def test_a_process_started_during_the_run_counts_from_zero():
    assert cpu_per_message({}, {"rasa-3": 0.5}, 10) == {"rasa": 50.0, "other": 0.0}
