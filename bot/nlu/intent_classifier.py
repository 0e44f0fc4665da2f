"""Intent classifier: TF-IDF character and word n-grams with a linear model.

Measured on this project's data and on ArBanking77, a linear model on character
2-5-grams of camel-tools-normalised text beats DIET for Arabic intents while
training in seconds (see bench/). Dialect spelling, clitics (وبالكهرباء) and
Arabizi share character n-grams even when whole words differ, which is why
characters carry most of the signal and words add the rest.

Two options help with dialects no training example was written in (measured by
leaving one dialect out of ``nlu_data/``, bench/EXPERIMENTS.md E15):

- ``msa_view``: a second pair of vectorisers reads the message with its dialect
  words mapped to MSA (:mod:`bot.nlu.dialect_msa`), so "واش" and "شو" both count
  as "ماذا".
- ``dialect_augmentation``: every training example is also learnt in up to N
  rewrites with its lexicon words swapped across dialects or spelled in Arabizi.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers import LABEL_RANKING_LENGTH
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu import arabic_text
from bot.nlu.components import arabic_info
from bot.nlu.fast_linear import FastLinearPipeline

logger = logging.getLogger(__name__)

# Digit runs that are numbers, not letters of an Arabizi word such as "m2to3".
_NUMBER = re.compile(r"(?<![a-z])\d+(?![a-z'])")
MODEL_FILE = "intent_model.skops"
# Rasa parses one message at a time; larger batches (rasa test, the benchmarks) go
# through scikit-learn's vectorised path.
FAST_PATH_MAX_MESSAGES = 8
# Only these module families may be unpickled from a model file.
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


def classifier_input(text: str, info: Optional[Dict[str, Any]] = None) -> str:
    """The string the classifier reads: normalised text plus the Arabic-script
    reading of Arabizi, with every number's digits as 0 (numbers are entities, not intents)."""
    if info:
        normalized, translit = info.get("normalized", ""), info.get("transliteration", "")
    else:
        tokens = arabic_text.tokenize(text)
        normalized, translit = arabic_text.normalize(text).text, arabic_text.transliterated(tokens)
    return _NUMBER.sub(lambda m: "0" * len(m.group()), f"{normalized} {translit}".strip())


def msa_input(text: str) -> str:
    """The MSA view of a message (:func:`bot.nlu.dialect_msa.msa_text`), numbers masked like :func:`classifier_input`."""
    from bot.nlu.dialect_msa import msa_text

    return _NUMBER.sub(lambda m: "0" * len(m.group()), msa_text(text))


def model_inputs(texts: Sequence[str], infos: Optional[Sequence[Optional[Dict[str, Any]]]], config: Dict[str, Any]) -> Any:
    """What :func:`build_model`'s pipeline reads for raw messages under ``config``.

    A list of strings, or with ``msa_view`` an array of [raw view, MSA view] rows.
    """
    infos = infos or [None] * len(texts)
    raw = [classifier_input(text, info) for text, info in zip(texts, infos, strict=True)]
    if not config.get("msa_view"):
        return raw
    import numpy as np

    rows = np.empty((len(raw), 2), dtype=object)
    rows[:, 0] = raw
    rows[:, 1] = [msa_input(text) for text in texts]
    return rows


