"""Cost and agreement of dialogue-policy configurations on recorded conversations.

Every model is loaded into one process and asked for the next action at each point
where the recorded conversation had a policy predict one (the action event names its
policy; follow-ups and session starts are not predictions). Each point is timed for
every model, in an order that rotates with the point, so that a busy neighbour on the
shared machine slows all of them alike. The time is the run of the model's dialogue
graph (featurisation, every policy, the ensemble): what the Rasa server spends per
prediction, without the NLU parse, which the models here share. The parse of each
customer message is timed too, for scale.

Trackers come from ``python -m scripts.eval_conversations --trackers FILE`` (one per
configuration: its model played the conversation set); a model is also told which
action the recorded conversation took, so the output says how often each model agrees
with each recording, and which actions a model would have replaced.

Usage::

    python -m bench.policies --model ted=a.tar.gz --model rulememo=b.tar.gz \\
        --trackers ted=ted.jsonl --trackers rulememo=rulememo.jsonl [--out result.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from bench.latency import _load, rotation
from bench.stats import summarize

FOLLOWUP_POLICY = "followup_action"


@dataclass(frozen=True)
class Point:
    """One place in a recorded conversation where a policy chose the next action."""

    source: str  # which recording (--trackers NAME=...)
    conversation: str
    events: Tuple[Dict[str, Any], ...]  # everything before the action
    action: str  # what the recording did
    policy: str  # which policy chose it there


def _named(values: Sequence[str], what: str) -> Dict[str, Path]:
    out: Dict[str, Path] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"{what} must be NAME=PATH, got {value!r}")
        out[name] = Path(path)
    return out


def prediction_points(source: str, path: Path) -> Iterator[Point]:
    """Every policy prediction of every conversation in a ``--trackers`` file."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            record = json.loads(line)
            events = record["events"]
            for index, event in enumerate(events):
                policy = event.get("policy") if event.get("event") == "action" else None
                if policy and policy != FOLLOWUP_POLICY:
                    yield Point(source, record["id"], tuple(events[:index]), str(event.get("name")), str(policy))


def customer_texts(points: Sequence[Point]) -> List[str]:
    """Each customer message of the recordings once (the last point of a conversation holds all)."""
    last: Dict[Tuple[str, str], Point] = {}
    for point in points:
        last[(point.source, point.conversation)] = point
    return [str(e.get("text") or "") for p in last.values() for e in p.events if e.get("event") == "user" and e.get("text")]


def _predict(agent: Any, tracker: Any) -> Tuple[float, str, str]:
    """Milliseconds of one run of the agent's dialogue graph, the action and the policy."""
    from rasa.engine.constants import PLACEHOLDER_TRACKER

    processor = agent.processor
    target = processor.model_metadata.core_target
    start = time.perf_counter()
    prediction = processor.graph_runner.run(inputs={PLACEHOLDER_TRACKER: tracker}, targets=[target])[target]
    elapsed = (time.perf_counter() - start) * 1000
    index = max(range(len(prediction.probabilities)), key=prediction.probabilities.__getitem__)
    return elapsed, agent.domain.action_names_or_texts[index], str(prediction.policy_name)


