"""The linear baseline: TF-IDF character 2-5-grams and words, logistic regression per head.

The same idea as ``bot.nlu.intent_classifier`` (which beats DIET on this project's
intents), on the same model input string as the transformer.

Training uses scikit-learn. The fitted model is then exported to plain arrays
(vocabulary, idf, weights) in a JSON + ``.npz`` pair: no pickle to trust, a
fraction of the size of a serialised vectoriser, loaded in milliseconds, and
scored with one sparse product for all heads, about ten times faster per message
than scikit-learn's per-call overhead allows. The n-grams themselves still come
from scikit-learn's analysers, rebuilt from the stored parameters, so training
and inference cannot drift apart.
"""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from bot.signals.metrics import macro_f1

C_GRID = (3.0, 10.0, 30.0)
# The word analyser keeps the <elong>-style cue markers as single words.
WORD_TOKEN_PATTERN = r"(?u)<\w+>|\b\w+\b"


def vectorizer_params(max_features: Optional[int] = None, min_df: int = 1) -> Dict[str, Dict]:
    """Parameters of the two TF-IDF blocks: character 2-5-grams within words, word 1-2-grams."""
    common = {"sublinear_tf": True, "min_df": min_df, "max_features": max_features, "lowercase": True}
    return {
        "char": {"analyzer": "char_wb", "ngram_range": (2, 5), **common},
        "word": {"analyzer": "word", "ngram_range": (1, 2), "token_pattern": WORD_TOKEN_PATTERN, **common},
    }


def _tfidf(params: Dict):
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(**{**params, "ngram_range": tuple(params["ngram_range"])})


