"""Intent accuracy and macro-F1 of a trained model on a Rasa NLU YAML file.

A thin layer over :func:`scripts.evaluate_nlu.evaluate`, the evaluation
``make eval`` uses, so that ArBanking77 and the held-out file are scored the same
way: the classifier's top intent counts even when the FallbackClassifier
renamed it to ``nlu_fallback`` (its firing rate is reported separately).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional


def evaluate(model: Path, data: Path) -> Dict[str, Any]:
    """The full report of :func:`scripts.evaluate_nlu.evaluate` for ``model`` on ``data``."""
    from scripts.evaluate_nlu import evaluate as evaluate_nlu

    return evaluate_nlu(model, data)


def compact(report: Dict[str, Any], labels: Optional[Mapping[str, str]] = None, max_errors: int = 25) -> Dict[str, Any]:
    """The parts of an evaluation report worth keeping for a benchmark file.

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
    kept = {key: report[key] for key in ("examples", "intent", "per_intent_f1", "parse_latency_ms") if key in report}
    kept["errors_shown"] = errors
    kept["errors_total"] = len(report.get("errors", []))
    return kept
