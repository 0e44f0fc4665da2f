"""The fast scorer gives scikit-learn's probabilities for the intent classifier's pipelines."""

from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import pytest

from bot.nlu.fast_linear import FastLinearPipeline
from bot.nlu.intent_classifier import CharNgramIntentClassifier, fit_model, model_inputs

TRAIN = {
    "report_outage": ["الكهرباء مقطوعة عندنا", "النور قاطع من الصبح", "ما في كهربا بالبيت", "el kahraba ma2tou3a", "power is out"],
    "ask_bill": ["كم فاتورتي هالشهر", "ابغى اعرف الفاتورة", "قديش الفاتورة", "fatourti kam", "how much is my bill"],
    "greet": ["السلام عليكم", "مرحبا", "اهلين", "salam", "hello"],
}
# unseen words, mixed scripts, digits, emoji, an empty-feature message, HTML
PROBES = ["الكهربا قاطعة من امس", "bill kam ya3ni", "٤٤٧١٢٠٣", "😀", "", "<b>مرحبا</b> يا جماعة", "النت والكهرباء", "zzzz qqqq"]


def _data(classes: List[str]) -> Dict[str, List[Any]]:
    texts = [text for label in classes for text in TRAIN[label]]
    labels = [label for label in classes for _ in TRAIN[label]]
    return {"texts": texts, "labels": labels}


@pytest.mark.parametrize(
    "changes, classes",
    [
        ({}, ["report_outage", "ask_bill", "greet"]),  # the shipped defaults: SVM as logistic, MSA view
        ({"msa_view": False}, ["report_outage", "ask_bill", "greet"]),  # FeatureUnion
        ({"classifier": "logistic_regression"}, ["report_outage", "ask_bill", "greet"]),
        ({"classifier": "logistic_regression"}, ["report_outage", "greet"]),  # two classes: one-vs-rest
        ({}, ["report_outage", "greet"]),  # two classes through the SVM
    ],
)
def test_probabilities_equal_scikit_learns(changes: Dict[str, Any], classes: List[str]) -> None:
    config = {**CharNgramIntentClassifier.get_default_config(), "dialect_augmentation": 0, **changes}
    data = _data(classes)
    model = fit_model(data["texts"], data["labels"], config)
    fast = FastLinearPipeline.of(model)
    assert fast is not None
    rows = model_inputs(PROBES + data["texts"], None, config)
    expected = model.predict_proba(rows)
    assert np.allclose(fast.predict_proba(rows), expected, rtol=1e-9, atol=1e-12)
    # one row at a time, as Rasa parses
    assert np.allclose(fast.predict_proba(rows[:1]), expected[:1], rtol=1e-9, atol=1e-12)


def test_a_pipeline_of_another_shape_is_left_to_scikit_learn() -> None:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    data = _data(["report_outage", "greet"])
    counted = Pipeline([("features", CountVectorizer()), ("classifier", LogisticRegression())]).fit(data["texts"], data["labels"])
    assert FastLinearPipeline.of(counted) is None
    assert FastLinearPipeline.of(object()) is None
