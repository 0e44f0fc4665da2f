"""Dialect transfer: leave one dialect (or script) of ``nlu_data/`` out, test on it.

For every dialect D in the examples' metadata (msa, gulf, egyptian, levantine,
maghrebi), the intent classifier is trained on every other dialect and scored on
D; the same for the scripts ``arabizi`` and ``mixed`` (trained without any
example in that script). This measures what the issue asks: how well a model
understands a dialect nobody wrote examples in. Each fold trains the
classifier's scikit-learn pipeline directly (:func:`bot.nlu.intent_classifier.fit_model`,
exactly what the Rasa component trains), so a fold takes seconds, not a
``rasa train``.

Every variant is scored next to the baseline the issue names: TF-IDF character
2–5-grams and word 1–2-grams with a LinearSVC on the same normalised text.

``--unseen FILE`` also trains each variant on all of ``nlu_data/`` and scores a
Rasa NLU YAML file per dialect of its metadata (an evaluation file written by
someone who never saw the training data). ``--arbanking`` scores ArBanking77's
test files the same way (reporting only: nothing is tuned on them).

Usage:
    python -m bench.dialects [--variants a,b] [--unseen FILE] [--arbanking] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
NLU_DATA = ROOT / "nlu_data"
CONFIG = ROOT / "config.yml"
SCRIPT_FOLDS = ("arabizi", "mixed")
# Variant name → the classifier options changed from config.yml's (None: the baseline).
VARIANTS: Dict[str, Optional[Dict[str, Any]]] = {
    "baseline": None,
    # config.yml as it was before issue 16: logistic regression, raw view only
    "logreg": {"classifier": "logistic_regression", "msa_view": False, "dialect_augmentation": 0, "char_ngram_range": [2, 5]},
    "logreg+msa_view": {"classifier": "logistic_regression", "msa_view": True, "dialect_augmentation": 0, "char_ngram_range": [2, 5]},
    "svm": {"classifier": "linear_svm", "msa_view": False, "dialect_augmentation": 0, "char_ngram_range": [2, 5]},
    "svm+msa_view": {"classifier": "linear_svm", "msa_view": True, "dialect_augmentation": 0, "char_ngram_range": [2, 5]},
    "svm+augment": {"classifier": "linear_svm", "msa_view": False, "dialect_augmentation": 3, "char_ngram_range": [2, 5]},
    "svm+msa_view+augment": {"classifier": "linear_svm", "msa_view": True, "dialect_augmentation": 3, "char_ngram_range": [2, 5]},
    # what config.yml ships since E15
    "svm+msa_view+augment+char1-4": {"classifier": "linear_svm", "msa_view": True, "dialect_augmentation": 3, "char_ngram_range": [1, 4]},
    # without the copies of each request with a bare answer next to it, and with two (E31)
    "shipped-answers": {"answer_augmentation": 0},
    "shipped+answers2": {"answer_augmentation": 2},
    # whatever config.yml ships now
    "shipped": {},
}
Predictor = Callable[[Sequence[str]], List[str]]


@dataclass(frozen=True)
class Example:
    """One labelled message with the metadata the folds split on."""

    text: str
    intent: str
    dialect: str
    script: str


def load(path: Path) -> List[Example]:
    """Every example of a Rasa NLU YAML file or folder, with its dialect and script."""
    from scripts.evaluate_nlu import load_examples

    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    out = []
    for file in files:
        for message in load_examples(file):
            meta = (message.get("metadata") or {}).get("example") or {}
            out.append(Example(message.get("text"), message.get("intent"), str(meta.get("dialect", "unknown")), str(meta.get("script", "unknown"))))
    return out


def shipped_config(path: Path = CONFIG) -> Dict[str, Any]:
    """The intent classifier's options in ``config.yml``, defaults filled in."""
    import yaml

    from bot.nlu.intent_classifier import CharNgramIntentClassifier

    pipeline = yaml.safe_load(path.read_text(encoding="utf-8"))["pipeline"]
    entry = next(c for c in pipeline if c["name"].endswith("CharNgramIntentClassifier"))
    options = {k: v for k, v in entry.items() if k != "name"}
    return {**CharNgramIntentClassifier.get_default_config(), **options}


def train_baseline(texts: Sequence[str], labels: Sequence[str]) -> Predictor:
    """The issue's baseline: TF-IDF char 2–5 + word 1–2 n-grams, LinearSVC, same normalised text."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC

    from bot.nlu.intent_classifier import classifier_input

    model = make_pipeline(
        FeatureUnion(
            [
                ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)),
                ("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")),
            ]
        ),
        LinearSVC(),
    ).fit([classifier_input(t) for t in texts], list(labels))
    return lambda batch: list(model.predict([classifier_input(t) for t in batch]))


def trainer(variant: str, base: Dict[str, Any]) -> Callable[[Sequence[str], Sequence[str]], Predictor]:
    """A function that trains ``variant`` and returns its predictor."""
    options = VARIANTS[variant]
    if options is None:
        return train_baseline
    config = {**base, **options}

    def train(texts: Sequence[str], labels: Sequence[str]) -> Predictor:
        from bot.nlu.intent_classifier import fit_model, model_inputs

        model = fit_model(texts, labels, config)
        return lambda batch: list(model.predict(model_inputs(batch, None, config)))

    return train


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Macro-F1 over the intents present in ``gold`` (as ``make eval`` computes it)."""
    from sklearn.metrics import f1_score

    return float(f1_score(gold, predicted, average="macro", labels=sorted(set(gold)), zero_division=0))


