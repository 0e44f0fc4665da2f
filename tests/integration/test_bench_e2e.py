"""The end-to-end benchmark's load generator against the real running assistant."""

from __future__ import annotations

import pytest

from bench.e2e import Level, run_level
from scripts.stack import Stack

TEXTS = ["السلام عليكم", "الكهرباء مقطوعة عندي من الصبح", "كم سعر الباقة؟"]


@pytest.mark.parametrize("channel", ["webchat", "rest"])
def test_every_message_gets_a_timed_reply(stack: Stack, channel: str) -> None:
    figures = run_level(f"http://127.0.0.1:{stack.rasa_port}", TEXTS, Level(2, 2), channel=channel)

    assert figures["channel"] == channel
    assert figures["requests"] == 4
    assert figures["ok"] == 4, figures["errors"]
    assert figures["errors"] == {}
    assert figures["latency_ms"]["count"] == 4
    # a reply runs the NLU pipeline and the policies: it cannot take under a millisecond
    assert 1 < figures["latency_ms"]["p50"] <= figures["latency_ms"]["max"]
    assert figures["messages_per_second"] > 0


def test_webchat_refusals_are_counted_as_errors_not_replies(stack: Stack) -> None:
    # the web chat refuses "/intent" commands typed by a customer
    figures = run_level(f"http://127.0.0.1:{stack.rasa_port}", ["/greet", "مرحبا"], Level(1, 2), channel="webchat")

    assert figures["requests"] == 2
    assert figures["ok"] == 1
    assert figures["errors"] == {"command_not_allowed": 1}


def test_an_unknown_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown channel"):
        run_level("http://127.0.0.1:1", TEXTS, Level(1, 1), channel="carrier-pigeon")
