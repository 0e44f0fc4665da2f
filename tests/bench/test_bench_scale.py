"""The scale benchmark's read-back: lost, duplicated and interleaved turns from tracker events."""

from __future__ import annotations

from typing import Any, Dict, List

from bench.scale import count_turns, table


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
    assert lines[-1] == "| 2 | bursts 2×5 | 9.5 | 100 | 200 | 0 | 0 | 0 | 2 |"