def folds(examples: Sequence[Example]) -> List[Tuple[str, str, List[Example], List[Example]]]:
    """(kind, held-out value, train, test) for every dialect and every script in SCRIPT_FOLDS."""
    out = []
    for dialect in sorted({e.dialect for e in examples}):
        out.append(("dialect", dialect, [e for e in examples if e.dialect != dialect], [e for e in examples if e.dialect == dialect]))
    for script in SCRIPT_FOLDS:
        test = [e for e in examples if e.script == script]
        if test:
            out.append(("script", script, [e for e in examples if e.script != script], test))
    return out


def leave_one_out(examples: Sequence[Example], variants: Sequence[str], base: Dict[str, Any], log: Callable[[str], None] = lambda line: print(line, flush=True)) -> Dict[str, Any]:
    """Macro-F1 of every variant on every fold, the mean over the dialect folds and the
    mean over every fold (dialects, Arabizi and code-switching: the issue's protocol)."""
    rows: Dict[str, Dict[str, Any]] = {}
    for kind, value, train, test in folds(examples):
        row: Dict[str, Any] = {"kind": kind, "train": len(train), "test": len(test)}
        for variant in variants:
            start = time.perf_counter()
            predict = trainer(variant, base)([e.text for e in train], [e.intent for e in train])
            row[variant] = round(macro_f1([e.intent for e in test], predict([e.text for e in test])), 4)
            row[f"{variant}_seconds"] = round(time.perf_counter() - start, 1)
        rows[value] = row
        log(f"{kind} {value} (train {len(train)}, test {len(test)}): " + ", ".join(f"{v} {row[v]:.3f}" for v in variants))
    dialect_rows = [r for r in rows.values() if r["kind"] == "dialect"]
    mean = {v: round(sum(r[v] for r in dialect_rows) / len(dialect_rows), 4) for v in variants}
    mean_all = {v: round(sum(r[v] for r in rows.values()) / len(rows), 4) for v in variants}
    log("mean over dialects: " + ", ".join(f"{v} {mean[v]:.3f}" for v in variants))
    log("mean over every fold: " + ", ".join(f"{v} {mean_all[v]:.3f}" for v in variants))
    return {"folds": rows, "mean_dialect": mean, "mean_all": mean_all}


def score_file(train: Sequence[Example], test: Sequence[Example], variants: Sequence[str], base: Dict[str, Any], log: Callable[[str], None] = lambda line: print(line, flush=True)) -> Dict[str, Any]:
    """Train each variant on ``train``, score ``test`` overall and per dialect of its metadata."""
    groups = sorted({e.dialect for e in test})
    out: Dict[str, Any] = {"examples": len(test), "dialects": dict(Counter(e.dialect for e in test)), "scores": {}}
    for variant in variants:
        start = time.perf_counter()
        predict = trainer(variant, base)([e.text for e in train], [e.intent for e in train])
        predicted = predict([e.text for e in test])
        scores = {"all": round(macro_f1([e.intent for e in test], predicted), 4)}
        for group in groups:
            index = [i for i, e in enumerate(test) if e.dialect == group]
            scores[group] = round(macro_f1([test[i].intent for i in index], [predicted[i] for i in index]), 4)
        scores["seconds"] = round(time.perf_counter() - start, 1)
        out["scores"][variant] = scores
        log(f"{variant}: " + ", ".join(f"{k} {v}" for k, v in scores.items()))
    return out


def out_of_fold_confidences(examples: Sequence[Example], options: Dict[str, Any], base: Dict[str, Any], folds: int = 5) -> Tuple[List[float], List[bool]]:
    """Top confidence and correctness of every example, predicted by a model that did not train on it."""
    from sklearn.model_selection import StratifiedKFold

    from bot.nlu.intent_classifier import fit_model, model_inputs

    config = {**base, **options}
    labels = [e.intent for e in examples]
    confidence, correct = [0.0] * len(examples), [False] * len(examples)
    for train_index, test_index in StratifiedKFold(folds, shuffle=True, random_state=13).split(labels, labels):
        model = fit_model([examples[i].text for i in train_index], [labels[i] for i in train_index], config)
        probabilities = model.predict_proba(model_inputs([examples[i].text for i in test_index], None, config))
        for row, i in enumerate(test_index):
            confidence[i] = float(probabilities[row].max())
            correct[i] = model.classes_[probabilities[row].argmax()] == labels[i]
    return confidence, correct


