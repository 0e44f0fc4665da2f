"""Is a message text at all? A character language model of what customers write.

Keyboard mash (``ججحخهعغفق``, ``ززز ططط ممم``, ``asdkjh``) reaches the intent classifier like
any message, and a linear model always finds some intent: before this module the shipped
model read ``ززز ططط ممم`` as ``affirm`` (0.90) and ``اااسدفغهجكل`` as ``payment_methods``
(0.81), so a customer who mashed the keys could confirm a form step, and two such messages
never counted as two misunderstandings in a row.

A character trigram model, trained on the NLU examples (every dialect, Arabizi, English),
gives each message its surprisal: the mean number of bits per character. Real messages,
with their typos and dialect spellings, stay within what the examples make likely; mashed
keys do not. A message is called unintelligible only when it is clearly so
(:meth:`CharLanguageModel.unintelligible`): enough letters to judge, none of its words known
from the examples, and a surprisal above the threshold, chosen out of fold on the examples
themselves (:func:`choose_threshold`) so that almost no real message is ever flagged.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set

import yaml

from bot.nlu import arabic_text, cues

BOUNDARY = "\x02"  # start and end of a message, so first and last letters count too
# interpolation weights of the trigram, bigram, unigram and uniform estimates
WEIGHTS = (0.6, 0.3, 0.09, 0.01)
ALPHABET_SIZE = 120  # letters, digits and signs a message is made of, for the uniform floor
MIN_LETTERS = 5  # shorter messages ("لا", "ok", "اي") are never judged
MIN_WORD_LETTERS = 3  # a known word this long makes the message intelligible
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_ALNUM = re.compile(r"[^\W_]+", re.UNICODE)


def canonical(text: str) -> str:
    """The form the model reads: normalised Arabic letters, lower case, digits as ``0``,
    one space between words, letter runs cut to two (``الكهرباااء`` is a real word)."""
    normalised = arabic_text.normalize(text).text.lower()
    normalised = re.sub(r"\d", "0", normalised)
    normalised = re.sub(r"(.)\1{2,}", r"\1\1", normalised)
    return " ".join(normalised.split())


def words(text: str) -> List[str]:
    """The letter runs of a canonical text."""
    return _WORD.findall(text)


# Letters people do repeat on purpose: laughter (ههههه، خخخ، hhhh, xD), hesitation (ممم،
# اممم), excitement (ييييي، واااو), hushing (ششش), so a run of them is no sign of a key held down.
EXPRESSIVE_LETTERS = frozenset("هحخكماأإآويءشhxkmaeoiuys")
HELD_RUN = 3  # a key held down repeats its letter at least this many times
# A word made only of such runs ("ززز", "jjjjjkkkk")
_HELD_WORD = re.compile(r"(?:([^\W\d_])\1{" + str(HELD_RUN - 1) + r",})+", re.UNICODE)


def held_keys(text: str) -> bool:
    """Keys held down (``ززز ططط ممم``, ``jjjjkkkk``): every word of the message is
    made of runs of one letter each, and at least one of those letters is not an
    expressive one.

    The character model cannot judge these: runs are cut to two letters before it
    reads a message (``الكهرباااء`` is a real word), which leaves too little to judge.
    """
    found = _WORD.findall(text.lower())
    if not found or not all(_HELD_WORD.fullmatch(word) for word in found):
        return False
    return any(letter not in EXPRESSIVE_LETTERS for word in found for letter in word)


def pictures_only(text: str) -> bool:
    """Only pictures (emoji and other symbols, ``🐸🌵🎈``), and not only the calm ones a
    reply may be made of (``👍``, ``🙏``, see ``cues.CALM_SYMBOLS``): nothing the
    assistant can act on, so it asks again, and twice in a row is a misunderstanding.
    Punctuation alone (``؟؟``) is left to the models; the frustration an angry face
    carries is read by the signals model whatever the intent.
    """
    chars = [ch for ch in text if not ch.isspace() and ch not in "\ufe0f\u200d"]
    if not chars or any(ch.isalnum() for ch in chars):
        return False
    pictures = [ch for ch in chars if unicodedata.category(ch) == "So"]
    return bool(pictures) and not all(ch in cues.CALM_SYMBOLS for ch in pictures)


@dataclass
class CharLanguageModel:
    """Interpolated character trigram model with the vocabulary of its training texts."""

    trigrams: Counter = field(default_factory=Counter)
    bigrams: Counter = field(default_factory=Counter)
    unigrams: Counter = field(default_factory=Counter)
    contexts2: Counter = field(default_factory=Counter)
    contexts1: Counter = field(default_factory=Counter)
    total: int = 0
    vocabulary: Set[str] = field(default_factory=set)
    threshold: Optional[float] = None

    @classmethod
    def fit(cls, texts: Iterable[str]) -> CharLanguageModel:
        model = cls()
        for text in texts:
            model.add(canonical(text))
        return model

    def add(self, text: str) -> None:
        chars = BOUNDARY * 2 + text + BOUNDARY
        for i in range(2, len(chars)):
            a, b, c = chars[i - 2], chars[i - 1], chars[i]
            self.trigrams[a + b + c] += 1
            self.contexts2[a + b] += 1
            self.bigrams[b + c] += 1
            self.contexts1[b] += 1
            self.unigrams[c] += 1
            self.total += 1
        self.vocabulary.update(word for word in words(text) if len(word) >= MIN_WORD_LETTERS)

    def surprisal(self, text: str) -> float:
        """Mean bits per character of a canonical text (its end included)."""
        chars = BOUNDARY * 2 + text + BOUNDARY
        w3, w2, w1, w0 = WEIGHTS
        bits = 0.0
        for i in range(2, len(chars)):
            a, b, c = chars[i - 2], chars[i - 1], chars[i]
            p3 = self.trigrams[a + b + c] / self.contexts2[a + b] if self.contexts2[a + b] else 0.0
            p2 = self.bigrams[b + c] / self.contexts1[b] if self.contexts1[b] else 0.0
            p1 = self.unigrams[c] / self.total if self.total else 0.0
            bits -= math.log2(w3 * p3 + w2 * p2 + w1 * p1 + w0 / ALPHABET_SIZE)
        return bits / (len(chars) - 2)

    def judged(self, text: str) -> Optional[float]:
        """The surprisal of a message's words when the model may judge it, else None
        (too short, or a word of it is known).

        Only the words with letters are scored: numbers and signs standing alone are
        as likely in mash as in a real message (``ؤرلا ٧٧ ككك``) and would dilute its
        surprisal; digits inside a word stay (Arabizi: ``3aychek``)."""
        letters = " ".join(token for token in _ALNUM.findall(canonical(text)) if _LETTERS.search(token))
        if len(_LETTERS.findall(letters)) < MIN_LETTERS:
            return None
        if any(word in self.vocabulary for word in words(letters)):
            return None
        return self.surprisal(letters)

    def unintelligible(self, text: str) -> bool:
        """Whether ``text`` is clearly not language (needs a fitted threshold)."""
        if self.threshold is None:
            return False
        if held_keys(text) or pictures_only(text):
            return True
        score = self.judged(text)
        return score is not None and score > self.threshold

    def to_dict(self) -> Dict[str, Any]:
        return {
            "trigrams": dict(self.trigrams), "bigrams": dict(self.bigrams), "unigrams": dict(self.unigrams),
            "contexts2": dict(self.contexts2), "contexts1": dict(self.contexts1), "total": self.total,
            "vocabulary": sorted(self.vocabulary), "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> CharLanguageModel:
        threshold = data.get("threshold")
        return cls(
            Counter(data["trigrams"]), Counter(data["bigrams"]), Counter(data["unigrams"]),
            Counter(data["contexts2"]), Counter(data["contexts1"]), int(data["total"]),
            set(data["vocabulary"]), None if threshold is None else float(threshold),
        )


LEXICONS = Path(__file__).parent / "lexicons"


def lexicon_words(folder: Path = LEXICONS) -> Set[str]:
    """Every word of the shipped lexicons (dialect words, dates, cues, places, services),
    in canonical form: words the assistant knows are language, however rare they are in
    the examples ("tomorrow", "باچر", a district's name)."""
    found: Set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, str):
            found.update(word for word in words(canonical(value)) if len(word) >= MIN_WORD_LETTERS)
        elif isinstance(value, dict):
            for key, item in value.items():
                collect(key)
                collect(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                collect(item)

    for path in sorted(folder.glob("*.yml")):
        collect(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def choose_threshold(texts: Sequence[str], folds: int = 5, margin_bits: float = 0.5) -> float:
    """The surprisal above which a message is unintelligible: the highest score of a real
    message judged out of fold (each fold scored by a model of the others), plus a margin.

    Out of fold, real messages meet the model as a customer's new message does: with
    words and spellings it has not seen. Taking the highest keeps every one of them
    intelligible; the margin keeps messages a little stranger than any example so too.
    """
    scores: List[float] = []
    for fold in range(folds):
        model = CharLanguageModel.fit(text for i, text in enumerate(texts) if i % folds != fold)
        scores.extend(s for i, text in enumerate(texts) if i % folds == fold for s in [model.judged(text)] if s is not None)
    return (max(scores) if scores else 0.0) + margin_bits
