"""Intent accuracy and macro-F1 of a trained model on Rasa NLU YAML files.

A thin layer over :func:`scripts.evaluate_nlu.evaluate`, the evaluation
``make eval`` uses, so that ArBanking77 and the held-out file are scored the same
way: the classifier's top intent counts even when the FallbackClassifier
renamed it to ``nlu_fallback`` (its firing rate is reported separately).

``bench.run`` calls it as a child process (``python -m bench.accuracy``), so
that a model's memory is released when its scoring ends and quick runs can score
several models at once.

With ``--memory-messages`` the process first measures the model's memory the
way ``bench.latency --memory-only`` does (fresh process, libraries imported,
model loaded and warmed up, then released) and adds it under ``"_memory"``:
one process fewer per model, which matters on a 2-core machine.

Usage:
    python -m bench.accuracy --model m.tar.gz --data test_msa=a.yml --data test_pal=b.yml --out scores.json \
        [--memory-messages messages.json --warmup 30]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional


def evaluate(model: Path, data: Path) -> Dict[str, Any]:
    """The full report of :func:`scripts.evaluate_nlu.evaluate` for ``model`` on ``data``."""
    from scripts.evaluate_nlu import evaluate as evaluate_nlu

    return evaluate_nlu(model, data)


def compact(report: Dict[str, Any], labels: Optional[Mapping[str, str]] = None, max_errors: int = 25) -> Dict[str, Any]:
    """The parts of an ArBanking77 evaluation report worth keeping.

    Args:
        report: output of :func:`evaluate`.
        labels: intent identifier → the dataset's own label, so that the errors
            kept read in Arabic as the dataset wrote them.
        max_errors: how many misclassified examples to keep (thousands otherwise).
    """
    labels = labels or {}
    errors = [
        {**e, "gold_label": labels.get(e["gold"], e["gold"]), "predicted_label": labels.get(e["predicted"], e["predicted"])}
        for e in report.get("errors", [])[:max_errors]
    ]
    # parse_latency_ms is left out: scoring may share the CPU with other work;
    # bench.latency is where latency is measured.
    kept: Dict[str, Any] = {key: report[key] for key in ("examples", "intent", "per_intent_f1") if key in report}
    kept["errors_shown"] = errors
    kept["errors_total"] = len(report.get("errors", []))
    return kept


def main(argv: Optional[List[str]] = None) -> int:
    """Score one model on every ``--data name=path`` file; write {name: report} as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", action="append", required=True, help="name=path of a Rasa NLU YAML file; repeatable")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--memory-messages", type=Path, help="JSON list of texts: measure memory first, warmed up on them")
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args(argv)
    reports: Dict[str, Any] = {}
    if args.memory_messages:
        from bench import latency

        latency.preload_libraries()
        texts = json.loads(args.memory_messages.read_text(encoding="utf-8"))[: args.warmup]
        reports["_memory"] = asyncio.run(latency.memory(args.model, texts))
        gc.collect()  # the measured agent is gone before scoring loads its own
    for item in args.data:
        name, path = item.split("=", 1)
        reports[name] = evaluate(args.model, Path(path))
        intent = reports[name]["intent"]
        print(f"{name}: accuracy {intent['accuracy']:.4f}, macro-F1 {intent['macro_f1']:.4f}", flush=True)
    args.out.write_text(json.dumps(reports, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
