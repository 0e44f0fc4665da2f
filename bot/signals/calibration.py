"""Frustration for real traffic: a calibrated stack over three readings of a message.

The in-domain frustration models (transformer and linear, trained on ~2,000
customer-service messages) read laughter, joy and love in text unlike their training
data as anger: on public tweets their frustration score separated negative from
positive barely better than chance. Three readings go into one small multinomial
logistic regression (:class:`FrustrationStack`):

* ``chosen``: the in-domain head as selected at training (transformer, linear or average);
* ``joint``: a TF-IDF + logistic-regression frustration head trained on the in-domain
  rows *and* the public sentiment training tweets (negative → ``annoyed``, neutral and
  positive → ``calm``), so it has seen how people write when they are happy;
* ``sentiment``: the negative / neutral / positive head trained on those tweets.

The stack is fitted on validation rows that none of the three trained on (the
in-domain validation split and the public datasets' validation parts), weighted so
that both sources count equally, which also calibrates the probabilities: its
expected calibration error is reported by training and evaluation
(:func:`expected_calibration_error`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

SOURCES = ("joint", "chosen", "sentiment")
FLOOR = 1e-4


def features(joint: np.ndarray, chosen: np.ndarray, sentiment: np.ndarray) -> np.ndarray:
    """Log-probabilities of the three readings side by side (rows: messages)."""
    return np.log(np.clip(np.hstack([joint, chosen, sentiment]).astype(np.float64), FLOOR, 1.0))


@dataclass
class FrustrationStack:
    """Multinomial logistic regression on :func:`features`; classes in ``labels`` order.

    Attributes:
        labels: the frustration labels (calm, annoyed, angry).
        coef: (classes, features) weights.
        intercept: (classes,) biases.
    """

    labels: List[str]
    coef: np.ndarray
    intercept: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, y: Sequence[int], labels: Sequence[str], weights: Optional[np.ndarray] = None, c: float = 1.0) -> FrustrationStack:
        """Fit on features and label indices (every label must occur in ``y``)."""
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=3000).fit(x, np.asarray(y), sample_weight=weights)
        if list(model.classes_) != list(range(len(labels))):
            raise ValueError(f"the stack needs every frustration label in its data, got classes {list(model.classes_)}")
        return cls(list(labels), model.coef_.astype(np.float64), model.intercept_.astype(np.float64))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def save(self, path: Path) -> None:
        data = {"labels": self.labels, "sources": list(SOURCES), "coef": self.coef.tolist(), "intercept": self.intercept.tolist()}
        Path(path).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> FrustrationStack:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("sources") != list(SOURCES):
            raise ValueError(f"{path}: stack sources {data.get('sources')} differ from {list(SOURCES)}")
        return cls(list(data["labels"]), np.asarray(data["coef"], np.float64), np.asarray(data["intercept"], np.float64))


def expected_calibration_error(probabilities: np.ndarray, truth: Union[Sequence[int], np.ndarray], bins: int = 10) -> float:
    """Top-label expected calibration error: the confidence-weighted gap between how
    sure the model is and how often it is right, over ``bins`` equal-width bins."""
    probabilities = np.asarray(probabilities)
    labels = np.asarray(truth)
    if len(labels) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high) if low > 0 else (confidence >= low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(error)


def frustration_score(probabilities: np.ndarray) -> np.ndarray:
    """The 0..1 frustration score the assistant uses: P(annoyed)/2 + P(angry)."""
    return np.clip(probabilities[:, 1] * 0.5 + probabilities[:, 2], 0.0, 1.0)


def cross_validated(x: np.ndarray, y: np.ndarray, labels: Sequence[str], weights: np.ndarray, folds: int = 5, seed: int = 13) -> np.ndarray:
    """Out-of-fold probabilities of the stack (for its validation scores and ECE)."""
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros((len(y), len(labels)), dtype=np.float32)
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        out[test] = FrustrationStack.fit(x[train], y[train], labels, weights[train]).probabilities(x[test])
    return out


def summary(probabilities: np.ndarray, truth: Union[Sequence[int], np.ndarray]) -> Dict[str, float]:
    """Macro-F1 and ECE of frustration probabilities against label indices."""
    from bot.signals.metrics import macro_f1

    return {
        "macro_f1": macro_f1(truth, probabilities.argmax(1), probabilities.shape[1]),
        "ece": expected_calibration_error(probabilities, truth),
    }
