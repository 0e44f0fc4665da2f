"""Resolve essential-service words (كهربا، الموية، النت، el net …) to canonical values.

Pure module: the lexicon lives in ``lexicons/service_types.yml``; matching works on
the normalised forms of :class:`bot.nlu.arabic_text.RawToken` and reports raw offsets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import yaml

from bot.nlu.arabic_text import RawToken, normalize

LEXICON_PATH = Path(__file__).parent / "lexicons" / "service_types.yml"
# Entries that are too ambiguous alone ("ما" is also "what"/"not"; "may" and "mo"
# are English/Arabizi function words): they count only right after a service cue.
_NEEDS_CUE = {"مي", "may", "mo", "mai", "power", "current", "dow", "daw", "dou", "courant"}
# Articles written as their own word before the service word.
_ARTICLES = {"el", "al", "il", "l", "ال"}
# "النور" is Egyptian for electricity but also the company's name, "الضي" Libyan and
# Tunisian for it but "the lamp" in the Gulf: always need a cue.
_ALWAYS_NEEDS_CUE = {"نور", "ضي"}
# "ما" is "what"/"not" unless it carries the article (الما = the water).
_ONLY_DEFINITE = {"ما"}
# Every entry that is a service word only in context (the three sets above).
AMBIGUOUS_WORDS = frozenset(_NEEDS_CUE | _ALWAYS_NEEDS_CUE | _ONLY_DEFINITE)
# Of those, the ones that are a service whenever they carry the article ("الما").
DEFINITE_ONLY_WORDS = frozenset(_ONLY_DEFINITE)
_CUES = {"مقطوع", "مقطوعه", "قاطع", "قاطعه", "فاصل", "فاصله", "طافي", "طافيه", "انقطاع", "ماكو", "مافي", "مفيش", "في", "no", "mafi", "mafish", "ma", "fi", "m2to3", "ma2tou3a", "ma2tou3", "ma2tu3",
         "m2tou3", "ma2to3", "2ate3", "2at3a", "mafesh", "mesh", "off", "out", "down", "مش", "ضعيف", "راح", "رايح", "اتقطع", "انقطع", "قطع",
         "kaynch", "makaynch", "kaynech", "makaynech", "de", "coupe", "coupé", "coupee", "coupée",
         # "فاتورة النور", "عداد الضي": the bill and the meter of a service
         "فاتوره", "فواتير", "عداد", "facture", "fatura", "fatoura"}


@dataclass(frozen=True)
class ServiceMention:
    """A service word found in a message.

    Attributes:
        value: canonical service (``electricity``, ``water`` or ``internet``).
        start: raw offset of the first character.
        end: raw offset after the last character.
    """

    value: str
    start: int
    end: int


@lru_cache(maxsize=4)
def load_lexicon(path: Path = LEXICON_PATH) -> Tuple[Tuple[str, ...], Dict[Tuple[str, ...], str]]:
    """Read the lexicon: (prefixes longest first, {normalised phrase words: service})."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    prefixes = tuple(sorted((normalize(p).text for p in data["prefixes"]), key=len, reverse=True))
    phrases: Dict[Tuple[str, ...], str] = {}
    for service, words in data["services"].items():
        for word in words:
            phrases[tuple(normalize(str(word)).text.replace("-", " ").split())] = service
    return prefixes, phrases


def _stems(norm: str, prefixes: Sequence[str]) -> List[Tuple[str, bool]]:
    """The word and the word less one known prefix, each with whether it is
    definite (the article ال makes an ambiguous word such as ما a service)."""
    out = [(norm, False)]
    for prefix in prefixes:
        if norm.startswith(prefix) and len(norm) - len(prefix) >= 2 - (prefix in ("ال", "لل")):
            out.append((norm[len(prefix):], prefix.endswith(("ال", "لل", "el", "al", "il"))))
    return out


def _without_article(norm: str) -> str:
    return norm[2:] if norm.startswith("ال") and len(norm) > 3 else norm


# "الراوتر ضو احمر", "router lights": the router's lights, not the electricity.
LIGHT_WORDS = frozenset({"ضو", "ضوء", "نور", "لمبه", "لمبات", "اضواء", "dow", "daw"})
ROUTER_WORDS = frozenset({"راوتر", "الراوتر", "روتر", "الروتر", "مودم", "المودم", "router", "modem", "rawter"})
# "الحنفية مبتنزلش ولا نقطة": the tap speaks for the water in an outage reading, as the
# router does for the internet; neither is a service entity (they are fittings).
TAP_WORDS = frozenset({"حنفيه", "الحنفيه", "حنفيات", "الحنفيات", "صنبور", "الصنبور", "بزبوز", "البزبوز", "سبيل",
                       "robinet", "tap", "taps", "faucet", "7anafiya", "hanafiya"})


def _after_router(tokens: Sequence[RawToken], i: int) -> bool:
    near = [*tokens[max(i - 3, 0) : i], *tokens[i + 1 : i + 2]]
    return any(t.norm in ROUTER_WORDS for t in near)


def _next_to_cue(tokens: Sequence[RawToken], i: int) -> bool:
    neighbours = [*tokens[max(i - 1, 0) : i], *tokens[i + 1 : i + 2]]
    return any(t.norm in _CUES or t.norm.startswith(("مقطوع", "قاطع", "فاصل", "طافي")) for t in neighbours)


def find_services(tokens: Sequence[RawToken], path: Path = LEXICON_PATH) -> List[ServiceMention]:
    """Find service words in tokens, longest phrase first, without overlaps."""
    prefixes, phrases = load_lexicon(path)
    longest = max(len(k) for k in phrases)
    found: List[ServiceMention] = []
    i = 0
    while i < len(tokens):
        match: Optional[Tuple[int, str]] = None
        for size in range(min(longest, len(tokens) - i), 0, -1):
            window = tokens[i : i + size]
            # an article typed as its own word makes the next one definite: "el may"
            apart = i > 0 and tokens[i - 1].norm in _ARTICLES
            for first, definite in _stems(window[0].norm, prefixes):
                definite = definite or apart
                # adjectives carry their own article: "الألياف الضوئية"
                key = (first, *(_without_article(t.norm) for t in window[1:]))
                service = phrases.get(key)
                if service is None and window[0].arabizi and size == 1:
                    service = phrases.get((window[0].arabizi,))
                    # read as its Arabic spelling, with that spelling's ambiguity ("noor" is نور)
                    first = window[0].arabizi if service is not None else first
                if service is None:
                    continue
                if first in _ONLY_DEFINITE and not definite:
                    continue
                ambiguous = first in _ALWAYS_NEEDS_CUE or (first in _NEEDS_CUE and not definite)
                if size == 1 and ambiguous and not _next_to_cue(tokens, i):
                    continue
                if first in LIGHT_WORDS and _after_router(tokens, i):
                    continue
                match = (size, service)
                break
            if match:
                break
        if match:
            size, service = match
            # a separate article belongs to the mention: "el net", "الـ internet"
            begin = i - 1 if i > 0 and tokens[i - 1].norm in _ARTICLES else i
            found.append(ServiceMention(service, tokens[begin].start, tokens[i + size - 1].end))
            i += size
        else:
            i += 1
    return found
