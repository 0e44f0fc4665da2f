"""Score a few messages with a fitted TF-IDF + linear pipeline, without scikit-learn's machinery.

Rasa parses one message at a time. For one message, scikit-learn's
``ColumnTransformer.transform`` spends most of its time on things that do not depend
on the message: joblib's dispatch, validation, building and multiplying sparse
matrices. Under load that was about 12 % of a Rasa process (py-spy, ``python -m
bench.scale``). This module reads the fitted vocabularies, idf weights and
coefficients once and scores a message with a dictionary lookup per n-gram and one
gather of coefficient rows. The analysers are the vectorisers' own
(``build_analyzer()``), so the features are exactly scikit-learn's; the probabilities
equal ``predict_proba``'s to floating-point rounding (``tests/unit/test_fast_linear.py``).

Only the shapes the intent classifier builds are taken (:func:`FastLinearPipeline.of`
returns None otherwise, and the caller keeps scikit-learn): a ``Pipeline`` of a
``ColumnTransformer`` or ``FeatureUnion`` of ``TfidfVectorizer``s and a
``LogisticRegression``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class _View:
    """One vectoriser: which input column it reads and where its features start."""

    column: Optional[int]  # None: the input is the text itself (FeatureUnion)
    analyse: Callable[[str], List[str]]
    vocabulary: Dict[str, int]
    idf: Optional[np.ndarray]
    sublinear_tf: bool
    binary: bool
    l2: bool
    offset: int

    def features(self, row: Any) -> Dict[int, float]:
        """Column -> TF-IDF value of one input, as ``TfidfVectorizer.transform`` computes it."""
        text = row if self.column is None else row[self.column]
        counts = Counter(self.vocabulary[gram] for gram in self.analyse(text) if gram in self.vocabulary)
        if not counts:
            return {}
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        if self.binary:
            values = np.ones_like(values)
        elif self.sublinear_tf:
            values = np.log(values) + 1.0
        if self.idf is not None:
            values = values * self.idf[columns]
        if self.l2:
            norm = float(np.sqrt(np.dot(values, values)))
            if norm > 0.0:
                values = values / norm
        return dict(zip((columns + self.offset).tolist(), values.tolist(), strict=True))


class FastLinearPipeline:
    """``predict_proba`` of a fitted TF-IDF + LogisticRegression pipeline, for a few rows.

    Args:
        views: the vectorisers in the order of the stacked feature matrix.
        weights: coefficients as (features, classes), rows contiguous.
        intercept: one value per class.
        multinomial: softmax over classes (else one-vs-rest sigmoids, normalised).
    """

    def __init__(self, views: Sequence[_View], weights: np.ndarray, intercept: np.ndarray, multinomial: bool) -> None:
        self.views = list(views)
        self.weights = weights
        self.intercept = intercept
        self.multinomial = multinomial

    @classmethod
    def of(cls, model: Any) -> Optional[FastLinearPipeline]:
        """The fast scorer for ``model``, or None when its shape is not one this module reads."""
        from sklearn.compose import ColumnTransformer
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline

        if not isinstance(model, Pipeline) or len(model.steps) != 2:
            return None
        features, classifier = model.steps[0][1], model.steps[1][1]
        if not isinstance(classifier, LogisticRegression) or not hasattr(classifier, "coef_"):
            return None
        if isinstance(features, ColumnTransformer):
            if features.transformer_weights:
                return None
            # in the order of the stacked matrix; a dropped remainder adds no column
            parts = [(t, c) for _, t, c in features.transformers_ if not (isinstance(t, str) and t == "drop")]
            if not all(isinstance(c, int) for _, c in parts):
                return None
        elif isinstance(features, FeatureUnion):
            if features.transformer_weights:
                return None
            parts = [(t, None) for _, t in features.transformer_list]
        else:
            return None
        views, offset = [], 0
        for vectoriser, column in parts:
            if not isinstance(vectoriser, TfidfVectorizer) or vectoriser.norm not in ("l2", None):
                return None
            idf = vectoriser.idf_ if vectoriser.use_idf else None
            views.append(_View(column, vectoriser.build_analyzer(), vectoriser.vocabulary_, idf, vectoriser.sublinear_tf,
                               vectoriser.binary, vectoriser.norm == "l2", offset))
            offset += len(vectoriser.vocabulary_)
        coef = np.asarray(classifier.coef_, dtype=np.float64)
        if coef.shape[1] != offset:
            return None
        # Fortran-ordered coef_ (with_fast_prediction) makes this transpose a view
        weights = np.ascontiguousarray(coef.T)
        return cls(views, weights, np.asarray(classifier.intercept_, dtype=np.float64), _is_multinomial(classifier))

    def decision(self, row: Any) -> np.ndarray:
        """``X @ coef_.T + intercept_`` for one input row."""
        merged: Dict[int, float] = {}
        for view in self.views:
            merged.update(view.features(row))
        if not merged:
            return self.intercept.copy()
        columns = np.fromiter(merged.keys(), dtype=np.int64, count=len(merged))
        values = np.fromiter(merged.values(), dtype=np.float64, count=len(merged))
        return values @ self.weights[columns] + self.intercept

    def predict_proba(self, rows: Sequence[Any]) -> np.ndarray:
        """Class probabilities, one row per input (as ``LogisticRegression.predict_proba``)."""
        return np.vstack([self._probabilities(self.decision(row)) for row in rows]) if len(rows) else np.zeros((0, len(self.intercept)))

    def _probabilities(self, decision: np.ndarray) -> np.ndarray:
        if self.multinomial:
            scores = np.array([-decision[0], decision[0]]) if decision.shape[0] == 1 else decision
            scores = np.exp(scores - scores.max())
            return scores / scores.sum()
        positive = 1.0 / (1.0 + np.exp(-decision))
        if positive.shape[0] == 1:
            return np.array([1.0 - positive[0], positive[0]])
        return positive / positive.sum()


def _is_multinomial(classifier: Any) -> bool:
    """Whether scikit-learn's ``predict_proba`` takes the softmax (1.1's rule)."""
    multi_class = getattr(classifier, "multi_class", "auto")
    if multi_class == "auto":
        return not (len(classifier.classes_) <= 2 or classifier.solver == "liblinear")
    return multi_class == "multinomial"
