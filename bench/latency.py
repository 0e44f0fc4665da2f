"""Parse latency, per-component cost and resident memory of NLU models.

Run by ``bench.run`` as child processes (``python -m bench.latency``).

Latency: all models are loaded into one process and timed on the same messages,
interleaved: message i is parsed by every model, in an order that rotates with
i, so that a busy neighbour on a shared machine slows all of them alike instead
of whichever model happened to run at that moment. A second, shorter pass times
every graph component (normaliser, classifier, CRF…) to show where the time goes.

Memory (``--memory-only``): one model per fresh process. Loaded one after the
other in a shared process, the first TensorFlow model is charged for the
runtime every later one reuses and freed arenas are reused (measured: the same
model grew the process by 295 or 381 MiB depending on order), so each model's
resident-set growth is taken in a process of its own, after the libraries all
pipelines need were imported.

Usage:
    python -m bench.latency --model ours=a.tar.gz --model default=b.tar.gz \
        --messages messages.json --out latency.json [--warmup 30]
    python -m bench.latency --memory-only --model ours=a.tar.gz --messages m.json --out mem.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from bench.stats import summarize

MB = 1024 * 1024


def rss_mb() -> float:
    """Resident set size of this process in MiB, after a garbage collection."""
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / MB


def preload_libraries() -> None:
    """Import what any of the pipelines needs before measuring memory.

    Without this the first model loaded would be charged for importing
    TensorFlow, scikit-learn and camel-tools, and the second would look cheap.
    The deltas then measure each model and the state its components build.
    """
    import camel_tools.utils.normalize  # noqa: F401
    import rasa.core.agent  # noqa: F401
    import rasa.nlu.classifiers.diet_classifier  # noqa: F401
    import rasa.nlu.extractors.crf_entity_extractor  # noqa: F401
    import sklearn.linear_model  # noqa: F401
    import skops.io  # noqa: F401
    import tensorflow  # noqa: F401

    import bot.nlu.components  # noqa: F401
    import bot.nlu.intent_classifier  # noqa: F401


def rotation(names: Sequence[str], i: int) -> List[str]:
    """The order in which models parse message ``i``: rotated by one each message."""
    shift = i % len(names)
    return list(names[shift:]) + list(names[:shift])


async def _load(path: Path) -> Any:
    from rasa.core.agent import Agent

    return Agent.load(str(path))


async def measure(models: Dict[str, Path], messages: Sequence[str], warmup: int, breakdown: int = 200) -> Dict[str, Any]:
    """Load every model, warm it up, then time one parse per message per model.

    Args:
        models: name → model file.
        messages: texts to parse (each counted once per model).
        warmup: leading messages parsed by each model right after loading and
            not timed (first calls build TensorFlow graphs and fill caches).
        breakdown: messages of the per-component timing pass.

    Returns:
        {"messages", "warmup", "models": {name: {"load_seconds", "latency_ms"}}}
    """
    agents, report = {}, {}
    for name, path in models.items():
        start = time.perf_counter()
        agents[name] = await _load(path)
        report[name] = {"model": str(path), "load_seconds": round(time.perf_counter() - start, 2)}
        for text in messages[:warmup]:
            await agents[name].parse_message(text)
        print(f"  loaded {name} in {report[name]['load_seconds']:.1f}s", flush=True)
    latencies: Dict[str, List[float]] = {name: [] for name in models}
    names = list(models)
    for i, text in enumerate(messages):
        for name in rotation(names, i):
            start = time.perf_counter()
            await agents[name].parse_message(text)
            latencies[name].append((time.perf_counter() - start) * 1000)
        if (i + 1) % 250 == 0:
            print(f"  parsed {i + 1}/{len(messages)} messages with each model", flush=True)
    for name in names:
        report[name]["latency_ms"] = summarize(latencies[name])
        report[name]["components_ms"] = await component_breakdown(agents[name], messages[:breakdown])
    return {"messages": len(messages), "warmup": warmup, "models": report}


async def component_breakdown(agent: Any, messages: Sequence[str]) -> Dict[str, float]:
    """Mean milliseconds per message spent in each graph node of the NLU pipeline.

    Wraps ``GraphNode.__call__`` for the duration of the pass (this process
    only); the wrapper's own cost is a few microseconds per node.
    """
    from rasa.engine.graph import GraphNode

    totals: Dict[str, float] = {}
    original = GraphNode.__call__

    def timed(node: Any, *inputs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(node, *inputs)
        finally:
            totals[node._node_name] = totals.get(node._node_name, 0.0) + time.perf_counter() - start

    GraphNode.__call__ = timed
    try:
        for text in messages:
            await agent.parse_message(text)
    finally:
        GraphNode.__call__ = original
    # Node names look like "run_bot.nlu.components.ArabicNormalizer0": keep the class
    # (two CountVectorsFeaturizers add up under one name).
    readable: Dict[str, float] = {}
    for node, seconds in totals.items():
        name = re.sub(r"\d+$", "", node.removeprefix("run_").rsplit(".", 1)[-1])
        readable[name] = round(readable.get(name, 0.0) + seconds * 1000 / max(1, len(messages)), 3)
    return dict(sorted(readable.items(), key=lambda kv: -kv[1]))


async def memory(path: Path, messages: Sequence[str]) -> Dict[str, Any]:
    """Resident-set growth of this process from loading one model and warming it up."""
    before = rss_mb()
    agent = await _load(path)
    loaded = rss_mb()
    for text in messages:
        await agent.parse_message(text)
    return {"baseline_rss_mb": round(before, 1), "rss_load_mb": round(loaded - before, 1), "rss_warm_mb": round(rss_mb() - before, 1)}


def main(argv: Optional[List[str]] = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True, help="name=path of a trained model; repeatable")
    parser.add_argument("--messages", type=Path, required=True, help="JSON list of texts")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--memory-only", action="store_true", help="measure the memory of the single --model")
    parser.add_argument("--breakdown", type=int, default=200, help="messages of the per-component timing pass")
    args = parser.parse_args(argv)

    from rasa.utils.log_utils import configure_structlog

    # One debug line per parse would be the slowest part of the measurement.
    configure_structlog(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    models = dict(item.split("=", 1) for item in args.model)
    messages = json.loads(args.messages.read_text(encoding="utf-8"))
    preload_libraries()
    if args.memory_only:
        if len(models) != 1:
            parser.error("--memory-only measures exactly one --model")
        ((name, path),) = models.items()
        result = {name: asyncio.run(memory(Path(path), messages[: args.warmup]))}
    else:
        result = asyncio.run(measure({name: Path(path) for name, path in models.items()}, messages, args.warmup, args.breakdown))
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
