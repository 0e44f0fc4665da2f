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
  counts); dd/mm/yyyy → exactly that date (which may be in the past);
- "15 مارس" style Gregorian month names.

Vague expressions (this week, next month, end of the month) give ``None``: the
assistant then asks for a specific day rather than guessing.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Dict, List

from bot.nlu.arabic_text import normalize

# Normalised spellings (alef forms folded, ة → ه, ى → ي, lower case), so the
# tables need one entry per spelling the customer's keyboard can produce.
_TODAY = {"اليوم", "النهارده", "النهارد", "النهاردا", "اليوما", "lyom", "lyoum", "elyom", "elyoum", "today", "naharda", "ennaharda"}
_TODAY_PAIRS = {("el", "yom"), ("el", "youm"), ("al", "yom"), ("el", "naharda")}
_TOMORROW = {"بكره", "بكرا", "غدا", "غد", "الغد", "غدوه", "غدوا", "bokra", "bukra", "boukra", "bokrah", "bukrah", "bkra", "ghedda", "ghodwa", "ghadan", "ghdwa", "tomorrow"}
_YESTERDAY = {"امس", "الامس", "مبارح", "امبارح", "البارح", "البارحه", "embare7", "mbare7", "imbare7", "lbare7", "yesterday"}
_AFTER = {"بعد", "ba3d", "baad", "after"}
_WEEK = {"الاسبوع", "اسبوع", "السيمانه", "سيمانه", "الجمعه", "جمعه", "osbo3", "el osbo3", "week", "jem3a", "gom3a", "jom3a"}
_WEEK_ONLY = {"الاسبوع", "اسبوع", "السيمانه", "سيمانه", "osbo3", "week", "lesbo3", "el-osbo3"}
_NEXT = {"الجاي", "الجايه", "جاي", "جايه", "الياي", "اليايه", "القادم", "القادمه", "قادم", "المقبل", "المقبله", "gai", "gaya", "el gai", "jay", "jaye", "eljay", "next", "ja2i", "elgai", "eljai", "jai"}
_DAY_WORDS = {"يوم", "نهار", "yom", "youm", "nhar", "nehar"}

# Weekday spellings → Python weekday() (Monday = 0). Forms that are also
# ordinary words (احد "someone", اربع "four", تلات "three") only count after
# يوم / نهار, see _AMBIGUOUS_DAYS.
_WEEKDAYS: Dict[str, int] = {}
for _day, _spellings in {
    6: ["الاحد", "الحد", "a7ad", "el7ad", "l7ad", "lahad", "ahad", "sunday"],
    0: ["الاثنين", "الاتنين", "التنين", "الثنين", "اثنين", "الاثنينه", "etnen", "itnen", "el etnen", "lithnin", "tnin", "ethnein", "monday"],
    1: ["الثلاثاء", "الثلاثا", "التلات", "التلاتاء", "ثلاثاء", "talat", "tlat", "tlata", "tuesday"],
    2: ["الاربعاء", "الاربعا", "الاربع", "اربعاء", "الاربعه", "arba3", "larb3a", "arb3a", "wednesday"],
    3: ["الخميس", "خميس", "khamis", "5amis", "lkhmis", "5ames", "khmis", "thursday"],
    4: ["الجمعه", "جمعه", "gom3a", "jom3a", "jem3a", "jum3a", "friday"],
    5: ["السبت", "سبت", "sabt", "essabt", "saturday"],
}.items():
    for _spelling in _spellings:
        _WEEKDAYS[_spelling] = _day
_AMBIGUOUS_DAYS = {"احد": 6, "اربع": 2, "تلات": 1, "اتنين": 0, "a7ad": 6}
# "الساعة الاربع" is four o'clock, not Wednesday.
_CLOCK_WORDS = {"الساعه", "ساعه", "sa3a", "essa3a"}

_MONTHS: Dict[str, int] = {}
for _number, _names in enumerate(
    [
        ["يناير", "جانفي", "كانون الثاني"],
        ["فبراير", "فيفري", "شباط"],
        ["مارس", "اذار"],
        ["ابريل", "افريل", "نيسان"],
        ["مايو", "ماي", "ايار"],
        ["يونيو", "جوان", "حزيران"],
        ["يوليو", "جويليه", "تموز"],
        ["اغسطس", "اوت", "اب"],
        ["سبتمبر", "ايلول"],
        ["اكتوبر", "تشرين الاول"],
        ["نوفمبر", "تشرين الثاني"],
        ["ديسمبر", "كانون الاول"],
    ],
    start=1,
):
    for _name in _names:
        _MONTHS[normalize(_name).text] = _number

