"""Personal data masking for customer text shown to trainers or exported.

Masks phone numbers, Saudi national and iqama ids, IBANs, card numbers and e-mail
addresses, in ASCII, Arabic-Indic (٠-٩) or Persian (۰-۹) digits. Every mask keeps
the length and shape of what it hides (digits become the zero of their own script,
letters become ``x``), so entity offsets a trainer marks on masked text are also
valid on the text written to ``nlu_data/``, and the CRF still sees "a phone number
here" after retraining.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Tuple

from bot.nlu.arabic_text import fold_digits

# Matching runs on digit-folded text; folding maps one character to one character,
# so every match's offsets are valid on the raw text too.
_SEP = r"[ \-\u00a0]?"
# Most specific first: an IBAN or a card contains runs that look like ids, and a
# Saudi mobile written with 00966 is as long as a card number.
_PATTERNS: Tuple[Tuple[str, re.Pattern], ...] = (
    ("email", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)),
    ("iban", re.compile(r"(?<![A-Za-z0-9])SA\d{2}(?:" + _SEP + r"[0-9A-Za-z]{1,4}){5,6}(?![0-9])", re.IGNORECASE)),
    # Saudi mobiles (05…, +966 5…, 00966 5…) and other international numbers (+…, 00…).
    ("phone", re.compile(r"(?<![\d+])(?:(?:(?:\+|00)966" + _SEP + r"|0)5\d(?:" + _SEP + r"\d){7}|(?:\+|00)\d{8,14})(?!\d)")),
    ("card", re.compile(r"(?<!\d)\d{4}(?:" + _SEP + r"\d{4}){2}" + _SEP + r"\d{1,7}(?!\d)")),
    # National ids start with 1, iqama (resident) ids with 2; both are 10 digits.
    ("national_id", re.compile(r"(?<!\d)[12]\d{9}(?!\d)")),
)

_ZERO_OF = {c: z for digits, z in (("0123456789", "0"), ("٠١٢٣٤٥٦٧٨٩", "٠"), ("۰۱۲۳۴۵۶۷۸۹", "۰")) for c in digits}


@dataclass(frozen=True)
class MaskedSpan:
    """One piece of personal data that was masked.

    Attributes:
        kind: email, iban, card, phone or national_id.
        start: offset in the raw text.
        end: offset after the span in the raw text.
    """

    kind: str
    start: int
    end: int


def _mask_chars(raw: str, kind: str) -> str:
    out = []
    for i, char in enumerate(raw):
        if char in _ZERO_OF:
            out.append(_ZERO_OF[char])
        elif kind == "iban" and i < 2:
            out.append(char)  # the country code says what it is, not whose
        elif char.isalnum():
            out.append("x")
        else:
            out.append(char)
    return "".join(out)


def find_personal_data(text: str) -> List[MaskedSpan]:
    """Spans of personal data in ``text``, non-overlapping, in text order."""
    folded = fold_digits(text or "")
    taken = [False] * len(folded)
    spans = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(folded):
            if any(taken[match.start() : match.end()]):
                continue
            for i in range(match.start(), match.end()):
                taken[i] = True
            spans.append(MaskedSpan(kind, match.start(), match.end()))
    return sorted(spans, key=lambda s: s.start)


def mask(text: str) -> str:
    """``text`` with every piece of personal data masked, same length.

    >>> mask("جوالي ٠٥٥١٢٣٤٥٦٧")
    'جوالي ٠٥٠٠٠٠٠٠٠٠'
    """
    if not text:
        return text or ""
    chars = list(text)
    for span in find_personal_data(text):
        chars[span.start : span.end] = _mask_chars(text[span.start : span.end], span.kind)
    return "".join(chars)
