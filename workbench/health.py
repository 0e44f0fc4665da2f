"""Data health report: counts per intent and dialect, gaps, near-duplicates, conflicts.

Pure functions over the files in ``nlu_data/``; :func:`chart_png` draws the
counts, :func:`run_validate` runs ``rasa data validate`` in a subprocess.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Sequence

from scripts.nlu_check import DIALECTS, iter_examples, plain_text
from workbench.nlu_files import normalized_key, training_files

DIALECT_ORDER = ("msa", "gulf", "egyptian", "levantine", "maghrebi")
assert set(DIALECT_ORDER) == DIALECTS


def near_duplicates(texts: Sequence[str], threshold: float = 0.9) -> List[tuple]:
    """Pairs of different normalised texts whose character n-gram cosine is ≥ threshold.

    Returns:
        (i, j, similarity) with i < j, most similar first.
    """
    if len(texts) < 2:
        return []
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), use_idf=False).fit_transform(texts)
    similarity = (vectors @ vectors.T).tocoo()
    pairs = [
        (int(i), int(j), round(float(v), 3))
        for i, j, v in zip(similarity.row, similarity.col, similarity.data, strict=True)
        if i < j and v >= threshold and texts[i] != texts[j]
    ]
    return sorted(pairs, key=lambda p: -p[2])


def health_report(nlu_dir: Path, min_examples: int = 40, near_threshold: float = 0.9) -> Dict[str, Any]:
    """Figures about the training data in ``nlu_dir``.

    Returns:
        ``examples``; ``per_intent`` and ``per_dialect`` counts; ``table`` (intent to
        dialect counts); ``too_few`` (intents under ``min_examples``);
        ``missing_dialects`` (intent to dialects with no example); ``duplicates``
        (same normalised text, same intent); ``conflicts`` (same normalised text,
        several intents); ``near_duplicates``.
    """
    table: Dict[str, Counter] = defaultdict(Counter)
    per_dialect: Counter = Counter()
    by_key: Dict[str, List[Dict[str, str]]] = defaultdict(list)
    for path in training_files(nlu_dir):
        for intent, text, meta in iter_examples(path):
            dialect = str(meta.get("dialect") or "unknown")
            table[intent][dialect] += 1
            per_dialect[dialect] += 1
            by_key[normalized_key(text)].append({"intent": intent, "file": path.name, "text": plain_text(text)})
    per_intent = {intent: sum(c.values()) for intent, c in sorted(table.items())}
    conflicts, duplicates = [], []
    for found in by_key.values():
        intents = sorted({f["intent"] for f in found})
        if len(intents) > 1:
            conflicts.append({"text": found[0]["text"], "intents": intents, "files": sorted({f["file"] for f in found})})
        elif len(found) > 1:
            duplicates.append({"text": found[0]["text"], "intent": intents[0], "count": len(found)})
    keys = list(by_key)
    near = [
        {"a": by_key[keys[i]][0]["text"], "b": by_key[keys[j]][0]["text"], "intent_a": by_key[keys[i]][0]["intent"],
         "intent_b": by_key[keys[j]][0]["intent"], "similarity": score}
        for i, j, score in near_duplicates(keys, near_threshold)
    ]
    return {
        "examples": sum(per_intent.values()),
        "per_intent": per_intent,
        "per_dialect": {d: per_dialect.get(d, 0) for d in DIALECT_ORDER} | {d: n for d, n in per_dialect.items() if d not in DIALECTS},
        "table": {intent: {d: table[intent].get(d, 0) for d in DIALECT_ORDER} for intent in per_intent},
        "too_few": [intent for intent, n in per_intent.items() if n < min_examples],
        "min_examples": min_examples,
        "missing_dialects": {intent: [d for d in DIALECT_ORDER if not table[intent].get(d)] for intent in per_intent
                             if any(not table[intent].get(d) for d in DIALECT_ORDER)},
        "duplicates": duplicates,
        "conflicts": conflicts,
        "near_duplicates": near[:200],
    }


def chart_png(report: Dict[str, Any]) -> bytes:
    """A stacked horizontal bar chart of examples per intent and dialect (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    intents = list(report["table"])
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.32 * len(intents) + 1)))
    left = [0] * len(intents)
    for dialect in DIALECT_ORDER:
        values = [report["table"][i].get(dialect, 0) for i in intents]
        ax.barh(intents, values, left=left, label=dialect)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.axvline(report.get("min_examples", 40), color="black", linestyle="--", linewidth=1, label="minimum")
    ax.invert_yaxis()
    ax.set_xlabel("examples")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=90)
    plt.close(fig)
    return out.getvalue()


def run_validate(nlu_dir: Path, config: Path, domain: Path, stories: Path, timeout: int = 600) -> Dict[str, Any]:
    """``rasa data validate`` on the current data; its exit code and output."""
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false")
    cmd = [sys.executable, "-m", "rasa", "data", "validate", "--config", str(config), "--domain", str(domain),
           "--data", str(nlu_dir), str(stories)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=Path(config).parent)
    except subprocess.TimeoutExpired:
        return {"returncode": None, "output": f"rasa data validate took longer than {timeout}s"}
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    return {"returncode": done.returncode, "output": "\n".join(lines[-200:])}
