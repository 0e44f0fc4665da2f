"""The date vocabulary shared by the NLU date extractor and the forms' date resolver.

Pure module: the words live in ``lexicons/dates.yml``; this module reads them once
and normalises every entry with :func:`bot.nlu.arabic_text.normalize`, so that the
tables can be compared with normalised tokens directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, Optional, Tuple

import yaml

from bot.nlu.arabic_text import normalize

LEXICON_PATH = Path(__file__).parent / "lexicons" / "dates.yml"
# Python's date.weekday() numbers (Monday = 0).
WEEKDAY_NUMBERS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}


def norm(word: str) -> str:
    """The normalised form of a lexicon entry (the form tokens are compared in)."""
    return normalize(str(word)).text


def _words(entries: Iterable[Any]) -> FrozenSet[str]:
    return frozenset(norm(e) for e in entries)


def _phrases(table: Dict[Any, Iterable[Any]]) -> Dict[Tuple[str, ...], int]:
    """{normalised words of a name: number} for month and ordinal-day tables."""
    return {tuple(norm(name).split()): int(number) for number, names in table.items() for name in names}


@dataclass(frozen=True)
class DateVocabulary:
    """Normalised date words, one attribute per key of ``lexicons/dates.yml``.

    Weekdays map to Python ``weekday()`` numbers; months and ordinal days map phrases
    (tuples of normalised words: "كانون الثاني", "الخامس عشر") to their numbers.
    """

    today: FrozenSet[str]
    not_today_before: FrozenSet[str]
    today_pairs: FrozenSet[Tuple[str, str]]
    tomorrow: FrozenSet[str]
    yesterday: FrozenSet[str]
    before_yesterday: FrozenSet[str]
    before_yesterday_after: FrozenSet[str]
    last: FrozenSet[str]
    after: FrozenSet[str]
    week: FrozenSet[str]
    week_only: FrozenSet[str]
    two_days: FrozenSet[str]
    two_weeks: FrozenSet[str]
    day_units: FrozenSet[str]
    week_units: FrozenSet[str]
    next: FrozenSet[str]
    next_fillers: FrozenSet[str]
    this: FrozenSet[str]
    this_week: FrozenSet[str]
    month_words: FrozenSet[str]
    end_of: FrozenSet[str]
    middle_of: FrozenSet[str]
    start_of: FrozenSet[str]
    holidays: FrozenSet[str]
    holiday_names: FrozenSet[str]
    before_holiday: FrozenSet[str]
    day_words: FrozenSet[str]
    articles: FrozenSet[str]
    time_of_day_before: FrozenSet[str]
    time_of_day_after: Tuple[Tuple[str, ...], ...]
    time_of_day_prepositions: FrozenSet[str]
    clock_words: FrozenSet[str]
    weekdays: Dict[str, int]
    ambiguous_weekdays: Dict[str, int]
    months: Dict[Tuple[str, ...], int]
    hijri_months: Dict[Tuple[str, ...], int]
    ordinal_days: Dict[Tuple[str, ...], int]


@lru_cache(maxsize=4)
def load(path: Path = LEXICON_PATH) -> DateVocabulary:
    """Read and normalise the date lexicon (cached: both NLU and actions call it often)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    weekdays = {norm(word): WEEKDAY_NUMBERS[day] for day, words in data["weekdays"].items() for word in words}
    single_keys = (
        "today", "not_today_before", "tomorrow", "yesterday", "before_yesterday", "before_yesterday_after", "last", "after", "week", "week_only", "two_days", "two_weeks", "day_units",
        "week_units", "next", "next_fillers", "this", "this_week", "month_words", "end_of", "middle_of", "start_of", "holidays", "holiday_names", "before_holiday", "day_words", "articles",
        "time_of_day_before", "time_of_day_prepositions", "clock_words",
    )
    return DateVocabulary(
        **{key: _words(data[key]) for key in single_keys},
        # longest first, so "بعد الظهر" wins over a bare "بعد"
        time_of_day_after=tuple(sorted((tuple(norm(p).split()) for p in data["time_of_day_after"]), key=len, reverse=True)),
        today_pairs=frozenset((norm(a), norm(b)) for a, b in data["today_pairs"]),
        weekdays=weekdays,
        ambiguous_weekdays={norm(word): WEEKDAY_NUMBERS[day] for word, day in data["ambiguous_weekdays"].items()},
        months=_phrases(data["months"]),
        hijri_months=_phrases(data["hijri_months"]),
        ordinal_days=_phrases(data["ordinal_days"]),
    )


def valid_day_month(day: int, month: int) -> bool:
    """Whether ``day`` and ``month`` can be a day of a month (31/2 passes: the
    calendar is the resolver's business)."""
    return 1 <= day <= 31 and 1 <= month <= 12


def day_and_month(first: int, second: int) -> Optional[Tuple[int, int]]:
    """The day and the month of a numeric date written ``first/second``: day first
    ("15/3", "١٥/٣") as customers here write it, or month first when only that reads
    ("3/15", as an English speaker writes it); None when neither does."""
    if valid_day_month(first, second):
        return first, second
    if second > 12 and valid_day_month(second, first):
        return second, first
    return None
