"""Find account/meter, phone and ticket numbers in a message, with raw offsets.

Pure module. Numbers are found on the raw text, in every digit script (ASCII,
Arabic-Indic ٠-٩, Persian ۰-۹) and with the separators customers type inside
them (spaces, dashes, dots, parentheses: ``055 123 4567``, ``(055) 123-4567``,
``+966 55 123 4567``, ``T-482913``, ``ت-482913``). Each number's role comes from
the context words of ``lexicons/numbers.yml`` (the nearest one wins) and from its
shape; amounts, counts, times and readings (``350 ريال``, ``الساعة 5``, ``قراءة
العداد ... 48213``) are left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

import yaml

from bot.nlu.arabic_text import RawToken, fold_digits, normalize, tokenize

LEXICON_PATH = Path(__file__).parent / "lexicons" / "numbers.yml"
ACCOUNT, PHONE, TICKET, NONE = "account_number", "phone_number", "ticket_number", "none"
ACCOUNT_DIGITS = (6, 10)  # the same range as actions.billing.ACCOUNT_DIGITS
TICKET_DIGITS = 6
# How many words back a context word still speaks for a number.
CUE_WINDOW = 7

_DIGIT = "[0-9\u0660-\u0669\u06f0-\u06f9]"
# A separator inside a number: one space, a dash or a dot (maybe with spaces
# around it), or a parenthesis (with a space after it).
_SEPARATOR = r"(?:[ \u00a0]?[-.\u2010-\u2013][ \u00a0]?|[ \u00a0]|[ \u00a0]?[()][ \u00a0]?)"
_NUMBER = re.compile(
    # a ticket prefix (T-, t, ت-, T/, T., TKT-) that is not the end of a word
    # (a Latin T may follow Arabic letters: "الطلبT-338812")
    rf"(?P<prefix>(?:(?<![A-Za-z0-9_])(?:TKT|tkt|Tkt|[TtＴ])|(?<![^\W\d_])ت)[ \u00a0]?[-_/.]?[ \u00a0]?)?"
    rf"(?P<body>(?:\+|\(\+?)?{_DIGIT}(?:{_SEPARATOR}?{_DIGIT})*\)?)"
)
# Letters or digits glued to a number make it part of a word ("m2to3", "ra2m").
_LATIN_BEFORE = re.compile(r"[A-Za-z0-9_]$")
_LATIN_AFTER = re.compile(r"^[A-Za-z_]")
# Glued prefixes before a context word: "للحساب", "عالحساب", "وجوالي".
_CUE_PREFIXES = ("وال", "بال", "فال", "عال", "لل", "ال", "و", "ب", "ل", "ف", "ع")
# Those of them that carry the article ("عالرقم", "للرقم"): "the number", a definite one.
_ARTICLE_PREFIXES = tuple(p for p in _CUE_PREFIXES if p.endswith(("ال", "لل")))


@dataclass(frozen=True)
class NumberMention:
    """A number that is one of the three entities.

    Attributes:
        entity: ``account_number``, ``phone_number`` or ``ticket_number``.
        start: raw offset of the first character.
        end: raw offset after the last character.
        text: the number exactly as typed.
        normalized: ASCII digits (a phone keeps its ``+``; a ticket is ``T-`` and
            its digits).
    """

    entity: str
    start: int
    end: int
    text: str
    normalized: str


@dataclass(frozen=True)
class NumberLexicon:
    """The normalised contents of ``lexicons/numbers.yml``."""

    cues: Dict[str, Tuple[str, ...]]
    whole_word_cues: FrozenSet[str]
    units: FrozenSet[str]
    ticket_intents: FrozenSet[str]
    phone_intents: FrozenSet[str]
    number_words: FrozenSet[str]
    country_codes: Tuple[str, ...]
    bare_country_codes: Tuple[str, ...]
    local_phone_lengths: Dict[str, Tuple[int, ...]]
    service_phone_lengths: Dict[str, Tuple[int, ...]]


def _norm(word: str) -> str:
    return normalize(str(word)).text


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> NumberLexicon:
    """Read and normalise the number lexicon."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    phone = data["phone"]
    return NumberLexicon(
        cues={role: tuple(_norm(w) for w in words) for role, words in data["cues"].items()},
        whole_word_cues=frozenset(_norm(w) for w in data["whole_word_cues"]),
        units=frozenset(_norm(w) for w in data["units"]),
        ticket_intents=frozenset(data["ticket_intents"]),
        phone_intents=frozenset(data["phone_intents"]),
        number_words=frozenset(_norm(w) for w in data["number_words"]),
        country_codes=tuple(sorted(map(str, phone["country_codes"]), key=len, reverse=True)),
        bare_country_codes=tuple(map(str, phone["bare_country_codes"])),
        local_phone_lengths={str(k): tuple(v) for k, v in phone["local"].items()},
        service_phone_lengths={str(k): tuple(v) for k, v in phone["service"].items()},
    )


