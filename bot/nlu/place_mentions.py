"""Find the cities and districts a customer names, with offsets on the raw text.

Pure module. Two ways a place is found (``lexicons/places.yml`` lists the words):

- **By name**: a city or district of the gazetteer anywhere in the message
  (``في جدة``, ``بالمعادي``, ``fe makka``, ``الخبر الشمالية``). Names that are also
  ordinary words (``العليا`` "upper", ``الخرطوم`` "hose", ``مع السلامة``) count only
  after a locative word (``في``, ``ب``, ``فرع``, ``ساكن`` ...) or as a whole message.
- **After a place word**: the name that follows ``حي`` / ``منطقة`` / ``حارة`` /
  ``ضاحية`` / ``مدينة`` (each maybe with a glued preposition: ``بحي``, ``لحي``,
  ``فمدينة``; Arabizi ``7ay``, English ``district of``), listed or not: one to three
  words, a word taking the next one only when it needs a complement (``باب
  الوادي``, ``مدينة نصر``) or the next one is a place adjective (``الشاطئ الغربي``,
  ``التجمع الخامس``). A preposition, a pronoun, a verb, a number, a date, a service
  word or punctuation ends it. After ``حي`` a name is a district even when it is
  also a city (``حي الرياض``); after ``مدينة`` a city; after ``منطقة`` a city when
  the gazetteer says so (``منطقة الرياض``), else a district.

Spans follow ``nlu_data/README.md``: the district without the word ``حي``, a glued
one-letter preposition left outside (``بـجدة`` → ``جدة``), a separate Latin article
inside (``el riyadh``), offsets on the text as typed (tatweel and diacritics
included). Matching runs on the normalised tokens of
:func:`bot.nlu.arabic_text.tokenize`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple

import yaml

from bot.nlu import date_mentions, service_types
from bot.nlu.arabic_text import RawToken, normalize, tokenize

LEXICON_PATH = Path(__file__).parent / "lexicons" / "places.yml"
CITY, DISTRICT = "city", "district"
_AREA = "area"  # منطقة: a city when the gazetteer says so, else a district
_WEAK = "weak_district"  # "hay": a district word before an article or a listed name only
# One-letter prepositions and conjunctions glued to a word: وبالرياض, فجدة, لحي.
_GLUED = ("و", "ف", "ب", "ل", "ك", "ع")
_LATIN_ARTICLES = frozenset({"al", "el", "il", "l", "le", "la"})
# Between two words of one name only spaces, tatweel or a hyphen; anything else
# (، , . ؟ ! : ; brackets) ends a name.
_NAME_GAP = frozenset(" \u00a0\t\u0640-")
MAX_NAME_WORDS = 3


@dataclass(frozen=True)
class PlaceMention:
    """A city or district named in a message.

    Attributes:
        entity: ``city`` or ``district``.
        start: raw offset of the first character.
        end: raw offset after the last character.
        text: the span exactly as typed.
        value: the name as typed; the same as ``text`` except after ``لل``
            (``للرياض``), where the article the preposition swallowed is given back
            (``الرياض``) so that the name can be looked up.
        by_cue: found after a place word (``حي``, ``مدينة``) rather than by name.
    """

    entity: str
    start: int
    end: int
    text: str
    value: str
    by_cue: bool = False


@dataclass(frozen=True)
class PlaceLexicon:
    """The normalised contents of ``lexicons/places.yml``.

    Attributes:
        names: normalised words of a name → {kind: needs context}.
        longest: the most words in a name.
        cues: normalised words of a place word → ``district``, ``area`` or ``city``.
        construct_nouns: words that take the next word into a name (``باب``).
        name_adjectives: words that extend a name (``الشمالية``, ``الخامس``).
        stop_words: words that end a name read after a place word.
        context_words: words before an in-context name that make it a place.
        city_context_words: the same, for cities only (``من``, ``الى``).
        near_words: "near" words: ``قريب من <name>`` is a context too.
    """

    names: Dict[Tuple[str, ...], Dict[str, bool]]
    longest: int
    cues: Dict[Tuple[str, ...], str]
    construct_nouns: FrozenSet[str]
    name_adjectives: FrozenSet[str]
    stop_words: FrozenSet[str]
    context_words: FrozenSet[str]
    city_context_words: FrozenSet[str]
    near_words: FrozenSet[str]


def _words(entry: object) -> Tuple[str, ...]:
    return tuple(t.norm for t in tokenize(str(entry)))


def _spellings(words: Tuple[str, ...]) -> Iterable[Tuple[str, ...]]:
    """The name and its forms without a final hamza (صنعاء → صنعا)."""
    options = [[w, w[:-1]] if w.endswith("اء") else [w] for w in words]
    return (tuple(choice) for choice in product(*options))


def _entries(section: Any) -> Iterable[object]:
    """Every spelling of a section: a list of names, or {region: list of names}."""
    groups = list(section.values()) if isinstance(section, dict) else [section]
    for group in groups:
        for name in group or []:
            yield from (name if isinstance(name, list) else [name])


def _word_set(entries: Iterable[object]) -> FrozenSet[str]:
    return frozenset(normalize(str(e)).text for e in entries)


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> PlaceLexicon:
    """Read and normalise the place lexicon."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    names: Dict[Tuple[str, ...], Dict[str, bool]] = {}
    for kind, plural in ((CITY, "cities"), (DISTRICT, "districts")):
        for tier, in_context in ((plural, False), (f"{plural}_in_context", True)):
            for entry in _entries(data.get(tier) or []):
                for key in _spellings(_words(entry)):
                    if key:
                        kinds = names.setdefault(key, {})
                        # listed in context anywhere: in context everywhere
                        kinds[kind] = kinds.get(kind, False) or in_context
    cues: Dict[Tuple[str, ...], str] = {}
    for kind, entries in data["cues"].items():
        for entry in entries:
            words = entry if isinstance(entry, list) else [entry]
            cues[tuple(normalize(str(w)).text for w in words)] = kind
    return PlaceLexicon(
        names=names,
        longest=max(len(k) for k in names),
        cues=cues,
        construct_nouns=_word_set(data["construct_nouns"]),
        name_adjectives=_word_set(data["name_adjectives"]),
        stop_words=_word_set(data["stop_words"]),
        context_words=_word_set(data["context_words"]),
        city_context_words=_word_set(data["city_context_words"]),
        near_words=_word_set(data["near_words"]),
    )