_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})\s*[/\-.\\]\s*(\d{1,2})(?:\s*[/\-.\\]\s*(\d{2}|\d{4}))?(?!\d)")
_DAY_MONTH_NAME = re.compile(
    r"(?<!\d)(\d{1,2})\s+(?:من\s+)?(" + "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True)) + r")(?!\w)(?:\s+(\d{4}))?"
)
_IN_N_DAYS = re.compile(r"(?:بعد|ba3d|after)\s+(\d{1,2})\s*(?:يوم|ايام|days?|iyam|ayam)")
_IN_N_WEEKS = re.compile(r"(?:بعد|ba3d|after)\s+(\d{1,2})\s*(?:اسابيع|اسبوع|weeks?)")
_WORD = re.compile(r"[\w']+", re.UNICODE)
# One-letter prefixes glued to a word: و (and), ب / ف / ل / ع (in, on, to).
_PREFIXES = ("و", "ب", "ف", "ل", "ع")


def _tokens(text: str) -> List[str]:
    return _WORD.findall(normalize(text).text)


def _weekday_of(token: str, previous: str | None) -> int | None:
    """The weekday a token names, if any (see the ambiguity note above)."""
    if previous in _CLOCK_WORDS:
        return None
    if token in _WEEKDAYS:
        return _WEEKDAYS[token]
    if previous in _DAY_WORDS and token in _AMBIGUOUS_DAYS:
        return _AMBIGUOUS_DAYS[token]
    # "بالخميس", "والجمعه": a glued preposition before the article
    if len(token) > 4 and token[0] in _PREFIXES and token[1:].startswith("ال") and token[1:] in _WEEKDAYS:
        return _WEEKDAYS[token[1:]]
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
    """A numeric (dd/mm[/yyyy]) or month-name date in the text, if any."""
    match = _NUMERIC.search(text)
    if match:
        day, month, year = int(match.group(1)), int(match.group(2)), match.group(3)
        if year:
            full = int(year) + (2000 if len(year) == 2 else 0)
            return _safe_date(full, month, day)
        return _next_day_month(today, day, month)
    match = _DAY_MONTH_NAME.search(text)
    if match:
        day, month = int(match.group(1)), _MONTHS[match.group(2)]
        if match.group(3):
            return _safe_date(int(match.group(3)), month, day)
        return _next_day_month(today, day, month)
    return None


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
    if explicit or _NUMERIC.search(norm):
        return explicit  # a malformed numeric date (31/2) is not guessed around

    match = _IN_N_DAYS.search(norm)
    if match:
        return today + timedelta(days=int(match.group(1)))
    match = _IN_N_WEEKS.search(norm)
    if match:
        return today + timedelta(weeks=int(match.group(1)))

    tokens = _tokens(text)
    pairs = list(zip(tokens, tokens[1:], strict=False))  # adjacent pairs: lengths differ by one
    for first, second in pairs:
        if first in _AFTER:
            if second in _TOMORROW:
                return today + timedelta(days=2)
            if second in {"يومين", "يومان"}:
                return today + timedelta(days=2)
            if second in _WEEK:
                return today + timedelta(days=7)
            if second in {"اسبوعين", "جمعتين"}:
                return today + timedelta(days=14)
    if any(t in _YESTERDAY for t in tokens):
        return today - timedelta(days=1)
    if any(t in _TOMORROW for t in tokens):
        return today + timedelta(days=1)
    if any(t in _TODAY for t in tokens) or any(p in _TODAY_PAIRS for p in pairs):
        return today

    next_week = any(
        first in _WEEK_ONLY and second in _NEXT for first, second in pairs
    ) or ("next", "week") in pairs
    weekday = None
    for index, token in enumerate(tokens):
        found = _weekday_of(token, tokens[index - 1] if index else None)
        if found is not None:
            # "الجمعة الجاية" is Friday, but "جمعة" right after بعد was handled above
            weekday = found
            break
    if next_week:
        sunday = _next_weekday(today, 6)
        if weekday is None:
            return sunday
        return sunday + timedelta(days=(weekday - 6) % 7)
    if weekday is not None:
        return _next_weekday(today, weekday)
    return None
