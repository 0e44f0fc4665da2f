"""Personal data masking: the one module every process uses (actions, handoff, workbench, logs).

Finds phone numbers (Saudi 05…, Egyptian 01…, with or without +966 / 00966 /
966 / +20 / 0020, and other ``+``/``00`` international numbers), Saudi national
and iqama ids, IBANs, card numbers and e-mail addresses, and optionally every
other run of 7 or more digits (account numbers in logs and agent views).

Matching runs on a *normalised view* of the text: zero-width characters,
tatweel and bidi controls are removed and every decimal digit (ASCII,
Arabic-Indic ٠-٩, Persian ۰-۹, any script) becomes ASCII, so ``٠٥٥ـ١٢٣\u200b٤٥٦٧``
and ``+966.55.123.4567`` are found like ``0551234567``. Each view character
remembers its offset in the raw text, and masking writes back into the raw
text: every mask keeps the length and shape of what it hides (digits become the
zero of their own script, letters ``x``, separators and invisible characters
stay), so entity offsets a trainer marks on masked text are also valid on the
text written to ``nlu_data/``.

Pure functions, standard library only: the logging filter imports this in every
process, before anything else is configured.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from typing import List, Optional, Tuple

# Characters that change nothing a reader sees but break a naive digit match:
# zero-width space/non-joiner/joiner, LRM/RLM, word joiner, BOM, tatweel, Arabic
# letter mark and the bidi embeddings, overrides and isolates.
INVISIBLE = frozenset(
    [chr(c) for c in range(0x200B, 0x2010)]
    + ["\u2060", "\ufeff", "\u0640", "\u061c"]
    + [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
)

# Between the digits of a phone number people type spaces (one or several), dots,
# dashes, slashes and parentheses.
_SEP = r"[\s.\-/()\u00a0]{0,3}"
# National ids are written in groups, but never with dots or slashes (those are dates).
_ID_SEP = r"[ \-\u00a0]{0,2}"


def _digits(count: str, sep: str = _SEP) -> str:
    """``count`` more digits, each possibly preceded by separators."""
    return rf"(?:{sep}\d){{{count}}}"


_PHONE = re.compile(
    r"(?<![\d+])(?:"
    # Saudi mobiles: 05x xxx xxxx, 9665…, +9665…, 009665…
    rf"(?:(?:\+|00)?966{_SEP}(?:\(?0\)?{_SEP})?|0)5{_digits('8')}"
    # Egyptian mobiles: 01[0125] xxxx xxxx, 201…, +201…, 00201…
    rf"|(?:(?:\+|00)?20{_SEP}(?:\(?0\)?{_SEP})?|0)1[0125]{_digits('8')}"
    # any other international number: + or 00, then 8 to 14 digits
    rf"|(?:\+|00){_SEP}\d{_digits('7,13')}"
    r")(?!\d)"
)

# Most specific first: an IBAN or a card contains runs that look like ids, and a
# Saudi mobile written with 00966 is as long as a card number.
_PATTERNS: Tuple[Tuple[str, re.Pattern], ...] = (
    ("email", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)),
    ("iban", re.compile(r"(?<![A-Za-z0-9])SA\d{2}(?:[ \-\u00a0]?[0-9A-Za-z]{1,4}){5,6}(?![0-9])", re.IGNORECASE)),
    ("phone", _PHONE),
    ("card", re.compile(r"(?<!\d)\d{4}(?:[ \-\u00a0]?\d{4}){2}[ \-\u00a0]?\d{1,7}(?!\d)")),
    # National ids start with 1, iqama (resident) ids with 2; both are 10 digits.
    ("national_id", re.compile(rf"(?<!\d)[12]{_digits('9', _ID_SEP)}(?!\d)")),
)
# Any other long number (account, meter, order): masked where the caller asks.
_DIGIT_RUN = ("digits", re.compile(r"(?<!\d)\d{7,}(?!\d)"))

_ZERO = "0"
# Customer displays: channel prefixes of sender ids, and ids that are phone numbers.
_CHANNEL_PREFIX = re.compile(r"^(?:whatsapp|tel|sms):", re.IGNORECASE)
_PHONE_ID = re.compile(r"^\+?\d{8,15}$")
PHONE_CHANNELS = frozenset({"whatsapp", "twilio"})


@dataclass(frozen=True)
class MaskedSpan:
    """One piece of personal data that was found.

    Attributes:
        kind: email, iban, card, phone, national_id or digits.
        start: offset in the raw text.
        end: offset after the span in the raw text.
    """

    kind: str
    start: int
    end: int


def normalised_view(text: str) -> Tuple[str, List[int]]:
    """The text matching runs on, and the raw offset of each of its characters.

    Invisible characters (:data:`INVISIBLE`) are dropped; every decimal digit of
    any script becomes its ASCII digit; everything else is kept as it is.

    >>> normalised_view("٠٥\u200b٥")
    ('055', [0, 1, 3])
    """
    view, offsets = [], []
    for i, char in enumerate(text):
        if char in INVISIBLE:
            continue
        if char.isdecimal() and not char.isascii():
            char = str(unicodedata.decimal(char))
        view.append(char)
        offsets.append(i)
    return "".join(view), offsets


def find_personal_data(text: str, digit_runs: bool = False) -> List[MaskedSpan]:
    """Spans (raw offsets) of personal data in ``text``, non-overlapping, in text order.

    Args:
        text: any text, raw as typed.
        digit_runs: also report every other run of 7+ digits (kind ``digits``);
            logs and agent views want that, NLU examples keep account numbers.
    """
    view, offsets = normalised_view(text or "")
    taken = [False] * len(view)
    spans = []
    patterns = _PATTERNS + ((_DIGIT_RUN,) if digit_runs else ())
    for kind, pattern in patterns:
        for match in pattern.finditer(view):
            if match.start() == match.end() or any(taken[match.start() : match.end()]):
                continue
            for i in range(match.start(), match.end()):
                taken[i] = True
            spans.append(MaskedSpan(kind, offsets[match.start()], offsets[match.end() - 1] + 1))
    return sorted(spans, key=lambda s: s.start)


def _mask_chars(raw: str, kind: str) -> str:
    out = []
    for i, char in enumerate(raw):
        if char.isdecimal():
            # the zero of the digit's own script keeps the text's look (and the CRF's features)
            out.append(chr(ord(char) - unicodedata.decimal(char)))
        elif char in INVISIBLE:
            out.append(char)  # tatweel is a letter to str.isalnum, but hides nothing
        elif kind == "iban" and i < 2:
            out.append(char)  # the country code says what it is, not whose
        elif char.isalnum():
            out.append("x")
        else:
            out.append(char)
    return "".join(out)


def mask(text: str, digit_runs: bool = False) -> str:
    """``text`` with every piece of personal data masked, same length.

    Args:
        text: any text.
        digit_runs: also mask every other run of 7+ digits (see :func:`find_personal_data`).

    >>> mask("جوالي ٠٥٥١٢٣٤٥٦٧")
    'جوالي ٠٠٠٠٠٠٠٠٠٠'
    """
    if not text:
        return text or ""
    chars = list(text)
    for span in find_personal_data(text, digit_runs):
        chars[span.start : span.end] = _mask_chars(text[span.start : span.end], span.kind)
    return "".join(chars)


def mask_customer(conversation_id: str, channel: Optional[str] = None) -> str:
    """How colleagues see a customer: a masked phone number or a short session id.

    Phone numbers (WhatsApp and Twilio senders, ``+`` numbers, anything the
    phone pattern finds) keep the first three digits (the country code) and the
    last three; other ids (web sessions) show their first six characters,
    digit runs masked.

    >>> mask_customer("whatsapp:+966512341234")
    '+966••••••234'
    >>> mask_customer("3f9a2c1b-77aa", "webchat")
    'session 3f9a2c…'
    """
    raw = _CHANNEL_PREFIX.sub("", str(conversation_id or "").strip())
    view, _ = normalised_view(raw)
    compact = re.sub(r"[\s.\-/()\u00a0]", "", view)
    phone = bool(_PHONE_ID.match(compact)) and (
        channel in PHONE_CHANNELS or compact.startswith("+") or any(s.kind == "phone" for s in find_personal_data(raw))
    )
    if phone:
        digits = compact.lstrip("+")
        digits = digits[2:] if digits.startswith("00") else digits
        prefix = "+" if compact.startswith(("+", "00")) or channel in PHONE_CHANNELS or not digits.startswith("0") else ""
        return f"{prefix}{digits[:3]}{'•' * max(len(digits) - 6, 3)}{digits[-3:]}"
    shown = mask(raw[:6], digit_runs=True)
    return f"session {shown}" if len(raw) <= 6 else f"session {shown}…"


def conversation_ref(conversation_id: str, key: bytes) -> str:
    """An opaque, stable reference to a conversation for people who may not see its id.

    Keyed (HMAC-SHA256): an unkeyed hash of a phone number is reversed by trying
    every number.
    """
    return hmac.new(key, str(conversation_id).encode("utf-8"), hashlib.sha256).hexdigest()[:20]
