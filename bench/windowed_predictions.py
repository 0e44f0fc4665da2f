"""Are next-action predictions on a windowed tracker those on the whole session?

``bot.tracker_store.SessionTrackerStore`` loads a snapshot and the latest
``window_turns`` customer turns of a session instead of all of it. This check plays the
evaluation conversations (``tests/conversations/``) against an in-process agent with the
trained model, the real action server and a real Redis, all conversations of a file
one after another as **one long session** of one customer (after a handoff, a colleague
gives the conversation back as the relay does). Then, for every action the
assistant predicted, it predicts again twice, with the model's policies: on the whole
session up to that point, and on exactly what the store would have loaded then (the
window it had after the previous message, plus the current turn). It counts the
predictions whose action, policy or policy events (the escalation policy's slots) differ.

Usage:
    python -m bench.windowed_predictions --window-turns 20 [--window-turns 3] [--files msa_gulf.yml]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench.long_conversation import actions_on_own_redis, load_agent, newest_model, quiet_logs, send
from scripts.eval_conversations import EVALUATION_LIMITS, Conversation, load_conversations
from scripts.stack import ROOT


async def play_session(agent: Any, sender: str, conversations: Sequence[Conversation]) -> List[Any]:
    """Play ``conversations`` as one session of ``sender``; return the session's events."""
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.shared.core.events import ConversationResumed

    from bot.tracker_window import split_sessions

    for conversation in conversations:
        for text in conversation.turns:
            await send(agent, sender, text)
        tracker = await agent.tracker_store.retrieve(sender)
        if tracker is not None and tracker.is_paused():
            # what the relay does when a colleague gives the conversation back
            output = CollectingOutputChannel()
            tracker = await agent.processor.fetch_tracker_and_update_session(sender, output)
            tracker.update(ConversationResumed())
            await agent.processor.trigger_external_user_uttered("EXTERNAL_handoff_returned", {}, tracker, output)
    full = await agent.tracker_store.retrieve_full_tracker(sender)
    sessions = [part for part in split_sessions(list(full.events)) if part]
    if len(sessions) != 1:
        raise RuntimeError(f"{sender}: {len(sessions)} sessions, expected one long session")
    return sessions[0]


def store_windows(events: Sequence[Any], window_turns: int, sender: str, slots: Sequence[Any]) -> Dict[int, Tuple[int, List[Any]]]:
    """For every customer message, the window the store had loaded when it arrived:
    index -> (window start, snapshot), moved as the store moves it after each save."""
    from rasa.shared.core.events import UserUttered

    from bot.tracker_window import slide_window

    windows: Dict[int, Tuple[int, List[Any]]] = {}
    start = 0
    snapshot: List[Any] = []
    for index, event in enumerate(events):
        if isinstance(event, UserUttered):
            moved = slide_window(sender, slots, snapshot, events[start:index], window_turns)
            if moved is not None:
                start, snapshot = start + moved.start, moved.snapshot
            windows[index] = (start, snapshot)
    return windows


def compare(agent: Any, sender: str, events: Sequence[Any], window_turns: int) -> Dict[str, Any]:
    """Predict every predicted action of ``events`` on the whole session and on the window."""
    from rasa.shared.core.events import ActionExecuted, UserUttered

    from bot.tracker_window import replay

    slots = list(agent.domain.slots)
    windows = store_windows(events, window_turns, sender, slots)
    processor = agent.processor
    actions = agent.domain.action_names_or_texts
    counts = {"predictions": 0, "windowed": 0, "same_action": 0, "same_policy": 0, "same_events": 0}
    differences: List[Dict[str, Any]] = []
    latest_user: Optional[int] = None
    loaded_events: List[int] = []
    for index, event in enumerate(events):
        if isinstance(event, UserUttered):
            latest_user = index
        if not isinstance(event, ActionExecuted) or not event.policy or latest_user is None:
            continue
        start, snapshot = windows[latest_user]
        counts["predictions"] += 1
        if start == 0:
            continue  # the store loaded the whole session: nothing to compare
        counts["windowed"] += 1
        whole = replay(sender, slots, events[:index])
        window = replay(sender, slots, [*snapshot, *events[start:index]])
        loaded_events.append(len(window.events))
        expected, got = processor._predict_next_with_tracker(whole), processor._predict_next_with_tracker(window)
        same_action = expected.max_confidence_index == got.max_confidence_index
        same_policy = expected.policy_name == got.policy_name
        same_events = _without_times(expected.events + expected.optional_events) == _without_times(got.events + got.optional_events)
        counts["same_action"] += same_action
        counts["same_policy"] += same_policy
        counts["same_events"] += same_events
        if not (same_action and same_policy and same_events):
            differences.append({
                "event_index": index, "window_events": len(window.events),
                "whole": [actions[expected.max_confidence_index], expected.policy_name, _without_times(expected.events)],
                "window": [actions[got.max_confidence_index], got.policy_name, _without_times(got.events)],
            })
    counts["session_events"] = len(events)
    counts["max_window_events"] = max(loaded_events, default=0)
    return {**counts, "differences": differences}


