"""A Modern Standard Arabic reading of dialect and Arabizi messages.

The intent classifier learns from examples written in a handful of dialects; a
customer writing in another one uses other function words for the same request
("شو", "ايش", "واش", "chno" for "what"). This module maps such words to one MSA
form, so that a second view of the message ("ماذا ...") shares features with the
training examples whatever dialect they were written in. It also writes dialect
and Arabizi variants of a training sentence (lexicon substitution), which the
classifier can add to its training data.

Vocabulary comes from three package data files, each word in one place only:
``lexicons/dialect_msa.yml`` (question words, wanting, negation, time words,
service-desk words), ``lexicons/service_types.yml`` (service words) and
``lexicons/cues.yml`` (outage, absence and restored words).

Pure module: nothing here imports Rasa.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

import yaml

from bot.nlu import cues, service_types
from bot.nlu.arabic_text import RawToken, looks_like_arabizi, normalize, tokenize
from bot.nlu.phrases import longest_first

LEXICONS = Path(__file__).parent / "lexicons"
DIALECT_LEXICON_PATH = LEXICONS / "dialect_msa.yml"
# The MSA word each service of service_types.yml reads as.
SERVICE_MSA = {"electricity": "كهرباء", "water": "ماء", "internet": "انترنت"}
# The MSA phrase each cues.yml list reads as; the other lists (threats, dates…)
# are not about what the customer asks for.
CUE_MSA = {"outage": "مقطوع", "absence": "لا يوجد", "restored": "عاد"}
_LATIN = frozenset("abcdefghijklmnopqrstuvwxyz")
_ARTICLES = ("ال", "لل", "el", "l")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a]")

# Arabic letters to Arabizi, the way Arabizi writers spell them (digits for the
# letters Latin lacks). Short vowels are not written in Arabic, so a generated
# Arabizi word lacks some vowels a person would type; the character n-grams it
# shares with real Arabizi are what the augmentation needs.
_TO_ARABIZI = {
    "ا": "a", "ب": "b", "ت": "t", "ث": "th", "ج": "j", "ح": "7", "خ": "5", "د": "d", "ذ": "dh",
    "ر": "r", "ز": "z", "س": "s", "ش": "sh", "ص": "s", "ض": "d", "ط": "6", "ظ": "z", "ع": "3",
    "غ": "gh", "ف": "f", "ق": "2", "ك": "k", "ل": "l", "م": "m", "ن": "n", "ه": "h", "و": "ou",
    "ي": "i", "ء": "2", "ئ": "2", "ؤ": "2", "ة": "a", "ى": "a",
}


@dataclass(frozen=True)
class Lexicon:
    """The three vocabularies merged, normalised.

    Attributes:
        prefixes: clitics stripped from a word's front before look-up, longest first.
        to_msa: normalised dialect phrase (tuple of words) → its MSA form.
        alternatives: MSA form → every phrase that reads as it (the MSA form included),
            the pool the augmentation draws substitutes from.
        longest: the most words in one phrase.
        definite_only: words that count only with the article (``الما`` is water, ``ما`` is "what").
    """

    prefixes: Tuple[str, ...]
    to_msa: Dict[Tuple[str, ...], str]
    alternatives: Dict[str, Tuple[Tuple[str, ...], ...]]
    longest: int
    definite_only: FrozenSet[str] = frozenset()


def _phrase(word: str) -> Tuple[str, ...]:
    return tuple(normalize(str(word)).text.replace("'", "").split())


@lru_cache(maxsize=4)
def load_lexicon(path: Path = DIALECT_LEXICON_PATH) -> Lexicon:
    """Merge ``dialect_msa.yml`` with the service and cue lexicons (first writer wins).

    Args:
        path: the dialect lexicon; service words and cues always come from the
            shipped ``service_types.yml`` and ``cues.yml``.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    sources: List[Tuple[str, Sequence[str]]] = [(msa, words) for msa, words in data["words"].items()]
    services = yaml.safe_load(service_types.LEXICON_PATH.read_text(encoding="utf-8"))["services"]
    for service, words in services.items():
        # "ما", "مي", "نور", "may" … are services only next to a cue; alone they are
        # function words, and mapping them to a service would invent one. "ما"
        # with the article ("الما") is water: kept, matched only after an article.
        keep = [w for w in words if str(w) not in service_types.AMBIGUOUS_WORDS or str(w) in service_types.DEFINITE_ONLY_WORDS]
        sources.append((SERVICE_MSA[service], keep))
    cue_lists = cues.load_cues().lists
    for kind, msa in CUE_MSA.items():
        sources.append((msa, [" ".join(p) for p in sorted(cue_lists.get(kind, ()))]))
    to_msa: Dict[Tuple[str, ...], str] = {}
    alternatives: Dict[str, List[Tuple[str, ...]]] = {}
    for msa, words in sources:
        msa_form = " ".join(_phrase(msa))
        pool = alternatives.setdefault(msa_form, [])
        for word in [msa, *words]:
            phrase = _phrase(word)
            if not phrase:
                continue
            to_msa.setdefault(phrase, msa_form)
            if to_msa[phrase] == msa_form and phrase not in pool:
                pool.append(phrase)
    prefixes = tuple(sorted((normalize(p).text for p in data.get("prefixes", [])), key=len, reverse=True))
    longest = max(len(p) for p in to_msa)
    definite_only = frozenset(normalize(w).text for w in service_types.DEFINITE_ONLY_WORDS)
    return Lexicon(prefixes, to_msa, {k: tuple(v) for k, v in alternatives.items()}, longest, definite_only)


