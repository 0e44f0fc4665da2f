"""The intent classifier's model options train, predict and survive a model file."""

import numpy as np
import pytest

from bot.nlu.intent_classifier import (
    _TRUSTED_PREFIXES,
    CharNgramIntentClassifier,
    answer_copies,
    fit_model,
    model_inputs,
)

TEXTS = [
    "الكهرباء مقطوعة في حي النرجس", "ما في كهربا من الصبح", "النت فاصل عندنا", "الموية مقطوعة من امس",
    "كم فاتورتي هذا الشهر", "بدي اعرف قيمة الفاتورة", "عايز اعرف الفاتورة كام", "ابغى اعرف كم علي فلوس",
    "السلام عليكم", "مرحبا", "هلا والله", "صباح الخير",
]
LABELS = ["report_outage"] * 4 + ["bill_inquiry"] * 4 + ["greet"] * 4


def config(**options):
    return {**CharNgramIntentClassifier.get_default_config(), **options}


@pytest.mark.parametrize(
    "options",
    [
        {"classifier": "logistic_regression", "msa_view": False, "dialect_augmentation": 0},  # config.yml before issue 16
        {"classifier": "logistic_regression", "msa_view": True, "dialect_augmentation": 0},
        {"classifier": "linear_svm", "msa_view": False, "dialect_augmentation": 0},
        {"classifier": "linear_svm", "msa_view": False, "dialect_augmentation": 2},
        {},  # the defaults: SVM, MSA view, augmentation
    ],
)
def test_every_option_learns_the_training_data_and_gives_probabilities(options):
    cfg = config(**options)
    model = fit_model(TEXTS, LABELS, cfg)
    probabilities = model.predict_proba(model_inputs(TEXTS, None, cfg))
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert list(model.classes_[probabilities.argmax(axis=1)]) == LABELS


def test_msa_view_reads_an_unseen_dialect_word_through_its_msa_form():
    cfg = config(msa_view=True, dialect_augmentation=0)
    model = fit_model(TEXTS, LABELS, cfg)
    # "قديش" (Levantine "how much") is in no training example; the MSA view reads it as كم
    assert model.predict(model_inputs(["قديش فاتورتي"], None, cfg))[0] == "bill_inquiry"


def test_svm_confidences_are_a_softmax_of_its_decision_values():
    cfg = config(classifier="linear_svm")
    model = fit_model(TEXTS, LABELS, cfg)
    classifier = model.steps[-1][1]
    features = model.steps[0][1].transform(model_inputs(TEXTS, None, cfg))
    scores = features @ np.asarray(classifier.coef_).T + classifier.intercept_
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    assert np.allclose(model.predict_proba(model_inputs(TEXTS, None, cfg)), expected / expected.sum(axis=1, keepdims=True))


def test_without_the_msa_view_the_model_reads_plain_strings():
    # what a config.yml that sets only char_ngram_range, word_ngram_range and C got before
    cfg = config(classifier="logistic_regression", msa_view=False, dialect_augmentation=0)
    assert model_inputs(["النت فاصل"], None, cfg) == ["النت فاصل"]


@pytest.mark.parametrize("options", [{"msa_view": True, "classifier": "linear_svm"}])
def test_model_file_holds_only_trusted_types(tmp_path, options):
    import skops.io as sio

    cfg = config(**options)
    model = fit_model(TEXTS, LABELS, cfg)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert all(t.startswith(_TRUSTED_PREFIXES) for t in untrusted)
    loaded = sio.load(path, trusted=untrusted)
    inputs = model_inputs(TEXTS, None, cfg)
    assert np.allclose(loaded.predict_proba(inputs), model.predict_proba(inputs))


def test_component_trains_persists_loads_and_ranks_with_the_default_config(tmp_path):
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    storage = LocalModelStorage(tmp_path)
    resource = Resource("intent_classifier")
    context = ExecutionContext(GraphSchema({}), "test")
    defaults = CharNgramIntentClassifier.get_default_config()
    trainer = CharNgramIntentClassifier.create(defaults, storage, resource, context)
    trainer.train(TrainingData([Message(data={"text": t, "intent": i}) for t, i in zip(TEXTS, LABELS, strict=True)]))
    loaded = CharNgramIntentClassifier.load(defaults, storage, resource, context)
    message = Message(data={"text": "ليش الكهرباء مفصولة"})
    loaded.process([message])
    assert message.get("intent")["name"] == "report_outage"
    assert len(message.get("intent_ranking")) == 3


def test_a_lexicon_edit_changes_the_training_fingerprint(tmp_path, monkeypatch):
    """Rasa retrains the classifier when a lexicon it reads changes, not only its data."""
    from bot.nlu import dialect_msa

    shipped = CharNgramIntentClassifier.fingerprint_addon({})
    assert shipped == CharNgramIntentClassifier.fingerprint_addon({})
    edited = tmp_path / "dialect_msa.yml"
    edited.write_bytes(dialect_msa.DIALECT_LEXICON_PATH.read_bytes() + b"\n# one more line\n")
    monkeypatch.setattr(dialect_msa, "DIALECT_LEXICON_PATH", edited)
    assert CharNgramIntentClassifier.fingerprint_addon({}) != shipped


def test_requests_are_also_learnt_with_a_bare_answer_next_to_them():
    texts = ["ابي احجز موعد فني", "وش صار على بلاغي", "شكرا", "رقم حسابي 4471203", "بكرة العصر", "الكهربا مقطوعة من الصبح عندنا في البيت كله"]
    labels = ["book_appointment", "request_status", "thank", "inform", "inform", "report_outage"]
    copies, copy_labels = answer_copies(texts, labels, 1)
    assert copy_labels == ["book_appointment", "request_status", "report_outage"]  # not thanks, not the answers
    for copy, text in zip(copies, [texts[0], texts[1], texts[5]], strict=True):
        assert text in copy and any(answer in copy for answer in ("رقم حسابي 4471203", "بكرة العصر"))
    assert answer_copies(texts, labels, 1) == (copies, copy_labels)  # the same every time
    assert answer_copies(texts, labels, 0) == ([], [])
    # a long "inform" is no bare answer to attach
    assert answer_copies(["ابي احجز", "long inform text with 123 and many more words here"], ["book_appointment", "inform"], 1) == ([], [])