def _is_latin(word: str) -> bool:
    return word.isascii()


def _skip_marks(text: str, index: int) -> int:
    """Move past tatweel, diacritics and joiners (written after a glued letter: ``بـجدة``)."""
    while index < len(text) and (text[index] == "\u0640" or unicodedata.category(text[index]) in ("Mn", "Cf")):
        index += 1
    return index


def _after_letters(token: RawToken, letters: int) -> int:
    """The raw offset after the token's first ``letters`` letters (and the marks after them)."""
    index = 0
    for _ in range(letters):
        index = _skip_marks(token.text, index) + 1
    return token.start + _skip_marks(token.text, index)


@dataclass(frozen=True)
class _Form:
    """A first word as the matcher reads it: less its glued prepositions."""

    norm: str
    start: int  # raw offset where the name starts
    glued: str  # the prepositions taken off, in order ("وب")
    restored_article: bool = False  # "للرياض": the name lost the alef of its article


def _forms(token: RawToken, min_rest: int = 3) -> List[_Form]:
    """The word as written, less up to two glued prepositions (leaving at least
    ``min_rest`` letters), and for ``لل`` the name with its article; for a Latin
    word also less a glued ``al``/``el`` (the span stays the whole word: ``al3olaya``)."""
    norm = token.norm
    forms = [_Form(norm, token.start, "")]
    if _is_latin(norm):
        if norm[:2] in ("al", "el", "il") and len(norm) >= 5:
            forms.append(_Form(norm[2:], token.start, ""))
        return forms
    rest, glued = norm, ""
    while len(glued) < 2 and len(rest) > min_rest and rest[0] in _GLUED:
        if rest.startswith("لل") and glued[-1:] != "ل":
            forms.append(_Form("ا" + rest[1:], _after_letters(token, len(glued) + 1), glued + "ل", True))
        glued, rest = glued + rest[0], rest[1:]
        forms.append(_Form(rest, _after_letters(token, len(glued)), glued))
    return forms


