"""Tune our intent classifier's settings on ArBanking77's validation split.

Fits :func:`bot.nlu.intent_classifier.build_model` (the exact scikit-learn
pipeline the Rasa component trains) on ``train.csv`` for a grid of the settings
``config.yml`` exposes (character n-gram range, word n-gram range, C) and scores
``val.csv``. The test files are never read here, so a setting chosen on these
figures can still be judged fairly on them. Features are built once per n-gram
range and shared by every C. Results go to ``bench/EXPERIMENTS.md`` by hand.

Usage:
    python -m bench.experiments [--arbanking DIR] [--out FILE.json]
        [--grid NAME | --variants A,B | --classifiers A,B]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from itertools import groupby
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench import arbanking

BASELINE = {"char_ngram_range": [2, 5], "word_ngram_range": [1, 2], "C": 20.0}
# One setting changed at a time around the shipped config, then a few combinations.
GRIDS: Dict[str, List[Dict[str, Any]]] = {
    "c": [{**BASELINE, "C": c} for c in (5.0, 10.0, 20.0, 50.0)],
    "char": [{**BASELINE, "char_ngram_range": r} for r in ([1, 4], [2, 4], [2, 6], [3, 5])],
    "word": [{**BASELINE, "word_ngram_range": [1, 1]}, {**BASELINE, "word_ngram_range": [1, 3]}],
}
GRIDS["default"] = GRIDS["c"] + GRIDS["char"] + GRIDS["word"]
# Input variants at the shipped n-gram settings (see run_variants): what the
# classifier reads, and the signals encoder's sentence embedding as dense features.
VARIANTS: Dict[str, Dict[str, Any]] = {
    "shipped": {"input": "normalised", "dense_weight": 0.0},
    "raw_text": {"input": "raw", "dense_weight": 0.0},
    "dense_1": {"input": "normalised", "dense_weight": 1.0},
    "dense_3": {"input": "normalised", "dense_weight": 3.0},
}


# Other linear classifiers on the shipped features (see run_classifiers). A
# classifier without predict_proba would need its decision values turned into
# confidences for Rasa's FallbackClassifier, so a winner here is not a drop-in.
CLASSIFIERS: Dict[str, Dict[str, Any]] = {
    "logreg_c20": {"kind": "logreg", "C": 20.0},
    "svm_c0.3": {"kind": "svm", "C": 0.3},
    "svm_c1": {"kind": "svm", "C": 1.0},
    "svm_c3": {"kind": "svm", "C": 3.0},
    "svm_c10": {"kind": "svm", "C": 10.0},
    "svm_t_c3": {"kind": "svm_temperature", "C": 3.0},
    "ridge_a1": {"kind": "ridge", "alpha": 1.0},
    "sgd_mhuber": {"kind": "sgd", "alpha": 2e-5},
}


def make_classifier(spec: Dict[str, Any]) -> Any:
    """An untrained scikit-learn classifier for one :data:`CLASSIFIERS` entry."""
    from sklearn.linear_model import RidgeClassifier, SGDClassifier
    from sklearn.svm import LinearSVC

    from bot.nlu.intent_classifier import build_model

    kind = spec["kind"]
    if kind == "logreg":  # the shipped classifier, exactly as the Rasa component builds it
        return build_model({**BASELINE, "C": spec["C"]}).named_steps["classifier"]
    if kind == "svm":
        return LinearSVC(C=spec["C"], class_weight="balanced")
    if kind == "svm_temperature":
        return TemperatureScaledSVC(C=spec["C"])
    if kind == "ridge":
        return RidgeClassifier(alpha=spec["alpha"], class_weight="balanced", solver="sparse_cg")
    if kind == "sgd":
        return SGDClassifier(loss="modified_huber", alpha=spec["alpha"], max_iter=50, tol=1e-4, class_weight="balanced", random_state=13)
    raise ValueError(f"unknown classifier kind {kind!r}")


class TemperatureScaledSVC:
    """LinearSVC with confidences ``softmax(t × decision values)`` for Rasa's fallback.

    One global temperature ``t`` (:func:`bot.nlu.intent_classifier.svm_temperature`);
    the final SVC is fitted on all the data, so the ranking (and the accuracy) is the
    plain SVC's.
    """

    def __init__(self, C: float, folds: int = 3, seed: int = 13) -> None:
        self.C, self.folds, self.seed = C, folds, seed

    def _svc(self) -> Any:
        from sklearn.svm import LinearSVC

        return LinearSVC(C=self.C, class_weight="balanced")

    def fit(self, features: Any, labels: Sequence[str]) -> TemperatureScaledSVC:
        import numpy as np

        from bot.nlu.intent_classifier import svm_temperature

        y = np.asarray(labels)
        self.classes_ = np.unique(y)
        self.temperature_ = svm_temperature(features, y, self._svc, self.folds, self.seed)
        self.svc_ = self._svc().fit(features, y)
        self.n_iter_ = self.svc_.n_iter_
        return self

    def predict_proba(self, features: Any) -> Any:
        import numpy as np

        scores = self.svc_.decision_function(features)
        if scores.ndim == 1:
            scores = np.column_stack([-scores, scores])
        z = scores * self.temperature_
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def predict(self, features: Any) -> Any:
        return self.svc_.predict(features)


def features_key(config: Dict[str, Any]) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """Configs with the same key share one feature matrix."""
    return tuple(config["char_ngram_range"]), tuple(config["word_ngram_range"])


def inputs(texts: Sequence[str]) -> List[str]:
    """What the classifier reads for each text (normalised, numbers masked)."""
    from bot.nlu.intent_classifier import classifier_input

    return [classifier_input(text) for text in texts]


def run_grid(grid: Sequence[Dict[str, Any]], train: Sequence[arbanking.Example], val: Sequence[arbanking.Example]) -> List[Dict[str, Any]]:
    """Fit and score every config; print a line per result as it comes."""
    from sklearn.base import clone

    from bot.nlu.intent_classifier import build_model

    start = time.perf_counter()
    x_train, x_val = inputs([e.text for e in train]), inputs([e.text for e in val])
    y_train, y_val = [e.label for e in train], [e.label for e in val]
    print(f"normalised {len(x_train) + len(x_val)} texts in {time.perf_counter() - start:.0f}s", flush=True)
    results = []
    for key, configs in groupby(sorted(grid, key=features_key), key=features_key):
        pipeline = build_model(BASELINE | {"char_ngram_range": list(key[0]), "word_ngram_range": list(key[1])})
        start = time.perf_counter()
        features = pipeline.named_steps["features"]
        f_train = features.fit_transform(x_train)
        f_val = features.transform(x_val)
        feature_seconds = time.perf_counter() - start
        for config in configs:
            classifier = clone(pipeline.named_steps["classifier"]).set_params(C=config["C"])
            results.append(_fit_and_score(classifier, f_train, y_train, f_val, y_val, feature_seconds, dict(config)))
    return results


def run_classifiers(names: Sequence[str], train: Sequence[arbanking.Example], val: Sequence[arbanking.Example]) -> List[Dict[str, Any]]:
    """Fit each :data:`CLASSIFIERS` entry on the shipped features; score val."""
    from bot.nlu.intent_classifier import build_model

    y_train, y_val = [e.label for e in train], [e.label for e in val]
    start = time.perf_counter()
    features = build_model(BASELINE).named_steps["features"]
    f_train = features.fit_transform(inputs([e.text for e in train]))
    f_val = features.transform(inputs([e.text for e in val]))
    feature_seconds = time.perf_counter() - start
    return [_fit_and_score(make_classifier(CLASSIFIERS[name]), f_train, y_train, f_val, y_val, feature_seconds, {"classifier": name, **CLASSIFIERS[name]}) for name in names]


def signals_embeddings(texts: Sequence[str], batch_size: int = 64) -> Any:
    """Mean-pooled sentence embeddings of the shipped signals encoder (rows L2-normalised).

    The same encoder ``SignalsAnalyzer`` already runs on every message, so a
    pipeline using it as a feature would pay no extra encoder pass at parse time.
    """
    import numpy as np

    from bot.signals.predict import SignalsPredictor
    from bot.signals.text import prepare

    model = SignalsPredictor.load(engine="numpy").model
    tokenizer = model._tokenizer  # noqa: SLF001 - experiment only; the runtime exposes no embedding API
    encodings = [e.ids for e in tokenizer.encode_batch([prepare(t).text for t in texts])]
    order = np.argsort([len(ids) for ids in encodings], kind="stable")
    out = np.zeros((len(texts), 192), dtype=np.float32)
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        width = max(len(encodings[i]) for i in index)
        ids = np.zeros((len(index), width), dtype=np.int64)
        mask = np.zeros((len(index), width), dtype=np.float32)
        for row, i in enumerate(index):
            ids[row, : len(encodings[i])] = encodings[i]
            mask[row, : len(encodings[i])] = 1.0
        out[index] = model.pooled(ids, mask)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def run_variants(names: Sequence[str], train: Sequence[arbanking.Example], val: Sequence[arbanking.Example]) -> List[Dict[str, Any]]:
    """Fit the shipped settings on each input variant of :data:`VARIANTS`; score val."""
    import scipy.sparse as sp
    from sklearn.base import clone

    from bot.nlu.intent_classifier import build_model

    y_train, y_val = [e.label for e in train], [e.label for e in val]
    texts_train, texts_val = [e.text for e in train], [e.text for e in val]
    readers = {"normalised": inputs, "raw": lambda texts: [t.lower() for t in texts]}
    cache: Dict[str, Any] = {}
    results = []
    for name in names:
        variant = VARIANTS[name]
        pipeline = build_model(BASELINE)
        if variant["input"] not in cache:
            start = time.perf_counter()
            features = pipeline.named_steps["features"]
            read = readers[variant["input"]]
            cache[variant["input"]] = (features.fit_transform(read(texts_train)), features.transform(read(texts_val)), time.perf_counter() - start)
        f_train, f_val, feature_seconds = cache[variant["input"]]
        weight = variant["dense_weight"]
        if weight:
            if "dense" not in cache:
                start = time.perf_counter()
                cache["dense"] = (signals_embeddings(texts_train), signals_embeddings(texts_val))
                print(f"embedded {len(texts_train) + len(texts_val)} texts in {time.perf_counter() - start:.0f}s", flush=True)
            d_train, d_val = cache["dense"]
            f_train = sp.hstack([f_train, sp.csr_matrix(d_train * weight)]).tocsr()
            f_val = sp.hstack([f_val, sp.csr_matrix(d_val * weight)]).tocsr()
        classifier = clone(pipeline.named_steps["classifier"])
        results.append(_fit_and_score(classifier, f_train, y_train, f_val, y_val, feature_seconds, {"variant": name, **variant}))
    return results


def _iterations(classifier: Any) -> int:
    """The solver's iteration count (0 for estimators that do not report one)."""
    import numpy as np

    n_iter = getattr(classifier, "n_iter_", None)
    return int(np.max(n_iter)) if n_iter is not None else 0


