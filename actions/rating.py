"""Reading a 1-5 satisfaction rating from what the customer typed.

Pure module: customers answer "كيف تقيّم خدمتنا من 1 إلى 5؟" with a button
(``/inform{"rating": 4}``), a digit in any script (``4``, ``٤``, ``۴``), a
phrase (``٤ من ٥``, ``4/5``), a word (``خمسة``, ``اربعه``, ``three``,
``khamsa``) or stars (``⭐⭐⭐``).
"""

from __future__ import annotations

import re
from typing import Any, Dict, Set

from bot.nlu.arabic_text import normalize

MIN_RATING = 1
MAX_RATING = 5

# Number words customers use for 1-5, already in the normalised form that
# ``normalize`` produces (alef and teh marbuta folded, tatweel and elongation
# removed). Language, not organisation data: the same for every deployment.
_WORDS: Dict[str, int] = {
    # Arabic (MSA and dialects)
    "واحد": 1, "واحده": 1, "وحده": 1,
    "اثنين": 2, "اثنان": 2, "اتنين": 2, "ثنين": 2, "تنين": 2, "اثنتين": 2,
    "ثلاثه": 3, "ثلاث": 3, "تلاته": 3, "تلات": 3,
    "اربعه": 4, "اربع": 4,
    "خمسه": 5, "خمس": 5,
    # English and Arabizi
    "one": 1, "wa7ed": 1, "wahed": 1,
    "two": 2, "etnen": 2, "itnen": 2, "ithnen": 2, "tnen": 2,
    "three": 3, "talata": 3, "thalatha": 3, "tlata": 3,
    "four": 4, "arba3a": 4, "arba3": 4, "arbaa": 4,
    "five": 5, "khamsa": 5, "khamse": 5,
}
_STAR = "⭐"
# "4 من 5", "4/5", "4 out of 5": the scale is not a second rating.
_OUT_OF_FIVE = re.compile(r"(?:/|من|out\s+of|of)\s*5\b", re.IGNORECASE)
# Numbers, and words that may contain digits (Arabizi "arba3a").
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]\w*")
INVALID = -1


def parse_rating(value: Any) -> int | None:
    """The rating 1-5 in a button value or a customer's message.

    Args:
        value: an int, a float or the text the customer sent.

    Returns:
        The rating, or ``None`` when the text holds no single rating from 1 to 5
        (``0``, ``7``, ``3 او 4`` and free text are not guessed at).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value) if float(value).is_integer() and MIN_RATING <= value <= MAX_RATING else None
    raw = str(value).strip()
    if not raw:
        return None
    stars = raw.count(_STAR)
    if stars and not raw.replace(_STAR, "").replace("\ufe0f", "").strip():
        return stars if MIN_RATING <= stars <= MAX_RATING else None
    text = _OUT_OF_FIVE.sub(" ", normalize(raw).text)
    found: Set[int] = set()
    for token in _TOKEN.findall(text):
        if token in _WORDS:
            found.add(_WORDS[token])
        elif token[0].isdigit():
            number = float(token.replace(",", "."))
            valid = number.is_integer() and MIN_RATING <= number <= MAX_RATING
            found.add(int(number) if valid else INVALID)
    # "خمسة نجوم" is five; "ثلاثة او اربعة" and "10" are not a rating.
    if len(found) != 1 or INVALID in found:
        return None
    return found.pop()
