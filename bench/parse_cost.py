"""What one NLU parse costs a serving Rasa process, with and without the fast intent scorer (E18).

The intent classifier is scored by scikit-learn's pipeline or by
:class:`bot.nlu.fast_linear.FastLinearPipeline` (the same probabilities). NumPy's BLAS
is also run with every core and with one thread (``threadpoolctl``), to see whether a
serving process should be limited to one (the signals encoder already limits itself).

One model, one process, the same messages; the four settings take turns, round after
round, so a busy neighbour slows them alike. Prints the median over rounds of CPU and
wall milliseconds per message.

Usage:
    python -m bench.parse_cost [--model models/] [--rounds 7] [--messages 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench.long_conversation import newest_model

MESSAGES = [
    "الكهرباء مقطوعة من الصبح عندنا في حي النرجس",
    "كم فاتورتي هالشهر؟",
    "شكرا",
    "النت فاصل من امس والله حرام عليكم",
    "ابغى اكلم موظف",
    "el ma2 ma2tou3 3andna",
    "بدي اعرف ليش الفاتورة عالية هالقد",
    "واش كاين شي مشكل فالضو؟",
]


async def _round(agent: Any, texts: Sequence[str]) -> Tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for text in texts:
        await agent.parse_message(text)
    return 1000 * (time.process_time() - cpu) / len(texts), 1000 * (time.perf_counter() - wall) / len(texts)


def measure(model: Path, rounds: int, count: int) -> Dict[str, Dict[str, float]]:
    """Median CPU and wall ms per parse for each (scorer, BLAS threads) setting."""
    from rasa.core.agent import Agent
    from threadpoolctl import threadpool_limits

    from bot.nlu import intent_classifier

    agent = Agent.load(str(model))
    texts = [MESSAGES[i % len(MESSAGES)] for i in range(count)]
    fast_limit = intent_classifier.FAST_PATH_MAX_MESSAGES
    settings = [("scikit-learn", None), ("scikit-learn", 1), ("fast", None), ("fast", 1)]
    samples: Dict[str, List[Tuple[float, float]]] = {}
    asyncio.run(_round(agent, texts[:20]))  # warm-up
    for _ in range(rounds):
        for scorer, threads in settings:
            intent_classifier.FAST_PATH_MAX_MESSAGES = fast_limit if scorer == "fast" else 0
            with threadpool_limits(limits=threads):
                samples.setdefault(f"{scorer}, BLAS threads {threads or 'all'}", []).append(asyncio.run(_round(agent, texts)))
    intent_classifier.FAST_PATH_MAX_MESSAGES = fast_limit
    return {
        name: {"cpu_ms": round(statistics.median(c for c, _ in values), 2), "wall_ms": round(statistics.median(w for _, w in values), 2)}
        for name, values in samples.items()
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--messages", type=int, default=100)
    args = parser.parse_args(argv)
    figures = measure(newest_model(args.model), args.rounds, args.messages)
    print("| intent scorer, BLAS threads | CPU ms / parse | wall ms / parse |")
    print("|---|---|---|")
    for name, value in figures.items():
        print(f"| {name} | {value['cpu_ms']} | {value['wall_ms']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