def _fit_and_score(
    classifier: Any, f_train: Any, y_train: Any, f_val: Any, y_val: Any, feature_seconds: float, label: Dict[str, Any]
) -> Dict[str, Any]:
    """Fit ``classifier`` on the training features, score it on validation, print the row."""
    from sklearn.metrics import accuracy_score, f1_score

    start = time.perf_counter()
    classifier.fit(f_train, y_train)
    fit_seconds = time.perf_counter() - start
    predicted = classifier.predict(f_val)
    row = {
        **label,
        "val_accuracy": round(float(accuracy_score(y_val, predicted)), 4),
        "val_macro_f1": round(float(f1_score(y_val, predicted, average="macro")), 4),
        "features": int(f_train.shape[1]),
        "feature_seconds": round(feature_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        "iterations": _iterations(classifier),
    }
    if hasattr(classifier, "temperature_"):
        row["temperature"] = round(classifier.temperature_, 3)
    if hasattr(classifier, "predict_proba"):
        # share of validation messages Rasa's FallbackClassifier (config.yml: 0.3) would catch
        row["fallback_rate_0.3"] = round(float((classifier.predict_proba(f_val).max(axis=1) < 0.3).mean()), 4)
    print(json.dumps(row), flush=True)
    return row


def markdown(rows: Sequence[Dict[str, Any]]) -> str:
    """A Markdown table of results, best macro-F1 first."""
    lines = ["| char | word | C | val accuracy | val macro-F1 | features | fit s | iterations |", "|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["val_macro_f1"]):
        lines.append(
            f"| {r['char_ngram_range'][0]}–{r['char_ngram_range'][1]} | {r['word_ngram_range'][0]}–{r['word_ngram_range'][1]} | {r['C']:g} | "
            f"{r['val_accuracy']:.4f} | {r['val_macro_f1']:.4f} | {r['features']} | {r['fit_seconds']:.0f} | {r['iterations']} |"
        )
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Command line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arbanking", type=Path, default=None)
    parser.add_argument("--grid", choices=sorted(GRIDS), default="default")
    parser.add_argument("--variants", help=f"comma-separated input variants instead of a grid: {','.join(VARIANTS)}")
    parser.add_argument("--classifiers", help=f"comma-separated classifiers on the shipped features: {','.join(CLASSIFIERS)}")
    parser.add_argument("--out", type=Path, help="write the results as JSON here too")
    args = parser.parse_args(argv)
    folder = args.arbanking or arbanking.default_folder()
    reason = arbanking.missing_reason(folder) or (None if (folder / "val.csv").is_file() else f"no val.csv in {folder}")
    if reason:
        print(f"skipped: {reason}")
        return 0
    train, val = arbanking.read_csv(folder / "train.csv"), arbanking.read_csv(folder / "val.csv")
    if args.classifiers:
        rows = run_classifiers([c.strip() for c in args.classifiers.split(",")], train, val)
    elif args.variants:
        rows = run_variants([v.strip() for v in args.variants.split(",")], train, val)
    else:
        rows = run_grid(GRIDS[args.grid], train, val)
        print(markdown(rows))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
