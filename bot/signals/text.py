"""The model input string of a message: normalised text plus emotion cue markers.

``bot.nlu.arabic_text.normalize`` collapses letter elongation (``حرااااام``) and
lower-cases Latin, so a model reading only its output would lose two of the
strongest anger cues. This module keeps them as marker tokens appended to the
normalised text, next to runs of ``!!`` / ``؟؟`` and repeated emoji (which survive
normalisation, but as punctuation a subword tokenizer splits apart). The Arabic
reading of Arabizi is appended as the intent classifier does, so ``el kahraba
tafya`` shares features with ``الكهربا طافيه``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Tuple

from bot.nlu.arabic_text import fold_digits, normalize, tokenize, transliterated

# Marker tokens. Lower-case ASCII in angle brackets: nothing normalisation
# produces looks like them, and the tokenizer keeps each one as a single token.
ELONGATION = "<elong>"
EXCLAMATION = "<excl>"
QUESTION = "<ques>"
CAPS = "<caps>"
EMOJI_REPEAT = "<emoji_rep>"
MARKERS = (ELONGATION, EXCLAMATION, QUESTION, CAPS, EMOJI_REPEAT)

# Longer messages are cut before any processing: it bounds latency, and customer
# messages are 2 to 60 words (the transformer reads at most 128 tokens anyway).
MAX_CHARS = 1000

# Two or more of ! ? ؟ in a row ("!!!", "؟؟", "?!").
_PUNCT_RUN = re.compile(r"[!?؟！？]{2,}")
# A Latin word in capitals; acronyms customers write in capitals without shouting
# are listed below and do not count.
_CAPS_WORD = re.compile(r"(?<![A-Za-z])[A-Z]{3,}(?![A-Za-z])")
_ACRONYMS = frozenset(
    {"ADSL", "VDSL", "FTTH", "DSL", "SMS", "OTP", "UPS", "SIM", "ATM", "IBAN", "PDF", "APP",
     "IPTV", "VPN", "LTE", "KWH", "MBPS", "GB", "MB", "STC", "PIN", "CEO", "USB", "TV"}
)
# Digit runs that are numbers (accounts, phones, tickets), not letters of an
# Arabizi word such as "m2to3": their value says nothing about the signals.
_LONG_NUMBER = re.compile(r"(?<![a-z])\d{4,}(?![a-z'])")
# Emoji modifiers that must not break a run: variation selector, skin tones, ZWJ.
_EMOJI_MODIFIERS = re.compile("[\ufe0f\u200d\U0001f3fb-\U0001f3ff]")


@dataclass(frozen=True)
class Prepared:
    """A message ready for the models.

    Attributes:
        text: the model input string (normalised text, Arabizi reading, markers).
        elongated: letters were stretched in the raw message.
    """

    text: str
    elongated: bool


def _is_emoji(char: str) -> bool:
    code = ord(char)
    return 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0x2B00 <= code <= 0x2BFF


def has_repeated_emoji(text: str) -> bool:
    """The same emoji twice or more in a row, spaces allowed (``😡😡``, ``🙏 🙏``)."""
    chars = [c for c in _EMOJI_MODIFIERS.sub("", text) if not c.isspace()]
    return any(_is_emoji(a) and a == b for a, b in zip(chars, chars[1:], strict=False))


def shouting_words(text: str) -> Tuple[str, ...]:
    """Latin words of three or more capitals that are not common acronyms."""
    return tuple(w for w in _CAPS_WORD.findall(text) if w not in _ACRONYMS)


def cue_markers(text: str, elongated: bool) -> Tuple[str, ...]:
    """The marker tokens of a raw message, each at most once, in a fixed order.

    Args:
        text: the raw message.
        elongated: what normalisation reported for it.
    """
    runs = _PUNCT_RUN.findall(text)
    found = {
        ELONGATION: elongated,
        EXCLAMATION: any(("!" in r or "！" in r) for r in runs),
        QUESTION: any(set(r) & {"?", "؟", "？"} for r in runs),
        CAPS: bool(shouting_words(text)),
        EMOJI_REPEAT: has_repeated_emoji(text),
    }
    return tuple(marker for marker in MARKERS if found[marker])


def prepare(text: str) -> Prepared:
    """The model input of one raw message (pure; empty input gives empty text).

    Args:
        text: the message as the customer typed it.

    Returns:
        The model input string and whether letters were stretched.
    """
    raw = fold_digits((text or "")[:MAX_CHARS])
    normalized = normalize(raw)
    arabizi = transliterated(tokenize(raw))
    body = _LONG_NUMBER.sub("0000", f"{normalized.text} {arabizi}")
    parts = [body, *cue_markers(raw, normalized.elongated)]
    return Prepared(" ".join(" ".join(parts).split()), normalized.elongated)


def model_input(text: str) -> str:
    """Just the model input string of :func:`prepare`."""
    return prepare(text).text