def measure(models: Dict[str, Path], points: Sequence[Point], texts: Sequence[str], warmup: int = 20) -> Dict[str, Any]:
    """Time every model on every point (interleaved), and its parse of every text."""
    from rasa.core.channels import UserMessage
    from rasa.shared.core.trackers import DialogueStateTracker

    agents = {name: asyncio.run(_load(path)) for name, path in models.items()}
    domain = next(iter(agents.values())).domain
    names = list(agents)
    trackers = [DialogueStateTracker.from_dict(f"bench-{p.conversation}", list(p.events), domain.slots) for p in points]
    for tracker in trackers[:warmup]:
        for name in names:
            _predict(agents[name], tracker)

    times: Dict[str, List[float]] = defaultdict(list)
    per_message: Dict[str, Dict[Tuple[str, str, int], float]] = defaultdict(lambda: defaultdict(float))
    agreement: Dict[Tuple[str, str], List[bool]] = defaultdict(list)
    replaced: Dict[Tuple[str, str], Counter] = defaultdict(Counter)
    for i, (point, tracker) in enumerate(zip(points, trackers, strict=True)):
        message = sum(1 for e in point.events if e.get("event") == "user")
        for name in rotation(names, i):
            ms, action, policy = _predict(agents[name], tracker)
            times[name].append(ms)
            per_message[name][(point.source, point.conversation, message)] += ms
            agreement[(point.source, name)].append(action == point.action)
            if action != point.action:
                replaced[(point.source, name)][f"{point.action} ({point.policy.split('_', 2)[-1]}) -> {action} ({policy.split('_', 2)[-1]})"] += 1

    async def parse_all(agent: Any) -> List[float]:
        out = []
        for text in texts:
            start = time.perf_counter()
            await agent.processor.parse_message(UserMessage(text))
            out.append((time.perf_counter() - start) * 1000)
        return out

    parse = {name: summarize(asyncio.run(parse_all(agents[name]))) for name in names[:1]}
    return {
        "points": len(points),
        "messages": len(next(iter(per_message.values()))) if per_message else 0,
        "prediction_ms": {name: summarize(values) for name, values in times.items()},
        "predictions_per_message_ms": {name: summarize(list(values.values())) for name, values in per_message.items()},
        "parse_ms": parse,
        "agreement": {
            f"{source} recording, {name} model": {"points": len(hits), "same_action": sum(hits), "rate": sum(hits) / len(hits)}
            for (source, name), hits in sorted(agreement.items())
        },
        "replaced": {f"{source} recording, {name} model": dict(counter.most_common(15)) for (source, name), counter in sorted(replaced.items())},
    }


def markdown(result: Dict[str, Any]) -> str:
    """The figures as Markdown tables."""
    lines = [
        f"{result['points']} policy predictions in {result['messages']} customer messages",
        "",
        "| model | prediction p50 ms | p95 ms | mean ms | per customer message, mean ms | p95 ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, stats in result["prediction_ms"].items():
        message = result["predictions_per_message_ms"][name]
        lines.append(f"| {name} | {stats['p50']:.2f} | {stats['p95']:.2f} | {stats['mean']:.2f} | {message['mean']:.2f} | {message['p95']:.2f} |")
    for name, stats in result["parse_ms"].items():
        lines.append(f"\nNLU parse of a customer message ({name} model, the same pipeline in all): p50 {stats['p50']:.2f} ms, mean {stats['mean']:.2f} ms")
    lines += ["", "| recording | model | same action as recorded |", "|---|---|---|"]
    for key, row in result["agreement"].items():
        source, model = key.split(" recording, ")
        lines.append(f"| {source} | {model.removesuffix(' model')} | {row['same_action']}/{row['points']} ({100 * row['rate']:.1f} %) |")
    for key, counter in result["replaced"].items():
        if counter:
            lines += ["", f"Different actions, {key} (recorded (policy) -> predicted (policy)):"]
            lines += [f"- {n} × {what}" for what, n in counter.items()]
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.policies", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", required=True, help="NAME=model.tar.gz (repeat)")
    parser.add_argument("--trackers", action="append", required=True, help="NAME=trackers.jsonl from eval_conversations --trackers (repeat)")
    parser.add_argument("--warmup", type=int, default=20, help="points predicted before timing starts")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args(argv)
    from rasa.utils.log_utils import configure_structlog

    # a debug line per parse and prediction would cost more than the prediction
    configure_structlog(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    models = _named(args.model, "--model")
    points = [p for name, path in _named(args.trackers, "--trackers").items() for p in prediction_points(name, path)]
    if not points:
        raise SystemExit("no policy predictions in the tracker files")
    result = measure(models, points, customer_texts(points), args.warmup)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
