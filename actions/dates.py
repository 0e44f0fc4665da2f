"""Resolve the day a customer names into a calendar date.

Pure: no clock, no I/O. The caller passes "today" (in the organisation's time
zone), which keeps the rules testable on any day.

Understood (MSA, Gulf, Egyptian, Levantine, Maghrebi and Arabizi spellings):

- today / tomorrow / the day after / yesterday: اليوم، النهارده، بكرة، بكرا،
  غداً، الغد، bokra، بعد بكرة، بعد غد، أمس، مبارح، البارح، embare7 …
- in N days / a week: بعد يومين، بعد 3 أيام، بعد أسبوع، بعد جمعة …
- weekdays, with or without يوم / نهار and الجاي / القادم: الأحد، الحد، الاثنين،
  التنين، الثلاثاء، التلات، الأربعاء، الاربع، الخميس، الجمعة، السبت, and
  Arabizi (a7ad, etnen, talat, arba3, khamis, gom3a, sabt) → the next such day
  after today;
- next week: الأسبوع الجاي / القادم / المقبل، السيمانة الجاية → next Sunday (the
  week starts on Sunday); with a weekday ("الثلاثاء الأسبوع الجاي") → that day of
  next week;
- dd/mm, dd-mm or dd.mm in any digit script → the next such date (today
  counts); dd/mm/yyyy and yyyy-mm-dd → exactly that date (which may be in the past);
- "15 مارس" style Gregorian month names, also with an ordinal ("الأول من مارس");
- a day of the month after a day word: "يوم 20" → the next 20th; "٢٥ الشهر" → the 25th
  of this month ("الشهر الجاي": of the next);
- after an explicit date: "بعد ٢٠/١٢" → the day after it;
- the start of the month: أول الشهر الجاي، بداية الشهر → the first of the coming
  month (today when today is the first).

Vague expressions (this week, next month, end of the month or week, after the
feast) give ``None``: the assistant then asks for a specific day rather than guessing.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Dict, List

from bot.nlu.arabic_text import GLUED_PREPOSITIONS, normalize, without_glued_preposition
from bot.nlu.date_vocabulary import day_and_month
from bot.nlu.date_vocabulary import load as load_date_vocabulary

# The words come from the shared lexicon (bot/nlu/lexicons/dates.yml), already
# normalised (alef forms folded, ة → ه, ى → ي, lower case): the NLU date extractor
# reads the same file, so what it marks as a date is what this module resolves.
_VOCABULARY = load_date_vocabulary()
_TODAY = _VOCABULARY.today
_TODAY_PAIRS = _VOCABULARY.today_pairs
_TOMORROW = _VOCABULARY.tomorrow
_YESTERDAY = _VOCABULARY.yesterday
_AFTER = _VOCABULARY.after
_WEEK = _VOCABULARY.week
_WEEK_ONLY = _VOCABULARY.week_only
_NEXT = _VOCABULARY.next
_DAY_WORDS = _VOCABULARY.day_words
# Weekday spellings → Python weekday() (Monday = 0). Forms that are also
# ordinary words (احد "someone", اربع "four", تلات "three") only count after
# يوم / نهار, see _AMBIGUOUS_DAYS.
_WEEKDAYS = _VOCABULARY.weekdays
_AMBIGUOUS_DAYS = _VOCABULARY.ambiguous_weekdays
# "الساعة الاربع" is four o'clock, not Wednesday.
_CLOCK_WORDS = _VOCABULARY.clock_words
# Gregorian month names (one or two words) → month number.
_MONTHS: Dict[str, int] = {" ".join(words): number for words, number in _VOCABULARY.months.items()}

# yyyy-mm-dd, yyyy/mm/dd: before _NUMERIC, which would read "2025/04/15" as 04/15.
_ISO = re.compile(r"(?<!\d)(\d{4})\s*([/\-.])\s*(\d{1,2})\s*\2\s*(\d{1,2})(?!\d)")
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})\s*[/\-.\\]\s*(\d{1,2})(?:\s*[/\-.\\]\s*(\d{2}|\d{4}))?(?!\d)")
# "الأول من مارس": ordinal day words before a month name.
_ORDINALS: Dict[str, int] = {" ".join(words): number for words, number in _VOCABULARY.ordinal_days.items()}
_DAY_MONTH_NAME = re.compile(
    r"(?<!\w)(\d{1,2}|" + "|".join(sorted(map(re.escape, _ORDINALS), key=len, reverse=True)) + r")(?:st|nd|rd|th)?\s+(?:(?:من|of)\s+)?("
    + "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True)) + r")(?!\w)(?:\s+(\d{4}))?"
)
# "يوم 20": a day of the month after a day word (not "يوم 5 ساعات": the date extractor
# marks only the former, and only what it marks reaches the form).
_DAY_OF_MONTH = re.compile(rf"(?<!\w)(?:{'|'.join(sorted(map(re.escape, _DAY_WORDS), key=len, reverse=True))})\s+(\d{{1,2}})(?!\w)")
# "٢٥ الشهر" (the 25th of this month), "10 الشهر الجاي" (of next month).
_DAY_OF_THIS_MONTH = re.compile(
    rf"(?<!\w)(\d{{1,2}})\s+ال(?:شهر)(?:\s+(?:{'|'.join(sorted(map(re.escape, _VOCABULARY.next_fillers), key=len, reverse=True))})?\s*({'|'.join(sorted(map(re.escape, _NEXT), key=len, reverse=True))}))?(?!\w)"
)
# "بعد ٢٠/١٢" (after the 20th): the day after the date named.
_AFTER_A_DATE = re.compile(rf"^\s*(?:{'|'.join(sorted(map(re.escape, _AFTER), key=len, reverse=True))})\s+\d")


def _alternatives(words: frozenset[str]) -> str:
    """A regex alternation of words, longest first (so "days" wins over "day")."""
    return "|".join(sorted(map(re.escape, words), key=len, reverse=True))


_IN_N_DAYS = re.compile(rf"(?:{_alternatives(_AFTER)})\s+(\d{{1,2}})\s*(?:{_alternatives(_VOCABULARY.day_units)})")
_IN_N_WEEKS = re.compile(rf"(?:{_alternatives(_AFTER)})\s+(\d{{1,2}})\s*(?:{_alternatives(_VOCABULARY.week_units)})")
_WORD = re.compile(r"[\w']+", re.UNICODE)


def _tokens(text: str) -> List[str]:
    return _WORD.findall(normalize(text).text)


def _weekday_of(token: str, previous: str | None, after_article: bool = False) -> int | None:
    """The weekday a token names, if any (see the ambiguity note above); an Arabizi
    one that is also an ordinary word counts after its article too ("el a7ad")."""
    if previous in _CLOCK_WORDS:
        return None
    if token in _WEEKDAYS:
        return _WEEKDAYS[token]
    if token in _AMBIGUOUS_DAYS and (previous in _DAY_WORDS or after_article and token.isascii()):
        return _AMBIGUOUS_DAYS[token]
    # "بالخميس", "والجمعه": a glued preposition before the article
    unglued = without_glued_preposition(token)
    if unglued in _WEEKDAYS:
        return _WEEKDAYS[unglued]
    return None


def _next_weekday(today: date, weekday: int) -> date:
    """The first date strictly after today that falls on this weekday."""
    ahead = (weekday - today.weekday()) % 7
    return today + timedelta(days=ahead or 7)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _next_day_month(today: date, day: int, month: int) -> date | None:
    """The next date (today included) with this day and month."""
    this_year = _safe_date(today.year, month, day)
    if this_year and this_year >= today:
        return this_year
    # 29/2 may need a few years; any other valid day and month exists next year.
    for year in range(today.year + 1, today.year + 9):
        candidate = _safe_date(year, month, day)
        if candidate:
            return candidate
    return None


def _explicit_date(text: str, today: date) -> date | None:
    """A numeric (dd/mm[/yyyy], yyyy-mm-dd) or month-name date in the text, if any."""
    match = _ISO.search(text)
    if match:
        return _safe_date(int(match.group(1)), int(match.group(3)), int(match.group(4)))
    match = _NUMERIC.search(text)
    if match:
        read = day_and_month(int(match.group(1)), int(match.group(2)))
        if read is None:
            return None
        (day, month), year = read, match.group(3)
        if year:
            full = int(year) + (2000 if len(year) == 2 else 0)
            return _safe_date(full, month, day)
        return _next_day_month(today, day, month)
    match = _DAY_MONTH_NAME.search(text)
    if match:
        day = int(match.group(1)) if match.group(1).isdigit() else _ORDINALS[match.group(1)]
        month = _MONTHS[match.group(2)]
        if match.group(3):
            return _safe_date(int(match.group(3)), month, day)
        return _next_day_month(today, day, month)
    match = _DAY_OF_MONTH.search(text)
    if match:
        return _next_day_of_month(today, int(match.group(1)))
    match = _DAY_OF_THIS_MONTH.search(text)
    if match:
        if match.group(2):  # next month's
            first = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
            return _safe_date(first.year, first.month, int(match.group(1)))
        return _safe_date(today.year, today.month, int(match.group(1)))
    return None


def _next_day_of_month(today: date, day: int) -> date | None:
    """The next date (today included) on this day of a month: this month's, else the next's."""
    year, month = today.year, today.month
    for _ in range(12):
        candidate = _safe_date(year, month, day)
        if candidate and candidate >= today:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def _unglued(token: str) -> str:
    """An "after" or "start of" word less a glued preposition ("لبعد بكرة" is بعد بكرة,
    not بكرة; "لأول الشهر")."""
    if len(token) > 3 and token[0] in GLUED_PREPOSITIONS and (token[1:] in _AFTER or token[1:] in _VOCABULARY.start_of):
        return token[1:]
    return token


# "اليوم مو بكرة" (today, not tomorrow): a day after one of these is the one not meant.
# Not لا / ما / no, which as often answer a question before the day ("لا، بكرة أحسن").
_NOT = frozenset({"مو", "مش", "مب", "موب", "ماشي", "وليس", "وليست", "mesh", "mish", "msh", "mo", "mush", "machi", "not", "pas"})


def _without_negated_days(tokens: List[str]) -> List[str]:
    """The tokens with a negated word blanked, when another word is left to name the day."""
    negated = {i + 1 for i, token in enumerate(tokens[:-1]) if token in _NOT}
    kept = [token if i not in negated else "" for i, token in enumerate(tokens)]
    return kept if any(kept) and negated else tokens


def parse_date(text: str | None, today: date) -> date | None:
    """The date a customer's words name, relative to ``today``.

    Args:
        text: the customer's text ("بكرة الصبح", "يوم الأحد", "١٥/٣", "bokra").
        today: the current date in the organisation's time zone.

    Returns:
        The date, or ``None`` when the text names no single day. Past dates are
        returned as such (yesterday, 1/1/2020): rejecting them is the caller's
        business, so it can say *why*.
    """
    if not text or not text.strip():
        return None
    norm = normalize(text).text  # digits folded to ASCII here
    explicit = _explicit_date(norm, today)
    if explicit and _AFTER_A_DATE.match(norm):
        return explicit + timedelta(days=1)
    if explicit or _NUMERIC.search(norm):
        return explicit  # a malformed numeric date (31/2) is not guessed around

    match = _IN_N_DAYS.search(norm)
    if match:
        return today + timedelta(days=int(match.group(1)))
    match = _IN_N_WEEKS.search(norm)
    if match:
        return today + timedelta(weeks=int(match.group(1)))

    tokens = _without_negated_days([_unglued(token) for token in _tokens(text)])
    pairs = list(zip(tokens, tokens[1:], strict=False))  # adjacent pairs: lengths differ by one
    for first, second in pairs:
        if first in _AFTER:
            if second in _TOMORROW:
                return today + timedelta(days=2)
            if second in _VOCABULARY.two_days:
                return today + timedelta(days=2)
            if second in _WEEK:
                return today + timedelta(days=7)
            if second in _VOCABULARY.two_weeks:
                return today + timedelta(days=14)
    before_yesterday = any(first in _VOCABULARY.before_yesterday and second in _YESTERDAY for first, second in pairs) or any(
        first in _YESTERDAY and second in _VOCABULARY.before_yesterday_after for first, second in pairs
    )
    if before_yesterday:  # أول امبارح، قبل امس، أمس الأول
        return today - timedelta(days=2)
    if any(t in _YESTERDAY for t in tokens):
        return today - timedelta(days=1)
    if any(t in _TOMORROW for t in tokens):
        return today + timedelta(days=1)
    if any(t in _TODAY for t in tokens) or any(p in _TODAY_PAIRS for p in pairs):
        return today

    # "أول الشهر الجاي", "بداية الشهر": the first of the coming month (a move, a visit)
    if any(first in _VOCABULARY.start_of and second in _VOCABULARY.month_words for first, second in pairs):
        return today if today.day == 1 else (today.replace(day=28) + timedelta(days=4)).replace(day=1)

    next_week = any(
        first in _WEEK_ONLY and second in _NEXT for first, second in pairs
    ) or ("next", "week") in pairs or any(  # "الأسبوع اللي جاي"
        first in _WEEK_ONLY and second in _VOCABULARY.next_fillers and third in _NEXT
        for first, second, third in zip(tokens, tokens[1:], tokens[2:], strict=False)
    )
    weekday = None
    for index, token in enumerate(tokens):
        previous = tokens[index - 1] if index else None
        after_article = previous in _VOCABULARY.articles
        if after_article and index > 1:  # "yom el 7ad": the day word before the article
            previous = tokens[index - 2]
        found = _weekday_of(token, previous, after_article)
        if found is not None:
            # "الجمعة الجاية" is Friday, but "جمعة" right after بعد was handled above
            weekday = found
            break
    if next_week:
        sunday = _next_weekday(today, 6)
        if weekday is None:
            return sunday
        return sunday + timedelta(days=(weekday - 6) % 7)
    if weekday is not None and any(t in _VOCABULARY.last for t in tokens):  # "الأحد الماضي", "last friday"
        return today - timedelta(days=(today.weekday() - weekday) % 7 or 7)
    if weekday is not None:
        return _next_weekday(today, weekday)
    return None