class _Reader:
    """Finds places in one message's tokens."""

    def __init__(self, text: str, tokens: Sequence[RawToken], lexicon: PlaceLexicon, blocked: Set[int]) -> None:
        self.text = text
        self.tokens = tokens
        self.lex = lexicon
        self.blocked = blocked

    def _joined(self, i: int) -> bool:
        """Token ``i`` follows token ``i - 1`` within one name (no punctuation between)."""
        gap = self.text[self.tokens[i - 1].end : self.tokens[i].start]
        return all(ch in _NAME_GAP for ch in gap)

    def _name_at(self, i: int, glued_ok: bool = True) -> Optional[Tuple[int, _Form, Dict[str, bool]]]:
        """The longest gazetteer name starting at token ``i``: (index after it, the
        first word's form, its kinds)."""
        forms = _forms(self.tokens[i]) if glued_ok else _forms(self.tokens[i])[:1]
        for size in range(min(self.lex.longest, len(self.tokens) - i), 0, -1):
            if size > 1 and not all(self._joined(k) for k in range(i + 1, i + size)):
                continue
            rest = tuple(t.norm for t in self.tokens[i + 1 : i + size])
            for form in forms:
                kinds = self.lex.names.get((form.norm, *rest))
                if kinds:
                    return i + size, form, kinds
        return None

    def _latin_name_at(self, i: int) -> Optional[Tuple[int, _Form, Dict[str, bool]]]:
        """A name at ``i``, or at ``i + 1`` after a separate Latin article (``el riyadh``)."""
        token = self.tokens[i]
        if token.norm in _LATIN_ARTICLES and i + 1 < len(self.tokens) and self._joined(i + 1):
            found = self._name_at(i + 1, glued_ok=False)
            if found and _is_latin(self.tokens[i + 1].norm):
                end, _, kinds = found
                return end, _Form(token.norm, token.start, ""), kinds
        return None

    def _cue_at(self, i: int) -> Optional[Tuple[int, str]]:
        """A place word at token ``i`` (maybe with a glued preposition): (index after it, kind)."""
        for size in (2, 1):
            if i + size > len(self.tokens):
                continue
            rest = tuple(t.norm for t in self.tokens[i + 1 : i + size])
            for form in _forms(self.tokens[i], min_rest=2):
                kind = self.lex.cues.get((form.norm, *rest))
                if kind:
                    return i + size, kind
        return None

    def _stops(self, i: int) -> bool:
        """Token ``i`` cannot be part of a name read after a place word."""
        norm = self.tokens[i].norm
        return (
            i in self.blocked
            or norm in self.lex.stop_words
            or not any(ch.isalpha() for ch in norm)
            or len(norm) < 2
            or self._cue_at(i) is not None
        )

    def _extend(self, i: int, end: int) -> int:
        """Take place adjectives and a construct noun's complement after a name."""
        while end < len(self.tokens) and end - i < MAX_NAME_WORDS and self._joined(end) and not self._stops(end):
            previous, word = self.tokens[end - 1].norm, self.tokens[end].norm
            if word in self.lex.name_adjectives or previous in self.lex.construct_nouns or previous in _LATIN_ARTICLES:
                end += 1
            else:
                break
        return end

    def _name_after_cue(self, j: int, weak: bool = False) -> Optional[Tuple[int, int, Dict[str, bool]]]:
        """The name after a place word, from token ``j``: (first index, index after, kinds).

        After a weak place word (``hay``) only a listed name or one led by an article.
        """
        if j >= len(self.tokens) or not self._joined(j):
            return None
        found = self._name_at(j, glued_ok=False) or self._latin_name_at(j)
        if found:
            end, _, kinds = found
            extended = self._extend(j, end)
            # "الدوحة الجديدة" is another place than "الدوحة"
            return j, extended, kinds if extended == end else {}
        first = j
        if self.tokens[j].norm in _LATIN_ARTICLES:
            if j + 1 >= len(self.tokens) or not self._joined(j + 1):
                return None
            first = j + 1
        elif weak:
            return None
        if self._stops(first):
            return None
        return j, self._extend(first, first + 1), {}

    def _in_context(self, i: int, form: _Form, kind: str, end: int) -> bool:
        """An in-context name at token ``i``: after a locative word, or the whole message."""
        glued = form.glued[-1:]
        # without the article, a glued ب is as often a verb's prefix (بصور "I'll photograph");
        # ع before the article is على, "at/to" (Levantine عالنسيم)
        if (glued == "ف" or glued in ("ب", "ع") and form.norm.startswith("ال")) or (kind == CITY and glued in ("ل", "ع")):
            return True
        words = self.lex.context_words | (self.lex.city_context_words if kind == CITY else frozenset())
        if i > 0:
            previous = {f.norm for f in _forms(self.tokens[i - 1], min_rest=1)}
            if previous & words:
                return True
            if "من" in previous and i > 1 and self.tokens[i - 2].norm in self.lex.near_words:
                return True
        others = [t for k, t in enumerate(self.tokens) if (k < i or k >= end) and any(ch.isalnum() for ch in t.norm)]
        return not others

    def _mention(self, entity: str, start: int, end_token: int, by_cue: bool, restored: bool = False) -> PlaceMention:
        end = self.tokens[end_token - 1].end
        text = self.text[start:end]
        return PlaceMention(entity, start, end, text, "ا" + text if restored else text, by_cue)

    def read(self) -> List[PlaceMention]:
        found: List[PlaceMention] = []
        i = 0
        while i < len(self.tokens):
            name = self._name_at(i) or self._latin_name_at(i)
            cue = self._cue_at(i)
            # "مدينة نصر" is a district's name, not a city word before "نصر"
            if name and (cue is None or name[0] > cue[0]):
                end, form, kinds = name
                kind = DISTRICT if DISTRICT in kinds else CITY
                # a district that needs context but a city that does not: the city
                if kinds.get(kind) and len(kinds) == 2 and not kinds[CITY]:
                    kind = CITY
                if i not in self.blocked and (not kinds[kind] or self._in_context(i, form, kind, end)):
                    found.append(self._mention(kind, form.start, end, False, form.restored_article))
                    i = end
                    continue
            if cue and i not in self.blocked:
                after, cue_kind = cue
                place = self._name_after_cue(after, weak=cue_kind == _WEAK)
                if place:
                    first, end, kinds = place
                    if cue_kind == _WEAK:
                        kind = DISTRICT
                    elif cue_kind == _AREA:
                        kind = CITY if CITY in kinds and DISTRICT not in kinds else DISTRICT
                    else:
                        kind = cue_kind
                    found.append(self._mention(kind, self.tokens[first].start, end, True))
                    i = end
                    continue
            i += 1
        return found


def find_places(
    text: str,
    taken: Sequence[Tuple[int, int]] = (),
    lexicon: Optional[PlaceLexicon] = None,
) -> List[PlaceMention]:
    """Every city and district named in ``text``, left to right.

    Args:
        text: the message as the customer typed it.
        taken: raw spans other rules already claimed (numbers; dates and service
            words are found here): no place starts in one, and a name after a place
            word stops at one.
        lexicon: the gazetteer and the words around names (the shipped one when omitted).

    Returns:
        The mentions, with offsets on ``text``.
    """
    lexicon = lexicon or load_lexicon()
    tokens = tokenize(text)
    taken = [
        *taken,
        *((d.start, d.end) for d in date_mentions.find_dates(text or "")),
        *((s.start, s.end) for s in service_types.find_services(tokens)),
    ]
    blocked = {k for k, t in enumerate(tokens) if any(s < t.end and t.start < e for s, e in taken)}
    return _Reader(text or "", tokens, lexicon, blocked).read()