def _classifier(c: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced")


# Messages up to this long share their n-gram counts between the models that read them
# (the serving heads, the joint frustration head and sentiment use the same analysers).
CACHED_TEXT_CHARS = 1024
# The vectoriser parameters that decide what its analyser returns (min_df, max_features
# and the weighting do not): models that agree on these share their n-gram counts.
ANALYZER_PARAMS = (
    "analyzer", "ngram_range", "lowercase", "token_pattern", "strip_accents", "stop_words",
    "preprocessor", "tokenizer", "input", "encoding", "decode_error",
)
# Up to this many texts are scored row by row with a gather of weight rows; larger
# batches (evaluation, training) go through one sparse product.
SMALL_BATCH = 8


@functools.cache
def _analyzer(params_key: str) -> Callable[[str], List[str]]:
    return _tfidf(json.loads(params_key)).build_analyzer()


def _counts(params_key: str, text: str) -> Tuple[Tuple[str, int], ...]:
    return tuple(Counter(_analyzer(params_key)(text)).items())


_cached_counts = functools.lru_cache(maxsize=256)(_counts)


def ngram_counts(params_key: str, text: str) -> Tuple[Tuple[str, int], ...]:
    """Each n-gram of ``text`` and its count, under the analyser ``params_key`` names
    (the block's parameters as sorted JSON); remembered for short texts, so that the
    three linear models of a message analyse it once."""
    return _cached_counts(params_key, text) if len(text) <= CACHED_TEXT_CHARS else _counts(params_key, text)


class _Block:
    """One TF-IDF block at inference: analyser, vocabulary and idf."""

    def __init__(self, params: Dict, terms: List[str], idf: np.ndarray, offset: int) -> None:
        self.params = params
        self.terms = terms
        analyzer_params = {k: params[k] for k in ANALYZER_PARAMS if k in params}
        self.params_key = json.dumps({**analyzer_params, "ngram_range": list(params["ngram_range"])}, sort_keys=True)
        self.index = {term: offset + i for i, term in enumerate(terms)}
        self.idf = idf.astype(np.float64)
        self.offset = offset

    def row(self, text: str) -> Tuple[List[int], List[float]]:
        """Column indices and L2-normalised sublinear TF-IDF values of one text."""
        columns, values = [], []
        for term, count in ngram_counts(self.params_key, text):
            column = self.index.get(term)
            if column is not None:
                columns.append(column)
                values.append((1.0 + math.log(count)) * self.idf[column - self.offset])
        norm = math.sqrt(sum(v * v for v in values)) or 1.0
        return columns, [v / norm for v in values]


class LinearSignals:
    """TF-IDF features shared by the heads and a multinomial logistic regression per head.

    Attributes:
        head_labels: head name to label list (the order of probability columns).
    """

    def __init__(self, blocks: Dict[str, Dict], heads: Dict[str, Dict]) -> None:
        """Build from exported arrays (see :meth:`export`); use :meth:`fit` or :meth:`load`."""
        self._blocks = []
        offset = 0
        for name in ("char", "word"):
            block = blocks[name]
            self._blocks.append(_Block(block["params"], block["terms"], np.asarray(block["idf"]), offset))
            offset += len(block["terms"])
        self.n_features = offset
        self.head_labels = {head: list(spec["labels"]) for head, spec in heads.items()}
        # One weight matrix for all heads: columns of each head are contiguous.
        self._slices, weights, biases, start = {}, [], [], 0
        for head, spec in heads.items():
            coef = np.asarray(spec["coef"], dtype=np.float32).reshape(-1, self.n_features)
            self._slices[head] = (slice(start, start + coef.shape[0]), list(spec["classes"]), coef.shape[0] == 1)
            weights.append(coef)
            biases.append(np.asarray(spec["intercept"], dtype=np.float32))
            start += coef.shape[0]
        self._weights = np.vstack(weights).T.copy() if weights else np.zeros((self.n_features, 0), np.float32)
        self._bias = np.concatenate(biases) if biases else np.zeros(0, np.float32)
        self._heads = heads

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Mapping[str, Sequence[str]],
        head_labels: Mapping[str, List[str]],
        c: Mapping[str, float],
        max_features: Optional[int] = None,
        min_df: int = 1,
    ) -> LinearSignals:
        """Fit the TF-IDF blocks on ``texts`` and one classifier per labelled head."""
        import scipy.sparse as sp

        blocks, matrices = {}, []
        for name, params in vectorizer_params(max_features, min_df).items():
            vectorizer = _tfidf(params)
            matrices.append(vectorizer.fit_transform(list(texts)))
            terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
            blocks[name] = {"params": params, "terms": terms, "idf": vectorizer.idf_}
        features = sp.hstack(matrices).tocsr()
        heads = {}
        for head, y in labels.items():
            classifier = _classifier(c[head]).fit(features, list(y))
            heads[head] = {
                "labels": list(head_labels[head]),
                "classes": [str(k) for k in classifier.classes_],
                "coef": classifier.coef_,
                "intercept": classifier.intercept_,
                "C": c[head],
            }
        return cls(blocks, heads)

    def features(self, texts: Sequence[str]):
        """Sparse TF-IDF rows (the two blocks side by side)."""
        import scipy.sparse as sp

        indptr, indices, data = [0], [], []
        for text in texts:
            for block in self._blocks:
                columns, values = block.row(text)
                indices += columns
                data += values
            indptr.append(len(indices))
        return sp.csr_matrix((np.asarray(data, np.float32), np.asarray(indices, np.int64), np.asarray(indptr)), shape=(len(texts), self.n_features))

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Decision values of every head's classes, one row per text."""
        if len(texts) > SMALL_BATCH:
            return np.asarray(self.features(texts) @ self._weights) + self._bias
        # A message at a time: building a sparse matrix costs more than the product.
        out = np.tile(self._bias, (len(texts), 1))
        for i, text in enumerate(texts):
            columns: List[int] = []
            values: List[float] = []
            for block in self._blocks:
                block_columns, block_values = block.row(text)
                columns += block_columns
                values += block_values
            if columns:
                out[i] += np.asarray(values, np.float32) @ self._weights[columns]
        return out

    def predict_proba(self, texts: Sequence[str], heads: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
        """Probabilities per head, columns in ``head_labels`` order (0 for labels unseen in training)."""
        scores = self.scores(texts)
        out = {}
        for head in heads or self.head_labels:
            columns, classes, binary = self._slices[head]
            z = scores[:, columns].astype(np.float64)
            if binary:  # scikit-learn's two-class logistic regression
                positive = 1.0 / (1.0 + np.exp(-z[:, 0]))
                raw = np.stack([1.0 - positive, positive], axis=1)
            else:
                z -= z.max(axis=1, keepdims=True)
                raw = np.exp(z)
                raw /= raw.sum(axis=1, keepdims=True)
            labels = self.head_labels[head]
            probabilities = np.zeros((len(texts), len(labels)), dtype=np.float32)
            for column, label in enumerate(classes):
                probabilities[:, labels.index(label)] = raw[:, column]
            out[head] = probabilities
        return out

    def save(self, path: Path) -> None:
        """``<path>.json`` (parameters, vocabularies, labels) and ``<path>.npz`` (arrays)."""
        path = Path(path)
        meta: Dict[str, Dict] = {"blocks": {}, "heads": {}}
        arrays = {}
        for name, block in zip(("char", "word"), self._blocks, strict=True):
            meta["blocks"][name] = {"params": {**block.params, "ngram_range": list(block.params["ngram_range"])}, "terms": block.terms}
            arrays[f"idf_{name}"] = block.idf.astype(np.float32)
        for head, spec in self._heads.items():
            meta["heads"][head] = {"labels": spec["labels"], "classes": spec["classes"], "C": spec.get("C")}
            arrays[f"coef_{head}"] = np.asarray(spec["coef"], dtype=np.float32)
            arrays[f"intercept_{head}"] = np.asarray(spec["intercept"], dtype=np.float32)
        path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        np.savez_compressed(path.with_suffix(".npz"), **arrays)

    @classmethod
    def load(cls, path: Path) -> LinearSignals:
        """Load what :meth:`save` wrote (plain JSON and arrays, no pickle)."""
        path = Path(path)
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        with np.load(path.with_suffix(".npz"), allow_pickle=False) as arrays:
            blocks = {
                name: {**block, "idf": arrays[f"idf_{name}"]} for name, block in meta["blocks"].items()
            }
            heads = {
                head: {**spec, "coef": arrays[f"coef_{head}"], "intercept": arrays[f"intercept_{head}"]}
                for head, spec in meta["heads"].items()
            }
        return cls(blocks, heads)


def select_c(
    train_texts: Sequence[str],
    train_labels: Mapping[str, Sequence[str]],
    valid_texts: Sequence[str],
    valid_labels: Mapping[str, Sequence[str]],
    head_labels: Dict[str, List[str]],
    grid: Sequence[float] = C_GRID,
    min_df: int = 1,
    log: Callable[[str], None] = print,
) -> Tuple[Dict[str, float], Dict[str, np.ndarray]]:
    """Regularisation per head chosen by validation macro-F1.

    Returns:
        The chosen C per head and the validation probabilities at that C.
    """
    import scipy.sparse as sp

    matrices_train, matrices_valid = [], []
    for params in vectorizer_params(None, min_df).values():
        vectorizer = _tfidf(params)
        matrices_train.append(vectorizer.fit_transform(list(train_texts)))
        matrices_valid.append(vectorizer.transform(list(valid_texts)))
    train_x, valid_x = sp.hstack(matrices_train).tocsr(), sp.hstack(matrices_valid).tocsr()
    chosen: Dict[str, float] = {}
    probabilities: Dict[str, np.ndarray] = {}
    for head, y in train_labels.items():
        labels = head_labels[head]
        truth = [labels.index(v) for v in valid_labels[head]]
        best = -1.0
        for c in grid:
            classifier = _classifier(c).fit(train_x, list(y))
            raw = classifier.predict_proba(valid_x)
            probs = np.zeros((len(truth), len(labels)), dtype=np.float32)
            for column, label in enumerate(classifier.classes_):
                probs[:, labels.index(label)] = raw[:, column]
            score = macro_f1(truth, probs.argmax(1), len(labels))
            if score > best:
                best, chosen[head], probabilities[head] = score, c, probs
        log(f"  linear {head}: C={chosen[head]:g}, validation macro-F1 {best:.3f}")
    return chosen, probabilities