def _without_times(events: Sequence[Any]) -> List[Dict[str, Any]]:
    """Events as dicts without their timestamps (each prediction stamps its own)."""
    return [{k: v for k, v in event.as_dict().items() if k != "timestamp"} for event in events]


async def run(
    files: Sequence[str], window_turns: Sequence[int], model: Path, events_out: Optional[Path] = None, events_in: Optional[Path] = None
) -> List[Dict[str, Any]]:
    from bot.tracker_store import decode_events

    agent = await load_agent("endpoints", model)
    conversations = load_conversations()
    results = []
    for name in files:
        chosen = [c for c in conversations if c.source == name]
        sender = f"windowed-{Path(name).stem}-{int(time.time())}"
        started = time.perf_counter()
        if events_in:
            # a session played before (--events-out): compare again without playing
            events = decode_events(json.loads((events_in / f"{Path(name).stem}.json").read_text(encoding="utf-8")))
        else:
            events = await play_session(agent, sender, chosen)
        played_s = time.perf_counter() - started
        if events_out:
            events_out.mkdir(parents=True, exist_ok=True)
            (events_out / f"{Path(name).stem}.json").write_text(json.dumps([e.as_dict() for e in events], ensure_ascii=False), encoding="utf-8")
        for turns in window_turns:
            started = time.perf_counter()
            result = compare(agent, sender, events, turns)
            results.append({"file": name, "conversations": len(chosen), "window_turns": turns,
                            "play_s": round(played_s, 1), "compare_s": round(time.perf_counter() - started, 1), **result})
            print(json.dumps({k: v for k, v in results[-1].items() if k != "differences"}, ensure_ascii=False), flush=True)
    return results


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window-turns", type=int, action="append", help="window sizes to check (default 20)")
    parser.add_argument("--files", nargs="*", default=None, help="conversation files of tests/conversations/ (default all)")
    parser.add_argument("--model", type=Path, default=ROOT / "models")
    parser.add_argument("--out", type=Path, default=None, help="the results, differences included, as JSON")
    parser.add_argument("--events-out", type=Path, default=None, help="folder for each played session's events (JSON)")
    parser.add_argument("--events-in", type=Path, default=None, help="compare sessions saved by --events-out instead of playing")
    args = parser.parse_args(argv)
    quiet_logs()
    # a supervisor's SIGTERM stops the action server and Redis too (the finally below)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    files = args.files or sorted(p.name for p in (ROOT / "tests" / "conversations").glob("*.yml"))
    model = newest_model(args.model)
    # one customer plays a whole file: the verification limits are for one account
    with actions_on_own_redis(model, "bench-windowed-", EVALUATION_LIMITS):
        results = asyncio.run(run(files, args.window_turns or [10, 20], model, args.events_out, args.events_in))
    for r in results:
        print(
            f"{r['file']} ({r['conversations']} conversations, {r['session_events']} events in one session), "
            f"window {r['window_turns']} turns: {r['windowed']} of {r['predictions']} predictions made on a window "
            f"(at most {r['max_window_events']} events); same action {r['same_action']}, same policy {r['same_policy']}, "
            f"same policy events {r['same_events']}"
        )
    if args.out:
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
