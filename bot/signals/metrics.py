"""Classification metrics shared by training (model selection) and evaluation."""

from __future__ import annotations

from typing import Dict, List

import numpy as np
from numpy.typing import ArrayLike


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike, n_classes: int) -> float:
    """Macro-F1 over the classes present in ``y_true`` or ``y_pred``."""
    from sklearn.metrics import f1_score

    labels = sorted(set(np.asarray(y_true, dtype=int).tolist()) | set(np.asarray(y_pred, dtype=int).tolist()))
    labels = [c for c in labels if c < n_classes]
    return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def head_report(y_true: ArrayLike, probabilities: np.ndarray, labels: List[str]) -> Dict:
    """Macro-F1, accuracy, per-class precision/recall/F1/support and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    truth = np.asarray(y_true, dtype=int)
    y_pred = probabilities.argmax(axis=1) if len(truth) else np.zeros(0, dtype=int)
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, y_pred, labels=list(range(len(labels))), zero_division=0
    )
    per_class = {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, label in enumerate(labels)
    }
    return {
        "macro_f1": macro_f1(truth, y_pred, len(labels)),
        "accuracy": float((truth == y_pred).mean()) if len(truth) else 0.0,
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(truth, y_pred, labels=list(range(len(labels)))).tolist(),
    }


def binary_scores(y_true: ArrayLike, y_pred: ArrayLike) -> Dict[str, float]:
    """Precision, recall and F1 of a yes/no decision."""
    truth, predicted = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    tp = float((truth & predicted).sum())
    precision = tp / predicted.sum() if predicted.sum() else 0.0
    recall = tp / truth.sum() if truth.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1), "support": int(truth.sum())}
