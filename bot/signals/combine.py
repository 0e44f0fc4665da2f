"""Per head: the transformer, the linear baseline, or the average of their probabilities.

The choice is made once, on the validation split, and stored with the model. The
score is macro-F1, averaged for two heads with the F1 of the decision the assistant
acts on: frustration ``angry`` versus the rest (hand-off priority) and urgency
"any service off" versus ``none`` (urgent routing). With ~180 validation rows, differences of a row or two are noise, so ties go
to the average (an ensemble rarely does worse than its better member on new data),
then to the linear model (cheaper and more stable than a small transformer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from bot.signals.metrics import binary_scores, macro_f1

# Tie-break order, best first.
CHOICES = ("average", "linear", "transformer")
# Per head, the labels of the yes/no decision the assistant acts on.
CRITICAL = {"frustration": ("angry",), "urgency": ("electricity", "water", "internet")}


@dataclass
class Selection:
    """The choice for one head and the validation macro-F1 of every candidate."""

    choice: str
    scores: Dict[str, float] = field(default_factory=dict)


def combine(choice: str, transformer: Optional[np.ndarray], linear: Optional[np.ndarray]) -> np.ndarray:
    """Probabilities of one head under ``choice``.

    Raises:
        ValueError: an unknown choice, or a choice without the probabilities it needs.
    """
    if choice == "transformer" and transformer is not None:
        return transformer
    if choice == "linear" and linear is not None:
        return linear
    if choice in ("transformer", "linear"):
        raise ValueError(f"choice {choice!r} needs its model's probabilities")
    if transformer is None or linear is None:
        raise ValueError(f"choice {choice!r} needs transformer and linear probabilities")
    if choice == "average":
        return (transformer + linear) / 2.0
    raise ValueError(f"unknown choice {choice!r}; expected one of {CHOICES}")


def selection_score(y_true: Sequence[int], probabilities: np.ndarray, labels: Sequence[str], critical: Sequence[str] = ()) -> float:
    """Macro-F1, averaged with the F1 of ``critical`` labels versus the rest when given."""
    predicted = probabilities.argmax(1)
    score = macro_f1(y_true, predicted, len(labels))
    if not critical:
        return score
    positive = [labels.index(c) for c in critical]
    decision = binary_scores(np.isin(y_true, positive), np.isin(predicted, positive))["f1"]
    return (score + decision) / 2.0


def choose(
    y_true: Sequence[int],
    transformer: Optional[np.ndarray],
    linear: np.ndarray,
    labels: Sequence[str],
    critical: Sequence[str] = (),
    tolerance: float = 1e-9,
) -> Selection:
    """The candidate with the best validation score (ties in :data:`CHOICES` order).

    Args:
        y_true: validation labels (indices into ``labels``).
        transformer: transformer probabilities, or None when there is no transformer.
        linear: linear-baseline probabilities.
        labels: the head's labels.
        critical: labels of the head's yes/no decision (see :data:`CRITICAL`).
        tolerance: scores closer than this count as equal.
    """
    candidates: List[str] = [c for c in CHOICES if transformer is not None or c == "linear"]
    scores = {c: selection_score(y_true, combine(c, transformer, linear), labels, critical) for c in candidates}
    best = max(scores.values())
    choice = next(c for c in CHOICES if c in scores and scores[c] >= best - tolerance)
    return Selection(choice, scores)