def matching_threshold(reference: Tuple[List[float], List[bool]], candidate: Tuple[List[float], List[bool]], reference_threshold: float) -> Dict[str, Any]:
    """The candidate's fallback threshold that sends as many messages to fallback as the reference's.

    FallbackClassifier thresholds only mean something for one model's
    confidences; a model with sharper ones needs a higher threshold to catch the
    same share of doubtful messages.
    """
    import numpy as np

    def accepted_accuracy(scores: Tuple[List[float], List[bool]], cut: float) -> float:
        kept = [c for p, c in zip(*scores, strict=True) if p >= cut]
        return round(sum(kept) / max(len(kept), 1), 4)

    rate = float(np.mean(np.asarray(reference[0]) < reference_threshold))
    threshold = float(np.quantile(candidate[0], rate)) if rate > 0 else 0.0

    # the lowest threshold at which the candidate's accepted messages are as accurate as the reference's
    target = accepted_accuracy(reference, reference_threshold)
    same_accuracy = next((cut for cut in np.round(np.arange(0.0, 1.0, 0.01), 2) if accepted_accuracy(candidate, cut) >= target), 1.0)
    return {
        "same_accuracy_threshold": float(same_accuracy),
        "same_accuracy_fallback_rate": round(float(np.mean(np.asarray(candidate[0]) < same_accuracy)), 4),
        "fallback_rate": round(rate, 4),
        "reference_threshold": reference_threshold,
        "threshold": round(threshold, 3),
        "reference_accuracy_accepted": accepted_accuracy(reference, reference_threshold),
        "candidate_accuracy_accepted": accepted_accuracy(candidate, threshold),
    }


def arbanking_examples(folder: Path) -> Tuple[List[Example], Dict[str, List[Example]]]:
    """ArBanking77's train.csv and test_*.csv as examples (dialect = file name)."""
    from bench import arbanking

    def convert(rows: Sequence[Any], name: str) -> List[Example]:
        return [Example(r.text, r.label, name, "arabic") for r in rows]

    train = convert(arbanking.read_csv(folder / "train.csv"), "train")
    tests = {name: convert(arbanking.read_csv(path), name) for name, path in arbanking.test_files(folder).items()}
    return train, tests


def markdown(result: Dict[str, Any], variants: Sequence[str]) -> str:
    """The leave-one-out table: one row per fold, then the dialect mean and the mean of all folds."""
    lines = ["| held out | test | " + " | ".join(variants) + " |", "|---|---|" + "---|" * len(variants)]
    for value, row in result["folds"].items():
        lines.append(f"| {row['kind']} {value} | {row['test']} | " + " | ".join(f"{row[v]:.3f}" for v in variants) + " |")
    mean = result["mean_dialect"]
    lines.append("| **mean of dialects** | | " + " | ".join(f"**{mean[v]:.3f}**" for v in variants) + " |")
    if result.get("mean_all"):
        lines.append("| **mean of all folds** | | " + " | ".join(f"**{result['mean_all'][v]:.3f}**" for v in variants) + " |")
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {','.join(VARIANTS)}")
    parser.add_argument("--data", type=Path, default=NLU_DATA, help="training data folder (default nlu_data/)")
    parser.add_argument("--unseen", type=Path, help="a Rasa NLU YAML file to score per dialect, models trained on all of --data")
    parser.add_argument("--arbanking", action="store_true", help="also score ArBanking77's test files (slow: minutes per variant)")
    parser.add_argument("--calibrate", help="variant whose fallback threshold to match to config.yml's logistic regression at --reference-threshold")
    parser.add_argument("--reference-threshold", type=float, default=0.3)
    parser.add_argument("--skip-folds", action="store_true", help="only --unseen / --arbanking")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = set(variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants: {', '.join(sorted(unknown))}")
    base = shipped_config()
    examples = load(args.data)
    results: Dict[str, Any] = {"variants": {v: VARIANTS[v] for v in variants}, "base_config": base, "examples": len(examples)}
    if not args.skip_folds:
        results["leave_one_out"] = leave_one_out(examples, variants, base)
        print(markdown(results["leave_one_out"], variants), flush=True)
    if args.calibrate:
        reference = out_of_fold_confidences(examples, VARIANTS["logreg"] or {}, base)
        candidate = out_of_fold_confidences(examples, VARIANTS[args.calibrate] or {}, base)
        results["calibration"] = {"variant": args.calibrate, **matching_threshold(reference, candidate, args.reference_threshold)}
        print(f"calibration: {results['calibration']}", flush=True)
    if args.unseen:
        results["unseen"] = {"file": str(args.unseen), **score_file(examples, load(args.unseen), variants, base)}
    if args.arbanking:
        from bench import arbanking

        folder = arbanking.default_folder()
        reason = arbanking.missing_reason(folder)
        if reason:
            results["arbanking"] = {"status": "skipped", "reason": reason}
        else:
            train, tests = arbanking_examples(folder)
            results["arbanking"] = score_file(train, [e for rows in tests.values() for e in rows], variants, base)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
