"""Arabic text normalisation, tokenisation with raw offsets, and Arabizi.

Pure functions on top of camel-tools' offline utilities. Nothing here imports Rasa,
so the action server uses the same digit folding and normalisation as the NLU.

The rule everywhere: offsets always refer to the raw text the customer typed;
normalised forms are carried next to them, never in their place.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from camel_tools.utils.dediac import dediac_ar
from camel_tools.utils.normalize import (
    normalize_alef_ar,
    normalize_alef_maksura_ar,
    normalize_teh_marbuta_ar,
    normalize_unicode,
)

TATWEEL = "\u0640"
# Arabic-Indic (U+0660..) and Extended/Persian (U+06F0..) digits to ASCII.
_DIGIT_TABLE = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)
# Three or more of the same letter (not digit): "زعلااااان" -> "زعلان", "sooo" -> "so".
# Two in a row is left alone: it is ordinary spelling in both scripts.
_ELONGATION = re.compile(r"([^\W\d_])\1{2,}")
# A token: a run of letters, digits, Arabic diacritics and tatweel; or one symbol
# (emoji and the like). Punctuation and spaces separate tokens and are dropped.
_DIACRITICS = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
_TOKEN = re.compile(rf"[\w{_DIACRITICS}{TATWEEL}\u200d]+|[^\w\s]", re.UNICODE)
_LATIN = re.compile(r"[A-Za-z]")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a\u0671-\u06d3]")
# Digits used as letters in Arabizi, inside or at the end of a Latin word.
_ARABIZI_WORD = re.compile(r"^(?=.*[A-Za-z])[A-Za-z]*[235679][A-Za-z0-9']*$|^[235679]'?[A-Za-z]+$")


@dataclass(frozen=True)
class NormalizedText:
    """A normalised string and what normalisation noticed on the way.

    Attributes:
        text: the normalised text.
        elongated: letters were stretched (``زعلااان``), which carries emotion.
        elongated_words: the raw words that were stretched.
    """

    text: str
    elongated: bool = False
    elongated_words: Tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RawToken:
    """A token of the raw text with its normalised form.

    Attributes:
        text: the token exactly as typed.
        start: offset of the first character in the raw text.
        end: offset after the last character in the raw text.
        norm: the normalised form used for features and lexicon look-ups.
        arabizi: Arabic-script transliteration when the token is Arabizi.
    """

    text: str
    start: int
    end: int
    norm: str
    arabizi: Optional[str] = None


def fold_digits(text: str) -> str:
    """Arabic-Indic and Persian digits to ASCII digits."""
    return text.translate(_DIGIT_TABLE)


def _latin_accent_table() -> dict:
    table = {}
    for code in range(0x00C0, 0x0250):
        parts = unicodedata.normalize("NFD", chr(code))
        if len(parts) > 1 and parts[0].isascii() and parts[0].isalpha() and all(unicodedata.combining(p) for p in parts[1:]):
            table[code] = parts[0]
    return table


_LATIN_ACCENT_TABLE = _latin_accent_table()


def fold_latin_accents(text: str) -> str:
    """Accented Latin letters to their base letter (``réclamation`` → ``reclamation``,
    ``numéro`` → ``numero``): French is written with and without accents alike."""
    return text.translate(_LATIN_ACCENT_TABLE)


# One-letter prepositions and conjunctions written glued to the next word.
GLUED_PREPOSITIONS = ("و", "ب", "ف", "ل", "ع", "ك")


def without_glued_preposition(word: str) -> Optional[str]:
    """A normalised word less a one-letter preposition glued before its article
    ("فالصباح" → "الصباح", "بالخميس" → "الخميس"), or None when it has none."""
    if len(word) > 3 and word[0] in GLUED_PREPOSITIONS and word[1:].startswith("ال"):
        return word[1:]
    return None


def strip_tatweel(text: str) -> str:
    return text.replace(TATWEEL, "")


def collapse_elongation(text: str) -> Tuple[str, List[str]]:
    """Collapse runs of three or more identical letters.

    Returns:
        The collapsed text and the words in which a run was found.
    """
    words = [w for w in text.split() if _ELONGATION.search(w)]
    return _ELONGATION.sub(r"\1", text), words


# A message goes through normalize and tokenize once per component that reads it (about
# eight per parse); both are pure functions of a string, and a parse was spending about
# 5 % of its time redoing them (issue 15). Their results are immutable (frozen
# dataclasses, tuples), so a cached one can be shared. Only short strings are kept, so
# the caches stay small whatever customers send.
CACHED_NORMALIZE_CHARS = 256
CACHED_TOKENIZE_CHARS = 1024


def normalize(text: str, teh_marbuta: bool = True, alef_maksura: bool = True) -> NormalizedText:
    """Normalise Arabic (and Latin) text for matching and features.

    Steps: Unicode presentation forms, digits to ASCII, tatweel, diacritics, alef
    variants (أ إ آ ٱ to ا), optionally alef maksura (ى to ي) and teh marbuta (ة to ه),
    Latin lower case without accents, letter elongation collapsed (and recorded),
    whitespace.

    Args:
        text: raw text.
        teh_marbuta: map ة to ه (dialect writers mix them freely).
        alef_maksura: map ى to ي.

    Returns:
        The normalised text with the elongation it found.
    """
    if isinstance(text, str) and len(text) <= CACHED_NORMALIZE_CHARS:
        return _normalized(text, teh_marbuta, alef_maksura)
    return _normalize(text, teh_marbuta, alef_maksura)


@functools.lru_cache(maxsize=8192)
def _normalized(text: str, teh_marbuta: bool, alef_maksura: bool) -> NormalizedText:
    return _normalize(text, teh_marbuta, alef_maksura)


def _normalize(text: str, teh_marbuta: bool, alef_maksura: bool) -> NormalizedText:
    out = normalize_unicode(text or "")
    out = fold_digits(out)
    out = strip_tatweel(out)
    out = dediac_ar(out)
    out = normalize_alef_ar(out)
    if alef_maksura:
        out = normalize_alef_maksura_ar(out)
    if teh_marbuta:
        out = normalize_teh_marbuta_ar(out)
    out = fold_latin_accents(out.lower())
    out, stretched = collapse_elongation(out)
    out = " ".join(out.split())
    return NormalizedText(out, bool(stretched), tuple(stretched))


def tokenize(text: str, teh_marbuta: bool = True, alef_maksura: bool = True) -> List[RawToken]:
    """Split raw text into tokens with raw offsets and normalised forms.

    Punctuation is dropped, each emoji or other symbol is its own token, and a
    token whose normalised form is empty (a lone tatweel) is skipped.
    """
    text = text or ""
    if len(text) <= CACHED_TOKENIZE_CHARS:
        return list(_tokenized(text, teh_marbuta, alef_maksura))
    return list(_tokens(text, teh_marbuta, alef_maksura))


@functools.lru_cache(maxsize=512)
def _tokenized(text: str, teh_marbuta: bool, alef_maksura: bool) -> Tuple[RawToken, ...]:
    return _tokens(text, teh_marbuta, alef_maksura)


def _tokens(text: str, teh_marbuta: bool, alef_maksura: bool) -> Tuple[RawToken, ...]:
    tokens = []
    arabizi_message = looks_like_arabizi(text)
    for match in _TOKEN.finditer(text):
        raw = match.group()
        if unicodedata.category(raw[0]).startswith("P"):
            continue
        norm = normalize(raw, teh_marbuta, alef_maksura).text
        if not norm:
            continue
        translit = None
        if arabizi_message and _LATIN.search(raw) and not norm.isdigit():
            translit = arabizi_to_arabic(norm)
        tokens.append(RawToken(raw, match.start(), match.end(), norm, translit))
    return tuple(tokens)


def looks_like_arabizi(text: str) -> bool:
    """Latin-script Arabic: Latin letters, no Arabic letters, and at least one
    word that uses digits as letters (``m2to3``, ``3ala``, ``embare7``)."""
    if not text or _ARABIC_LETTER.search(text) or not _LATIN.search(text):
        return False
    return any(_ARABIZI_WORD.match(word) for word in re.findall(r"[\w']+", text))


# Longest patterns first. Approximate on purpose: the transliteration is an extra
# feature next to the Latin text, so it only has to bring Arabizi closer to Arabic.
_ARABIZI_MAP = [
    ("3'", "غ"), ("7'", "خ"), ("9'", "ض"), ("6'", "ظ"),
    ("sh", "ش"), ("ch", "ش"), ("kh", "خ"), ("gh", "غ"), ("th", "ث"), ("dh", "ذ"),
    ("ou", "و"), ("oo", "و"), ("ee", "ي"), ("aa", "ا"), ("ei", "ي"), ("ai", "ي"),
    ("2", "ء"), ("3", "ع"), ("5", "خ"), ("6", "ط"), ("7", "ح"), ("8", "ق"), ("9", "ق"),
    ("b", "ب"), ("t", "ت"), ("j", "ج"), ("g", "ج"), ("d", "د"), ("r", "ر"), ("z", "ز"),
    ("s", "س"), ("f", "ف"), ("q", "ق"), ("k", "ك"), ("l", "ل"), ("m", "م"), ("n", "ن"),
    ("h", "ه"), ("w", "و"), ("y", "ي"), ("p", "ب"), ("v", "ف"), ("x", "كس"), ("c", "ك"),
    ("i", "ي"), ("o", "و"), ("u", "و"),
]


def arabizi_to_arabic(word: str) -> str:
    """Transliterate one lower-case Arabizi word into Arabic script.

    Short vowels ``a`` and ``e`` are written as alef at the start of a word and
    dropped inside it, the way Arabic spells them; ``el``/``al`` become ``ال``.
    """
    if word in {"el", "al", "il", "l"}:
        return "ال"
    out = []
    i = 0
    while i < len(word):
        if i == 0 and word[0] in "aei" and not word.startswith(("ee", "ei", "ai")):
            out.append("ا")
            i += 1
            continue
        for latin, arabic in _ARABIZI_MAP:
            if word.startswith(latin, i):
                out.append(arabic)
                i += len(latin)
                break
        else:
            # a, e inside a word are short vowels; anything else unknown is dropped
            if word[i] == "a" and i == len(word) - 1:
                out.append("ه")
            i += 1
    return "".join(out)


def transliterated(tokens: List[RawToken]) -> str:
    """The Arabic-script reading of a message's Arabizi tokens, joined."""
    words = [t.arabizi for t in tokens if t.arabizi]
    # "el net" -> "النت": the article belongs to the next word
    return " ".join(words).replace("ال ", "ال")
