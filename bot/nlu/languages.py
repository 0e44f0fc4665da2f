"""Messages in a language the assistant does not speak.

Pure module. The assistant understands Arabic (every dialect, Arabizi), English and
French. Many customers of a Gulf utility write in Urdu or Hindi, in their own script or
in Latin letters ("bhai mera bijli ka meter kharab hai"), or in Tagalog or Indonesian
("Magkano po ang bill ko?"); read by the Arabic models such
a message gets some intent (``meter_reading`` 1.0 for that one) and an answer to a
question nobody asked. Recognised here, it is a message not understood: the assistant
says in English and Arabic which languages it reads, and two in a row reach a person
(as any repeated misunderstanding does).

The words live in ``lexicons/languages.yml``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Dict, FrozenSet, Optional, Tuple

import yaml

LEXICON_PATH = Path(__file__).parent / "lexicons" / "languages.yml"
# Distinct romanised words it takes: one may be a name or an Arabizi look-alike.
MIN_MARKERS = 2
_LATIN_WORD = re.compile(r"[a-z]+")


@lru_cache(maxsize=4)
def _load(path: Path = LEXICON_PATH) -> Tuple[Dict[str, FrozenSet[str]], FrozenSet[str], Tuple[str, ...]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    romanised = {language: frozenset(words) for language, words in data["romanised"].items()}
    return romanised, frozenset(data["urdu_letters"]), tuple(data["other_scripts"])


def foreign_language(text: str, path: Path = LEXICON_PATH) -> Optional[str]:
    """The language of a message written in one the assistant does not read
    (``urdu_hindi``, ``tagalog``, ``indonesian_malay``, or ``other_script`` for a
    script of its own), else None.

    Args:
        text: the message as typed.
        path: the lexicon (the shipped one when omitted).
    """
    romanised, urdu_letters, scripts = _load(path)
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    if any(ch in urdu_letters for ch in letters):
        return "urdu_hindi"
    # Devanagari, Bengali, Malayalam ...: most of the letters in a script of their own
    other = sum(1 for ch in letters if unicodedata.name(ch, "").startswith(scripts))
    if other * 2 > len(letters):
        return "other_script"
    words = set(_LATIN_WORD.findall(text.lower()))
    return next((language for language, markers in romanised.items() if len(words & markers) >= MIN_MARKERS), None)