@dataclass(frozen=True)
class LexiconMatch:
    """A lexicon phrase found in a message (token positions, end exclusive).

    Attributes:
        start / end: token positions.
        prefix: the clitic stripped from the first word ("و", "ال"…), or "".
        msa: the MSA form the phrase reads as.
    """

    start: int
    end: int
    prefix: str
    msa: str


def _forms(word: str, prefixes: Sequence[str]) -> List[Tuple[str, str]]:
    """(prefix, rest) readings of a word: as it is, then less one known prefix."""
    out = [("", word)]
    # After a one-letter clitic the rest must keep three letters: "باي" (bye) is
    # not ب + "اي" (yes), while "النت" is ال + "نت".
    out += [(p, word[len(p):]) for p in prefixes if word.startswith(p) and len(word) - len(p) >= (3 if len(p) == 1 else 2)]
    return out


def find(tokens: Sequence[RawToken], lexicon: Optional[Lexicon] = None) -> List[LexiconMatch]:
    """Lexicon phrases in the tokens, longest first, left to right, without overlaps.

    An Arabizi token is looked up as written and, failing that, by its Arabic
    transliteration.
    """
    lexicon = lexicon or load_lexicon()
    norms = [t.norm.replace("'", "") for t in tokens]

    def match_at(i: int, size: int) -> Optional[LexiconMatch]:
        rest = tuple(norms[i + 1 : i + size])
        readings = _forms(norms[i], lexicon.prefixes)
        transliteration = tokens[i].arabizi
        if size == 1 and transliteration:
            readings.append(("", transliteration))
        for prefix, first in readings:
            if first in lexicon.definite_only and not prefix.endswith(_ARTICLES):
                continue
            msa = lexicon.to_msa.get((first, *rest))
            if msa:
                return LexiconMatch(i, i + size, prefix, msa)
        return None

    return longest_first(len(norms), lexicon.longest, match_at)


def msa_reading(tokens: Sequence[RawToken], lexicon: Optional[Lexicon] = None) -> str:
    """The message with every lexicon phrase replaced by its MSA form.

    Other words stay as normalised (Arabizi ones as their Arabic transliteration),
    clitics of replaced words are dropped: this is a feature view, not a sentence
    to show anyone.
    """
    matches = {m.start: m for m in find(tokens, lexicon)}
    words: List[str] = []
    i = 0
    while i < len(tokens):
        match = matches.get(i)
        if match:
            words.append(match.msa)
            i = match.end
        else:
            words.append(tokens[i].arabizi or tokens[i].norm)
            i += 1
    return " ".join(words)