def _vectorisers(config: Dict[str, Any], name: str = "") -> List[Tuple[str, Any]]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    char_min, char_max = config["char_ngram_range"]
    word_min, word_max = config["word_ngram_range"]
    return [
        (f"{name}char", TfidfVectorizer(analyzer="char_wb", ngram_range=(char_min, char_max), sublinear_tf=True, min_df=1)),
        (f"{name}word", TfidfVectorizer(analyzer="word", ngram_range=(word_min, word_max), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b")),
    ]


def build_model(config: Dict[str, Any]) -> Any:
    """An untrained scikit-learn pipeline for the given component config.

    Only scikit-learn classes, so that :meth:`CharNgramIntentClassifier.load`
    can refuse anything else in a model file.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features: Any
    if config.get("msa_view"):
        # Column 0: the text as normalised; column 1: its MSA reading. Separate
        # vocabularies, so a dialect word and its MSA form are both features.
        views = [(name, vectoriser, 0) for name, vectoriser in _vectorisers(config)]
        views += [(name, vectoriser, 1) for name, vectoriser in _vectorisers(config, "msa_")]
        features = ColumnTransformer(views)
    else:
        features = FeatureUnion(_vectorisers(config))
    # saga with a loose tolerance: same multinomial model and accuracy as lbfgs,
    # measured 2.5x faster on 8k ArBanking77 examples (sparse, ~10^5 features).
    classifier = LogisticRegression(
        C=config["C"], solver="saga", tol=1e-3, max_iter=1000, class_weight="balanced"
    )
    return Pipeline([("features", features), ("classifier", classifier)])


def augmented(texts: Sequence[str], labels: Sequence[str], infos: Sequence[Optional[Dict[str, Any]]], per_example: int, seed: int = 13) -> Tuple[List[str], List[str], List[Optional[Dict[str, Any]]]]:
    """The training examples followed by up to ``per_example`` dialect rewrites of each.

    Rewrites (:func:`bot.nlu.dialect_msa.dialect_variants`) swap lexicon words
    across dialects or spell the message in Arabizi; they exist only in memory
    while the model trains, never in ``nlu_data/``.
    """
    from bot.nlu.dialect_msa import dialect_variants

    out_texts, out_labels, out_infos = list(texts), list(labels), list(infos)
    if per_example <= 0:
        return out_texts, out_labels, out_infos
    for text, label in zip(texts, labels, strict=True):
        for variant in dialect_variants(text, per_example, seed):
            out_texts.append(variant)
            out_labels.append(label)
            out_infos.append(None)
    return out_texts, out_labels, out_infos


# Intents that a bare answer next to the words does not leave what they were: a request
# ("احجزوا لي يوم الخميس العصر" with "رقم الحساب 7712049") stays the request. Not the
# answer itself, nor the social turns, yes / no, asking for a person or out of scope,
# which a number next to them turns into an answer ("شكرا، رقم الحساب 4471203").
NO_ANSWER_HOSTS = frozenset({"inform", "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope", "request_human"})
# A bare answer is short: "رقم حسابي 4471203", "بكرة العصر", "T-482913".
BARE_ANSWER_WORDS = 6


def _bare_answer(text: str) -> bool:
    """Whether a training message of the answer intent is a bare number or date."""
    from bot.nlu.date_mentions import find_dates

    tokens = arabic_text.tokenize(text)
    return 0 < len(tokens) <= BARE_ANSWER_WORDS and (any(ch.isdigit() for ch in text) or bool(find_dates(text)))


def answer_copies(texts: Sequence[str], labels: Sequence[str], per_example: int, seed: int = 13) -> Tuple[List[str], List[str]]:
    """Up to ``per_example`` copies of each training request with a bare answer of the
    training data before or after it, and their labels.

    Customers give the account, the ticket or the day with the request ("رقم البلاغ
    ٦٦٣٠١٨ وش وضعه", "can a technician come next Monday? my account is 55201933");
    learnt only from bare answers, the numbers and days pulled such messages to the
    answer intent (``inform``), and the assistant then asked what to do with the
    number. The copies exist only in memory while the model trains.
    """
    import random

    answers = [t for t, label in zip(texts, labels, strict=True) if label == "inform" and _bare_answer(t)]
    copies: List[str] = []
    copy_labels: List[str] = []
    if per_example <= 0 or not answers:
        return copies, copy_labels
    for text, label in zip(texts, labels, strict=True):
        if label in NO_ANSWER_HOSTS:
            continue
        rng = random.Random(f"{seed}:answers:{text}")
        for answer in rng.sample(answers, min(per_example, len(answers))):
            copies.append(f"{answer.strip()} {text.strip()}" if rng.random() < 0.5 else f"{text.strip()} {answer.strip()}")
            copy_labels.append(label)
    return copies, copy_labels


def svm_temperature(features: Any, labels: Any, make_svc: Any, folds: int = 3, seed: int = 13) -> float:
    """The temperature ``t`` that makes ``softmax(t × SVM decision values)`` calibrated.

    Maximum likelihood on ``folds``-fold cross-validated decision values of
    ``make_svc()`` models; classes missing from a fold's training part get the row's
    lowest score (CalibratedClassifierCV would need every class in every fold, and
    ArBanking77 has an intent with fewer than 3 training examples).
    """
    import numpy as np
    from scipy.optimize import minimize_scalar
    from sklearn.model_selection import KFold

    y = np.asarray(labels)
    classes = np.unique(y)
    column = {label: i for i, label in enumerate(classes)}
    decisions = np.zeros((len(y), len(classes)))
    scored = np.zeros(len(y), dtype=bool)
    for train_index, test_index in KFold(folds, shuffle=True, random_state=seed).split(y):
        if len(np.unique(y[train_index])) < 2:
            continue  # nothing to separate in this fold
        fold = make_svc().fit(features[train_index], y[train_index])
        scores = fold.decision_function(features[test_index])
        if scores.ndim == 1:  # two classes: one score, positive for classes_[1]
            scores = np.column_stack([-scores, scores])
        decisions[test_index] = scores.min(axis=1, keepdims=True) - 1.0
        decisions[np.ix_(test_index, [column[c] for c in fold.classes_])] = scores
        scored[test_index] = True
    truth = np.array([column[label] for label in y])[scored]
    decisions = decisions[scored]

    def negative_log_likelihood(log_t: float) -> float:
        z = decisions * np.exp(log_t)
        z -= z.max(axis=1, keepdims=True)
        return float(-(z[np.arange(len(truth)), truth] - np.log(np.exp(z).sum(axis=1))).mean())

    return float(np.exp(minimize_scalar(negative_log_likelihood, bounds=(-3.0, 5.0), method="bounded").x))


def _svm_as_logistic(features: Any, labels: Sequence[str], C: float, folds: int = 3, seed: int = 13, fit_intercept: bool = False) -> Any:
    """A LinearSVC whose confidences are ``softmax(t × decision values)``, as a fitted LogisticRegression.

    The SVM is the better ranker on this kind of data (bench/EXPERIMENTS.md E11)
    but has no probabilities, which Rasa's FallbackClassifier needs. One global
    temperature ``t`` (:func:`svm_temperature`), then the SVM's weights times ``t``
    are stored in a multinomial LogisticRegression: its ``predict_proba`` is exactly
    that softmax, and the model file keeps holding scikit-learn classes only.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC

    y = np.asarray(labels)
    classes = np.unique(y)

    def svc() -> Any:
        # No intercept: a message with no known n-gram ("😀", a new alphabet) then
        # scores 0 for every intent, i.e. uniform confidences and a fallback,
        # instead of the most frequent intent's intercept times the temperature.
        # A fixed seed for the dual solver's shuffling: the same data then gives the
        # same model, so a retrained assistant answers as the one that was measured.
        return LinearSVC(C=C, class_weight="balanced", fit_intercept=fit_intercept, random_state=seed)

    temperature = svm_temperature(features, y, svc, folds, seed)
    final = svc().fit(features, y)
    model = LogisticRegression(multi_class="multinomial")
    model.classes_ = final.classes_
    coef = final.coef_
    intercept = np.broadcast_to(np.asarray(final.intercept_, dtype=float), (coef.shape[0],)).copy()
    if len(classes) == 2:  # one score, positive for classes_[1]: softmax over (-s, s)
        coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    model.coef_ = coef * temperature
    model.intercept_ = intercept * temperature
    model.n_features_in_ = coef.shape[1]
    model.n_iter_ = np.asarray([final.n_iter_])
    return model


def fit_model(texts: Sequence[str], labels: Sequence[str], config: Dict[str, Any], infos: Optional[Sequence[Optional[Dict[str, Any]]]] = None) -> Any:
    """Train :func:`build_model`'s pipeline on raw messages (what the component's ``train`` does).

    Args:
        texts: raw training messages.
        labels: their intents.
        config: the component config (defaults filled in).
        infos: the normaliser's record of each message, when Rasa ran it.
    """
    infos = list(infos) if infos is not None else [None] * len(texts)
    copies, copy_labels = answer_copies(texts, labels, int(config.get("answer_augmentation", 0)))
    texts, labels, infos = augmented(texts, labels, infos, int(config.get("dialect_augmentation", 0)))
    texts, labels, infos = [*texts, *copies], [*labels, *copy_labels], [*infos, *([None] * len(copies))]
    model = build_model(config)
    inputs = model_inputs(texts, infos, config)
    if config.get("classifier", "logistic_regression") == "linear_svm":
        features = model.steps[0][1].fit_transform(inputs)
        model.steps[-1] = ("classifier", _svm_as_logistic(features, labels, float(config.get("svm_C", 1.0))))
        return with_fast_prediction(model)
    return with_fast_prediction(model.fit(inputs, labels))


def with_fast_prediction(model: Any) -> Any:
    """The same fitted pipeline with its coefficients stored column-major.

    scikit-learn scores ``X @ coef_.T``; with the C-ordered ``coef_`` that
    LogisticRegression leaves, scipy copies the whole matrix (features x intents)
    on every call, which dominated a parse on large data (bench/EXPERIMENTS.md E5:
    8.4 ms -> 2.3 ms per message). Same numbers, so identical predictions.
    """
    import numpy as np

    classifier = model.steps[-1][1]
    classifier.coef_ = np.asfortranarray(classifier.coef_)
    return model


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class CharNgramIntentClassifier(GraphComponent, IntentClassifier):
    """Linear intent classifier on character and word n-grams of normalised text."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        # Defaults chosen by leaving one dialect of nlu_data/ out (bench/EXPERIMENTS.md
        # E15); char_ngram_range, word_ngram_range and C keep their meaning.
        return {
            "char_ngram_range": [2, 5],
            "word_ngram_range": [1, 2],
            # regularisation of the logistic regression (classifier: logistic_regression)
            "C": 20.0,
            # "linear_svm" (temperature-scaled confidences) or "logistic_regression"
            "classifier": "linear_svm",
            # regularisation of the SVM (classifier: linear_svm)
            "svm_C": 1.0,
            # a second view of each message with dialect words read as MSA
            "msa_view": True,
            # dialect / Arabizi rewrites learnt per training example (0: none)
            "dialect_augmentation": 3,
            # copies of each request learnt with a bare answer next to it (0: none)
            "answer_augmentation": 0,
        }

    @staticmethod
    def required_packages() -> List[str]:
        return ["sklearn", "skops"]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The lexicons the MSA view and the rewrites read: Rasa's training cache keys on
        config and data only, so without this a lexicon edit would keep the old model."""
        from bot.nlu import cues, dialect_msa, service_types

        digest = hashlib.sha256()
        for path in (dialect_msa.DIALECT_LEXICON_PATH, service_types.LEXICON_PATH, cues.CUES_PATH):
            digest.update(path.read_bytes())
        return digest.hexdigest()

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Any = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model
        self._fast = FastLinearPipeline.of(model) if model is not None else None

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> CharNgramIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        examples = trainable_examples(training_data)
        if not examples:
            return self._resource
        labels = [e.get(INTENT) for e in examples]
        self._model = fit_model([e.get(TEXT) for e in examples], labels, self._config, [arabic_info(e) for e in examples])
        self._fast = FastLinearPipeline.of(self._model)
        self.persist()
        return self._resource

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as model_dir:
            sio.dump(self._model, model_dir / MODEL_FILE)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> CharNgramIntentClassifier:
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as model_dir:
                path = model_dir / MODEL_FILE
                untrusted = sio.get_untrusted_types(file=path)
                refused = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
                if refused:
                    raise ValueError(f"refusing to load types {refused} from {path}")
                return cls(config, model_storage, resource, with_fast_prediction(sio.load(path, trusted=untrusted)))
        except (ValueError, FileNotFoundError) as error:
            logger.warning("No trained intent model loaded (%s); intents will be empty.", error)
            return cls(config, model_storage, resource)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        pending = [m for m in messages if isinstance(m.get(TEXT), str)]
        if not pending:
            return messages
        inputs = model_inputs([m.get(TEXT) for m in pending], [arabic_info(m) for m in pending], self._config)
        # the same numbers; scikit-learn's per-call overhead dominates one message
        scorer = self._fast if self._fast is not None and len(pending) <= FAST_PATH_MAX_MESSAGES else self._model
        probabilities = scorer.predict_proba(inputs)
        names = [str(name) for name in self._model.classes_]
        for message, probs in zip(pending, probabilities, strict=True):
            set_intent_ranking(message, names, probs)
        return messages


def trainable_examples(training_data: TrainingData) -> List[Message]:
    """The intent examples with text; none (with a warning) when fewer than two intents."""
    examples = [e for e in training_data.intent_examples if e.get(TEXT)]
    if len({e.get(INTENT) for e in examples}) < 2:
        logger.warning("Intent classifier needs at least two intents; not trained.")
        return []
    return examples


def set_intent_ranking(message: Message, names: Sequence[str], probabilities: Any) -> None:
    """Set a message's intent and ranking (the top ``LABEL_RANKING_LENGTH``) from class probabilities."""
    order = probabilities.argsort()[::-1]
    ranking = [
        {INTENT_NAME_KEY: names[i], PREDICTED_CONFIDENCE_KEY: float(probabilities[i])}
        for i in order[:LABEL_RANKING_LENGTH]
    ]
    message.set(INTENT, ranking[0], add_to_output=True)
    message.set("intent_ranking", ranking, add_to_output=True)