@dataclass(frozen=True)
class _Candidate:
    start: int
    end: int
    digits: str  # ASCII digits only
    international: bool  # written with + or 00
    ticket_prefix: bool


def _split_groups(text: str, start: int, end: int) -> List[Tuple[int, int]]:
    """Split a run of digit groups where two whole numbers stand side by side.

    A space between two groups of six or more digits separates two numbers
    ("123456 0551234567"); so does a space that would make the number longer
    than any phone number (15 digits).
    """
    groups = [(m.start() + start, m.end() + start) for m in re.finditer(rf"{_DIGIT}+", text[start:end])]
    pieces: List[Tuple[int, int]] = []
    piece_start, digits = groups[0][0], groups[0][1] - groups[0][0]
    previous_end = groups[0][1]
    for group_start, group_end in groups[1:]:
        size = group_end - group_start
        gap = text[previous_end:group_start]
        whitespace_only = gap.strip() == ""
        if (whitespace_only and size >= 6 and digits >= 6) or digits + size > 15:
            pieces.append((piece_start, previous_end))
            piece_start, digits = group_start, 0
        digits += size
        previous_end = group_end
    pieces.append((piece_start, previous_end))
    return pieces


# What stands between two digit groups of one number ("558 201", "447-1203").
_GROUP_GAP = re.compile(rf"(?<={_DIGIT})[^0-9\u0660-\u0669\u06f0-\u06f9]+(?={_DIGIT})")


def _without_last_group(text: str, start: int, end: int) -> Optional[int]:
    """The end of a run of digit groups less its last group (and the separator before
    it), or None when it has one group only."""
    last = max((m.start() for m in _GROUP_GAP.finditer(text[start:end])), default=None)
    if last is None:
        return None
    return start + last


def _candidates(text: str, taken: Sequence[Tuple[int, int]], lexicon: NumberLexicon) -> List[_Candidate]:
    found = []
    for match in _NUMBER.finditer(text):
        body_start, body_end = match.span("body")
        if _LATIN_AFTER.search(text[body_end:]):
            # "T-229018 3al twitter": the last group is the start of an Arabizi word, not
            # part of the number (3 = ع)
            shorter = _without_last_group(text, body_start, body_end)
            if shorter is None:
                continue
            body_end = shorter
        if _LATIN_BEFORE.search(text[: match.start()]):
            continue
        pieces = _split_groups(text, body_start, body_end)
        for index, (start, end) in enumerate(pieces):
            # a leading "+" or "(" belongs to the first piece, a ")" closing it too
            if index == 0:
                start = body_start
                while text[start] in "(" and ")" not in text[start:end]:
                    start += 1
            if end < body_end and text[end] == ")" and "(" in text[start:end]:
                end += 1
            if any(s < end and start < e for s, e in taken):
                continue
            raw = text[start:end]
            digits = re.sub(r"\D", "", fold_digits(raw))
            # "00" is the international prefix only before a country code ("000000" is a number)
            dialled = digits.startswith("00") and len(digits) >= 11 and digits[2:].startswith(lexicon.country_codes)
            international = raw.lstrip("(").startswith("+") or dialled
            if dialled:
                digits = digits[2:]
            has_prefix = index == 0 and match.group("prefix") is not None
            found.append(_Candidate(match.start() if has_prefix else start, end, digits, international, has_prefix))
    return found


def _phone_shape(candidate: _Candidate, lexicon: NumberLexicon) -> bool:
    """Unmistakably a phone number, whatever the words around it say."""
    digits = candidate.digits
    if candidate.international:
        return any(digits.startswith(code) for code in lexicon.country_codes) and 8 <= len(digits) <= 15
    if 11 <= len(digits) <= 13 and any(digits.startswith(code) for code in lexicon.bare_country_codes):
        return True
    return any(digits.startswith(prefix) and len(digits) in sizes for prefix, sizes in lexicon.local_phone_lengths.items())


def _maybe_phone(candidate: _Candidate, text: str, lexicon: NumberLexicon) -> bool:
    """Written like a phone (a trunk 0 and 8 to 11 digits, an area code in
    parentheses, a unified number: ``0223456789``, ``(011) 4567890``, ``920001234``)
    but not unmistakably one: a phone unless a context word names another role."""
    raw, digits = text[candidate.start : candidate.end], candidate.digits
    if digits.startswith("0") and 8 <= len(digits) <= 11:  # 8: Lebanon's "03 998 877"
        return True
    if "(" in raw and len(digits) >= 8:
        return True
    return any(digits.startswith(p) and len(digits) in sizes for p, sizes in lexicon.service_phone_lengths.items())


def _stripped(word: str) -> List[str]:
    return [word] + [word[len(p) :] for p in _CUE_PREFIXES if word.startswith(p) and len(word) > len(p) + 1]


def _cue_role(word: str, lexicon: NumberLexicon) -> Optional[str]:
    for form in _stripped(word):
        for role, cues in lexicon.cues.items():
            for cue in cues:
                if form == cue or (cue not in lexicon.whole_word_cues and form.startswith(cue)):
                    return role
    return None