def msa_text(text: str) -> str:
    """:func:`msa_reading` of a raw message."""
    return msa_reading(tokenize(text))


def to_arabizi(text: str) -> str:
    """An Arabizi spelling of Arabic-script text (Latin letters and 2 3 5 6 7 digits).

    ``ال`` is written ``el``; Latin words and digits are kept; an initial ``و``
    conjunction becomes ``w``.
    """
    words = []
    for word in normalize(text).text.split():
        if word.startswith("ال") and len(word) > 3:
            words.append("el " + _spell_arabizi(word[2:]))
        elif word.startswith("وال") and len(word) > 4:
            words.append("w el " + _spell_arabizi(word[3:]))
        else:
            words.append(_spell_arabizi(word))
    return " ".join(words)


def _spell_arabizi(word: str) -> str:
    return "".join(_TO_ARABIZI.get(ch, ch) for ch in word)


def _script_of(phrase: Tuple[str, ...]) -> str:
    return "latin" if any(set(word) & _LATIN for word in phrase) else "arabic"


def dialect_variants(text: str, count: int, seed: int = 13, lexicon: Optional[Lexicon] = None, arabizi_share: float = 0.25) -> List[str]:
    """Up to ``count`` rewrites of a message with its lexicon words swapped.

    Every lexicon phrase in the message is replaced, with probability one half,
    by another phrase of the same meaning in the same script (``شو`` → ``ايش``,
    ``الكهربا`` → ``الضو``); an ``arabizi_share`` of the Arabic-script variants is
    then spelled in Arabizi. Variants identical to the message or to each other
    are dropped, so a message without lexicon words yields at most its Arabizi
    spelling.

    Args:
        text: a training message (raw).
        count: how many variants to try for.
        seed: the random generator's seed, so training is reproducible.
        lexicon: defaults to the shipped one.
        arabizi_share: fraction of variants written in Arabizi.
    """
    lexicon = lexicon or load_lexicon()
    tokens = tokenize(text)
    if not tokens or count <= 0:
        return []
    matches = {m.start: m for m in find(tokens, lexicon)}
    # Latin-script messages ("wach lkahraba mafi" has no digit, so it is not
    # recognisably Arabizi) get Latin substitutes, Arabic-script ones Arabic.
    arabizi_message = looks_like_arabizi(text) or not _ARABIC_LETTER.search(text)
    rng = random.Random(f"{seed}:{text}")
    original = " ".join(t.norm for t in tokens)
    seen = {original}
    variants: List[str] = []
    for _ in range(count * 2):  # a few more tries than needed: some draws repeat
        if len(variants) >= count:
            break
        words: List[str] = []
        i = 0
        while i < len(tokens):
            match = matches.get(i)
            if match is None:
                words.append(tokens[i].norm)
                i += 1
                continue
            same_script = [p for p in lexicon.alternatives.get(match.msa, ()) if _script_of(p) == ("latin" if arabizi_message else "arabic")]
            if same_script and rng.random() < 0.5:
                choice = list(rng.choice(same_script))
                prefix = "" if arabizi_message or choice[0].startswith("ال") and match.prefix.endswith("ال") else match.prefix
                words.extend([prefix + choice[0], *choice[1:]])
            else:
                words.extend(t.norm for t in tokens[match.start : match.end])
            i = match.end
        variant = " ".join(words)
        if not arabizi_message and rng.random() < arabizi_share:
            variant = to_arabizi(variant)
        if variant not in seen:
            seen.add(variant)
            variants.append(variant)
    return variants


def vocabulary(lexicon: Optional[Lexicon] = None) -> FrozenSet[str]:
    """Every MSA form the lexicon maps to (for tests and reports)."""
    return frozenset((lexicon or load_lexicon()).alternatives)
