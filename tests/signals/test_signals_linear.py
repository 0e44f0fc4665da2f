"""The exported linear baseline scores exactly like scikit-learn, and survives save/load."""

import numpy as np
import scipy.sparse as sp

from bot.signals.linear import LinearSignals, _tfidf, vectorizer_params
from bot.signals.text import model_input

TEXTS = [model_input(t) for t in [
    "الكهرباء مقطوعة من امس!!!", "متى موعد الفاتوره", "الانترنت فاصل", "شكرا لكم",
    "el net m2to3 men embare7", "حرااام عليكم المويه مقطوعه", "ابي اغير الباقه", "النت بطيء شوي",
]]
LABELS = {"urgency": ["electricity", "none", "internet", "none", "internet", "water", "none", "none"],
          "frustration": ["angry", "calm", "annoyed", "calm", "annoyed", "angry", "calm", "annoyed"]}
HEAD_LABELS = {"urgency": ["none", "electricity", "water", "internet"], "frustration": ["calm", "annoyed", "angry"]}


def _fit():
    return LinearSignals.fit(TEXTS, LABELS, HEAD_LABELS, {"urgency": 10.0, "frustration": 10.0})


def test_features_equal_scikit_learn():
    model = _fit()
    new = [model_input("الكهربا مقطوعة والنت فاصل!!"), ""]
    expected = sp.hstack([_tfidf(p).fit(TEXTS).transform(new) for p in vectorizer_params().values()]).toarray()
    np.testing.assert_allclose(model.features(new).toarray(), expected, atol=1e-6)


def test_probabilities_equal_scikit_learn_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    model = _fit()
    features = sp.hstack([_tfidf(p).fit_transform(TEXTS) for p in vectorizer_params().values()]).tocsr()
    reference = LogisticRegression(C=10.0, max_iter=3000, class_weight="balanced").fit(features, LABELS["urgency"])
    ours = model.predict_proba(TEXTS)["urgency"]
    for column, label in enumerate(reference.classes_):
        np.testing.assert_allclose(ours[:, HEAD_LABELS["urgency"].index(label)], reference.predict_proba(features)[:, column], atol=1e-5)


def test_columns_follow_head_labels_and_rows_sum_to_one():
    probabilities = _fit().predict_proba(TEXTS + [""])
    assert probabilities["urgency"].shape == (9, 4) and probabilities["frustration"].shape == (9, 3)
    for values in probabilities.values():
        np.testing.assert_allclose(values.sum(1), 1.0, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    model = _fit()
    model.save(tmp_path / "linear")
    loaded = LinearSignals.load(tmp_path / "linear")
    for head, values in model.predict_proba(TEXTS).items():
        np.testing.assert_array_equal(loaded.predict_proba(TEXTS)[head], values)
    assert {p.name for p in tmp_path.iterdir()} == {"linear.json", "linear.npz"}