def _the_number(word: str, lexicon: NumberLexicon) -> bool:
    """"الرقم", "عالرقم", "للرقم": the number meant is that one, not one named further back
    ("عندي رقم" after "الطلب" is still the request's)."""
    return any(word == prefix + number for prefix in _ARTICLE_PREFIXES for number in lexicon.number_words)


def _context_role(tokens: Sequence[RawToken], text: str, start: int, end: int, lexicon: NumberLexicon) -> Optional[str]:
    """The role named by the nearest context word before the number (or, failing
    that, by one of the two words right after it)."""
    # a context word glued to the number comes first: "رقم البلاغ661092"
    glued = [tokenize(text[t.start : start]) for t in tokens if t.start < start < t.end]
    before = [t for t in tokens if t.end <= start and not t.norm.isdigit()][-CUE_WINDOW:] + [g[-1] for g in glued if g]
    for index in range(len(before) - 1, -1, -1):
        role = _cue_role(before[index].norm, lexicon)
        if role:
            return role
        if _the_number(before[index].norm, lexicon):
            return _cue_role(before[index - 1].norm, lexicon) if index else None
    after = [t for t in tokens if t.start >= end][:2]
    for token in after:
        role = _cue_role(token.norm, lexicon)
        if role and role != NONE:
            return role
    return None


def _followed_by_unit(
    text: str, end: int, tokens: Sequence[RawToken], lexicon: NumberLexicon, taken: Sequence[Tuple[int, int]]
) -> bool:
    """A unit word right after the number ("250 ريال", "3 ايام") makes it an amount.

    A unit that starts a date found in the message is no unit: in "حسابي 4471203 يوم
    الخميس" the يوم is the visit's day, not "4471203 days".
    """
    if text[end:].lstrip()[:1] in ("%", "٪", "$"):
        return True
    following = next((t for t in tokens if t.start >= end), None)
    if following is None or any(s <= following.start < e for s, e in taken):
        return False
    return following.norm in lexicon.units


def _role(
    candidate: _Candidate, context: Optional[str], intent: Optional[str], lexicon: NumberLexicon, text: str
) -> Optional[str]:
    """Which entity a number is, or ``None`` when it is none of them."""
    size = len(candidate.digits)
    if candidate.ticket_prefix:
        return TICKET
    if _phone_shape(candidate, lexicon):
        return PHONE
    if context == NONE:
        return None
    if context == PHONE and 8 <= size <= 15:
        return PHONE
    if context == TICKET:
        # a reference word with the wrong shape ("الرقم المرجعي 20948812" of a bank
        # transfer) is not an account either
        return TICKET if size == TICKET_DIGITS else None
    if context is None and (_maybe_phone(candidate, text, lexicon) or intent in lexicon.phone_intents and 8 <= size <= 15):
        return PHONE
    low, high = ACCOUNT_DIGITS
    if not low <= size <= high:
        return None
    if context == ACCOUNT:
        return ACCOUNT
    if size == TICKET_DIGITS and intent in lexicon.ticket_intents:
        return TICKET
    return ACCOUNT


def _normalized(entity: str, candidate: _Candidate) -> str:
    if entity == TICKET:
        return f"T-{candidate.digits}"
    if entity == PHONE and candidate.international:
        return f"+{candidate.digits}"
    return candidate.digits


def find_numbers(
    text: str,
    intent: Optional[str] = None,
    taken: Sequence[Tuple[int, int]] = (),
    lexicon: Optional[NumberLexicon] = None,
) -> List[NumberMention]:
    """Every account, phone and ticket number in ``text``, left to right.

    Args:
        text: the message as the customer typed it.
        intent: the message's intent, when known: a bare six-digit number in a
            status request is a ticket.
        taken: raw spans already claimed (dates such as ``15-03-2025``).
        lexicon: context words and shapes (the shipped lexicon when omitted).

    Returns:
        The mentions, with offsets on ``text``.
    """
    lexicon = lexicon or load_lexicon()
    tokens = tokenize(text)
    mentions = []
    for candidate in _candidates(text, taken, lexicon):
        context = _context_role(tokens, text, candidate.start, candidate.end, lexicon)
        # "T-558201" is a reference whatever follows it; so is a reference word's six
        # digits ("el balagh ra2m 990124 sar 3aleh shi?": Arabizi "صار", not riyals)
        referenced = context == TICKET and len(candidate.digits) == TICKET_DIGITS
        if not candidate.ticket_prefix and not referenced and _followed_by_unit(text, candidate.end, tokens, lexicon, taken):
            continue
        entity = _role(candidate, context, intent, lexicon, text)
        if entity is not None:
            raw = text[candidate.start : candidate.end]
            mentions.append(NumberMention(entity, candidate.start, candidate.end, raw, _normalized(entity, candidate)))
    return mentions
