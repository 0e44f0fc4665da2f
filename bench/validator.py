"""Cost of checking an action-server response: Rasa's method against the patched one.

Rasa 3.6's ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``,
which checks the schema itself and builds a validator on every response;
``bot/rasa_patches.py`` compiles the validator once (issue 15). Both run here in one
process on the same responses, built the way the action server builds them
(``rasa_sdk``'s dispatcher, events and executor), in alternating rounds so that a
busy neighbour on the shared machine slows both alike.

Usage::

    python -m bench.validator [--rounds 7] [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from typing import Any, Callable, Dict, List, Optional

from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher


def sample_responses() -> Dict[str, Dict[str, Any]]:
    """Action-server responses of three sizes, in rasa_sdk's own format."""
    small = CollectingDispatcher()
    small.utter_message(text="أهلاً بك، كيف أقدر أساعدك؟")
    form = CollectingDispatcher()
    form.utter_message(text="تم، رقم الحساب 12345678")
    form.utter_message(response="utter_ask_district")
    large = CollectingDispatcher()
    for n in range(3):
        large.utter_message(text=f"رسالة {n}", buttons=[{"title": "نعم", "payload": "/affirm"}, {"title": "لا", "payload": "/deny"}])
    return {
        "one message": ActionExecutor._create_api_response([], small.messages),
        "form step (4 events, 2 messages)": ActionExecutor._create_api_response(
            [SlotSet("account_number", "12345678"), SlotSet("requested_slot", "district"), ActiveLoop("bill_form"), FollowupAction("action_listen")],
            form.messages,
        ),
        "12 events, 3 messages with buttons": ActionExecutor._create_api_response(
            [SlotSet(f"slot_{n}", {"value": n, "items": list(range(5))}) for n in range(12)], large.messages,
        ),
    }


def calls_per_second(validate: Callable[[Dict[str, Any]], Any], response: Dict[str, Any], seconds: float) -> float:
    """How many times ``validate(response)`` runs per second, over about ``seconds``."""
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            validate(response)
        calls += 20
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def measure(rounds: int, seconds: float) -> List[Dict[str, Any]]:
    """Median calls/s of Rasa's method and the patched one, per sample response."""
    from rasa.core.actions.action import RemoteAction

    from bot import rasa_patches

    rasa_patches.install()
    patched = RemoteAction._validate_action_result
    original = patched.__wrapped__
    action = RemoteAction("action_bench", None)
    variants = {"rasa": lambda r: original(action, r), "patched": lambda r: patched(action, r)}
    rows = []
    for name, response in sample_responses().items():
        response = copy.deepcopy(response)
        rates: Dict[str, List[float]] = {variant: [] for variant in variants}
        for round_index in range(rounds):
            order = list(variants) if round_index % 2 == 0 else list(reversed(variants))
            for variant in order:
                rates[variant].append(calls_per_second(variants[variant], response, seconds))
        rasa_rate, patched_rate = statistics.median(rates["rasa"]), statistics.median(rates["patched"])
        rows.append({"response": name, "rasa": rasa_rate, "patched": patched_rate, "speedup": patched_rate / rasa_rate})
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.validator", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per variant (median taken)")
    parser.add_argument("--seconds", type=float, default=0.5, help="length of one round")
    args = parser.parse_args(argv)
    rows = measure(args.rounds, args.seconds)
    print(f"Action-response validation, calls/s (median of {args.rounds} rounds of {args.seconds} s)\n")
    print("| response | Rasa 3.6 (jsonschema.validate) | patched (compiled) | speed-up |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['response']} | {row['rasa']:,.0f} | {row['patched']:,.0f} | {row['speedup']:.1f}× |")
    print(
        "\nPer call: "
        + "; ".join(f"{row['response']}: {1e6 / row['rasa']:.0f} µs → {1e6 / row['patched']:.1f} µs" for row in rows)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
