"""Comparing two held-out reports of ``scripts.evaluate_nlu``: per-intent F1 and confusion.

Pure functions. The confusion matrix is rebuilt from a report's ``errors`` and the
held-out file's gold labels (every example not in ``errors`` was right).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

from scripts.nlu_check import iter_examples


def gold_counts(heldout: Path) -> Dict[str, int]:
    """Held-out examples per intent."""
    return dict(Counter(intent for intent, _, _ in iter_examples(Path(heldout))))


def confusion(report: Dict[str, Any], gold: Dict[str, int]) -> Dict[str, Any]:
    """``{"labels": [...], "matrix": [[...]]}``; rows are gold intents, columns predictions."""
    errors = Counter((e["gold"], e["predicted"]) for e in report.get("errors") or [])
    labels = sorted(set(gold) | {p for _, p in errors})
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for label, count in gold.items():
        wrong = sum(n for (g, _), n in errors.items() if g == label)
        matrix[index[label]][index[label]] = count - wrong
    for (g, p), n in errors.items():
        if g in index:
            matrix[index[g]][index[p]] += n
    return {"labels": labels, "matrix": matrix}


def compare(current: Optional[Dict[str, Any]], candidate: Dict[str, Any], gold: Dict[str, int]) -> Dict[str, Any]:
    """Side-by-side figures and the verdict ``worse`` (lower held-out macro-F1).

    Args:
        current: report of the model the server runs now (None when unknown).
        candidate: report of the newly trained model.
        gold: held-out examples per intent.
    """
    intents = sorted(set(candidate.get("per_intent_f1", {})) | set((current or {}).get("per_intent_f1", {})))
    rows: List[Dict[str, Any]] = []
    for intent in intents:
        new = candidate.get("per_intent_f1", {}).get(intent)
        old = (current or {}).get("per_intent_f1", {}).get(intent)
        rows.append({"intent": intent, "current": old, "candidate": new,
                     "delta": round(new - old, 4) if new is not None and old is not None else None})
    cand_f1 = candidate["intent"]["macro_f1"]
    cur_f1 = current["intent"]["macro_f1"] if current else None
    return {
        "current": {"model": current.get("model") if current else None, **(current or {}).get("intent", {})},
        "candidate": {"model": candidate.get("model"), **candidate["intent"]},
        "delta_macro_f1": round(cand_f1 - cur_f1, 4) if cur_f1 is not None else None,
        "worse": cur_f1 is not None and cand_f1 < cur_f1,
        "per_intent": rows,
        "confusion_current": confusion(current, gold) if current else None,
        "confusion_candidate": confusion(candidate, gold),
    }
