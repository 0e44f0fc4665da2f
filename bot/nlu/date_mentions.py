"""Find date expressions in a message, with offsets on the raw text.

Pure module. The words come from the shared lexicon (:mod:`bot.nlu.date_vocabulary`,
the one :mod:`actions.dates` resolves with); matching runs on the normalised
tokens of :func:`bot.nlu.arabic_text.tokenize`, which keep their raw offsets, and on
the raw text itself for numeric dates (``15/3``, ``١٥/٣``, ``15-03-2025``).

What counts as the date follows ``nlu_data/README.md``: the day expression as
typed (``يوم الأحد``, ``الخميس القادم``, ``el gom3a``, ``صباح الغد``) with a time
of day that follows it (``بكرة العصر``: the appointment form reads the visit
window from these words), without a glued preposition (``لـيوم الاحد`` →
``يوم الاحد``) and never with a clock time (``الساعة 5``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Container, List, Optional, Sequence, Tuple

from bot.nlu import date_vocabulary, number_mentions
from bot.nlu.arabic_text import GLUED_PREPOSITIONS, TATWEEL, RawToken, tokenize, without_glued_preposition
from bot.nlu.date_vocabulary import DateVocabulary

_DIGIT = "[0-9\u0660-\u0669\u06f0-\u06f9]"
# dd/mm[/yy[yy]]: a slash is a date on its own; a dash or a dot only with a year,
# since "5.5" is a speed and "12-3" a score more often than a day.
_NUMERIC_DATE = re.compile(
    # not inside a word, but after a glued preposition ("لـ15/4", "ل15/4", "بـ٢٠/٣")
    rf"(?:(?<![\w/])|(?<=(?<!\w)[لبفو])|(?<=(?<!\w)[لبفو]\u0640)){_DIGIT}{{1,2}}\s?(?:[/\\]\s?{_DIGIT}{{1,2}}(?:\s?[/\\]\s?(?:{_DIGIT}{{4}}|{_DIGIT}{{2}}))?"
    rf"|([-.]){_DIGIT}{{1,2}}\1(?:{_DIGIT}{{4}}|{_DIGIT}{{2}}))(?![\w/])"
    # not three groups of a longer chain: "06-12-34-56-78" is a phone number
    rf"(?<!{_DIGIT}[-.]{_DIGIT}{{2}}[-.]{_DIGIT}{{2}}[-.]{_DIGIT}{{2}})(?!\s?[-.]\s?{_DIGIT})"
)
# yyyy-mm-dd, yyyy/mm/dd (forms, English and French writers, copied from a bill).
_ISO_DATE = re.compile(rf"(?<![\w/.-]){_DIGIT}{{4}}([-/.]){_DIGIT}{{1,2}}\1{_DIGIT}{{1,2}}(?![\w/.-])")
# "يوم ١٥-٣", "موعد في 15-3": a dash date without a year after a word that asks for a day
# (alone "12-3" is a score or a range as often); not before a unit ("في 10-15 يوم").
_DASH_DATE = re.compile(rf"(?<![\w/.-])({_DIGIT}{{1,2}})\s?-\s?({_DIGIT}{{1,2}})(?![\w/.-]|\s?-)")
_DASH_DATE_CUES = frozenset({"في", "يوم", "نهار", "تاريخ", "بتاريخ", "التاريخ", "موعد", "الموعد", "le", "on", "date", "fi", "nhar", "yom"})
# A message that is only "١٥-١٢": the answer to "which day?", not a score.
_DASH_DATE_ALONE = re.compile(rf"^\s*({_DIGIT}{{1,2}}\s?-\s?{_DIGIT}{{1,2}})\s*$")
_ORDINAL_DAY = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?$")
_DIGIT_TABLE = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)


@dataclass(frozen=True)
class DateMention:
    """A date expression found in a message.

    Attributes:
        start: raw offset of the first character.
        end: raw offset after the last character.
        text: the expression exactly as typed.
    """

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Word:
    """A token as the matcher sees it: normalised form and raw offsets."""

    norm: str
    start: int
    end: int


def _numeric_dates(text: str) -> List[Tuple[int, int]]:
    spans = []
    alone = _DASH_DATE_ALONE.match(text)
    for start, end in [m.span() for m in _NUMERIC_DATE.finditer(text)] + ([alone.span(1)] if alone else []):
        parts = re.findall(r"\d+", text[start:end].translate(_DIGIT_TABLE))
        if date_vocabulary.day_and_month(int(parts[0]), int(parts[1])) is not None:
            spans.append((start, end))
    units = number_mentions.load_lexicon().units
    for match in _DASH_DATE.finditer(text):
        before = tokenize(text[: match.start()])
        after = tokenize(text[match.end() :])
        cued = bool(before) and before[-1].norm in _DASH_DATE_CUES and not (after and after[0].norm in units)
        day, month = (int(part) for part in (match.group(1).translate(_DIGIT_TABLE), match.group(2).translate(_DIGIT_TABLE)))
        if cued and date_vocabulary.valid_day_month(day, month) and match.span() not in spans:
            spans.append(match.span())
    for match in _ISO_DATE.finditer(text):
        year, month, day = (int(part) for part in re.findall(r"\d+", match.group().translate(_DIGIT_TABLE)))
        if 1900 <= year <= 2100 and date_vocabulary.valid_day_month(day, month) and not any(s < match.end() and match.start() < e for s, e in spans):
            spans.append(match.span())
    return spans


def _without_glued_prefix(token: RawToken, vocabulary: DateVocabulary) -> Optional[_Word]:
    """The token less a glued one-letter preposition, with the raw start moved past
    it (and past a tatweel written after it: ``لـيوم``).

    Only when what remains is a day word or carries the article: ``كده`` is not
    ``ك`` + ``ده`` ("this").
    """
    if len(token.norm) < 3 or token.norm[0] not in GLUED_PREPOSITIONS:
        return None
    rest = token.norm[1:]
    day_words = (vocabulary.day_words, vocabulary.today, vocabulary.tomorrow, vocabulary.yesterday, vocabulary.weekdays, vocabulary.after, vocabulary.this_week,
                 vocabulary.end_of, vocabulary.start_of)
    if not rest.startswith("ال") and not any(rest in table for table in day_words):
        return None
    offset = 1
    while offset < len(token.text) and (token.text[offset] == TATWEEL or not token.text[offset].isalnum()):
        offset += 1
    return _Word(token.norm[1:], token.start + offset, token.end)


class _Matcher:
    """Longest date expression starting at a word; returns the index after it."""

    def __init__(self, words: Sequence[_Word], vocabulary: DateVocabulary) -> None:
        self.words = words
        self.v = vocabulary
        # words after a number that make it a count or an amount (the number lexicon's)
        self.number_units = number_mentions.load_lexicon().units

    def _norm(self, i: int) -> str:
        return self.words[i].norm if 0 <= i < len(self.words) else ""

    def _in(self, i: int, table: Container[str]) -> bool:
        return self._norm(i) in table

    def _next_word(self, i: int) -> Optional[int]:
        """After ``الجاي`` / ``el gai`` (a "next" word, maybe with its article)."""
        if self._in(i, self.v.next):
            return i + 1
        if (self._in(i, self.v.articles) or self._in(i, self.v.next_fillers)) and self._in(i + 1, self.v.next):
            return i + 2
        return None

    def _last_word(self, i: int) -> Optional[int]:
        """After ``الماضي`` / ``اللي فات`` (a "last" word, maybe after اللي)."""
        if self._in(i, self.v.last):
            return i + 1
        if self._in(i, self.v.next_fillers) and self._in(i + 1, self.v.last):
            return i + 2
        return None

    def _with_next(self, i: int) -> int:
        """Extend a day past "next", "last" or "next week" words that qualify it."""
        after_next = self._next_word(i)
        if after_next is None:
            after_next = self._last_word(i)
        if after_next is not None:
            return after_next
        start = i + 1 if self._in(i, self.v.articles) else i
        if self._in(start, self.v.week_only):
            after_week = self._next_word(start + 1)
            if after_week is not None:
                return after_week
        return i

    def _month_at(self, i: int) -> Optional[int]:
        """Index after a month name (Gregorian or Hijri, one or two words) at ``i``."""
        for size in (2, 1):
            key = tuple(self._norm(j) for j in range(i, i + size))
            if key in self.v.months or key in self.v.hijri_months:
                return i + size
        return None

    def _ordinal_end(self, i: int) -> Optional[int]:
        """Index after an ordinal day word at ``i`` ("الأول", "الخامس عشر", "الحادي والعشرين")."""
        for size in (3, 2, 1):
            if tuple(self._norm(j) for j in range(i, i + size)) in self.v.ordinal_days:
                return i + size
        return None

    def _day_number(self, i: int) -> bool:
        """A day of the month at ``i`` ("15", "15th")."""
        match = _ORDINAL_DAY.match(self._norm(i))
        return match is not None and 1 <= int(match.group(1)) <= 31

    def _weekday(self, i: int) -> Optional[int]:
        """Index after a weekday at ``i`` (with يوم / نهار and article before it)."""
        if self._in(i - 1, self.v.clock_words):
            return None
        if self._in(i, self.v.day_words):
            j = i + 1 + self._in(i + 1, self.v.articles)
            if self._in(j, self.v.weekdays) or self._in(j, self.v.ambiguous_weekdays):
                return self._with_next(j + 1)
            # "يوم ٢٠" (the 20th), "يوم 15 مارس"; not "يوم 5 ساعات" nor "يوم 3 مرات"
            number = i + 1
            if self._norm(number).isdigit() and self._day_number(number) and not self._in(number + 1, self.number_units):
                return self._named_month_date(number) or number + 1
            return None
        if self._in(i, self.v.weekdays) or self._in(i, self.v.ambiguous_weekdays) and self._in(i - 1, self.v.articles) and self._norm(i).isascii():
            return self._with_next(i + 1)
        if (self._in(i, self.v.next) or self._in(i, self.v.last)) and self._in(i + 1, self.v.weekdays):  # "next sunday", "last friday"
            return i + 2
        return None

    def _relative(self, i: int) -> Optional[int]:
        """Today, tomorrow, yesterday, after tomorrow, in N days, weeks, months."""
        v = self.v
        if self._in(i, v.after):
            if self._in(i + 1, v.tomorrow) or self._in(i + 1, v.two_days) or self._in(i + 1, v.two_weeks):
                return i + 2
            if self._in(i + 1, v.week):
                return i + 2
            if self._norm(i + 1).isdigit() and (self._in(i + 2, v.day_units) or self._in(i + 2, v.week_units)):
                return i + 3
            return self._holiday(i + 1)
        if self._norm(i) == "day" and self._in(i + 1, v.after) and self._in(i + 2, v.tomorrow):
            return i + 3
        if self._in(i, v.today) and self._not_today_before(i - 1):
            return None
        if self._in(i, v.before_yesterday) and self._in(i + 1, v.yesterday):  # أول امبارح، قبل امس
            return i + 2
        if self._in(i, v.yesterday) and self._in(i + 1, v.before_yesterday_after):  # أمس الأول
            return i + 2
        if self._in(i, v.today) or self._in(i, v.tomorrow) or self._in(i, v.yesterday) or self._in(i, v.this_week):
            return i + 1
        if (self._norm(i), self._norm(i + 1)) in v.today_pairs:
            return i + 2
        if self._in(i, v.week_only) or self._in(i, v.month_words):
            after_next = self._next_word(i + 1)
            if after_next is not None:
                return after_next
            # "الأسبوع الماضي", "الاسبوع اللي فات" (last month is a billing period)
            after_last = self._last_word(i + 1) if self._in(i, v.week_only) else None
            if after_last is not None:
                return after_last
            if self._in(i, v.week_only) and self._in(i + 1, v.this):
                return i + 2
            return None
        if self._in(i, v.next) and (self._in(i + 1, v.week_only) or self._in(i + 1, v.month_words)):
            return i + 2
        if self._in(i, v.last) and self._in(i + 1, v.week_only):  # "last week"
            return i + 2
        if self._in(i, v.this) and self._in(i + 1, v.week_only):
            return i + 2
        if self._in(i, v.start_of) and self._in(i + 1, v.day_units):  # "أول أيام العيد"
            return self._holiday(i + 2)
        if self._in(i, v.end_of) or self._in(i, v.start_of) or self._in(i, v.middle_of):
            j = i + 1 + (self._norm(i + 1) in ("of", "de", "du"))
            the = self._norm(j) in ("the", "la", "le")
            j += the
            if self._in(j, v.month_words) or self._in(j, v.week_only):
                after_next = self._next_word(j + 1)
                if after_next is not None:
                    return after_next
                definite = the or self._norm(j).startswith("ال") or self._in(j - 1, v.articles)
                # "أول شهر" alone is "the first month" (of a plan); "اخر شهر" stays the month's end
                if definite or (self._in(i, v.end_of) or self._in(i, v.middle_of)) and self._in(j, v.month_words):
                    return j + 1
            return None
        if self._in(i, v.after) or self._in(i, v.before_holiday):
            return self._holiday(i + 1)
        return None

    def _not_today_before(self, i: int) -> bool:
        """A word at ``i`` that makes the next اليوم "that day" (نفس اليوم, "بنفس اليوم", طول اليوم)."""
        word = self._norm(i)
        unglued = word[1:] if len(word) > 3 and word[0] in GLUED_PREPOSITIONS else word
        return word in self.v.not_today_before or unglued in self.v.not_today_before

    def _holiday(self, i: int) -> Optional[int]:
        """Index after a feast at ``i`` ("العيد", "el 3eed", "عيد الأضحى"), or None."""
        i += self._in(i, self.v.articles)
        if not self._in(i, self.v.holidays):
            return None
        return i + 1 + self._in(i + 1, self.v.holiday_names)

    def _named_month_date(self, i: int) -> Optional[int]:
        """``15 مارس``, ``١٥ رمضان``, ``15 من شوال``, ``15th of March``, ``March 15``."""
        day_end = i + 1 if self._day_number(i) else self._ordinal_end(i)
        if day_end is not None:
            j = day_end + (self._norm(day_end) in ("من", "of"))
            end = self._month_at(j)
            if end is not None:
                return end + (len(self._norm(end)) == 4 and self._norm(end).isdigit())
            # "٢٥ الشهر" (the 25th of this month), "10 الشهر الجاي"
            if self._norm(i).isdigit() and self._in(i + 1, self.v.month_words) and self._norm(i + 1).startswith("ال"):
                return self._next_word(i + 2) or i + 2
            return None
        end = self._month_at(i)
        if end is not None and self._day_number(end) and not self._norm(i).isdigit():
            # English order only: an Arabic month name before a number is usually
            # "مايو 2025" (a billing month), not a day.
            if self._norm(i).isascii():
                return end + 1
        return None

    def day_expression(self, i: int) -> Optional[int]:
        """Index after the day expression starting at word ``i``, or ``None``."""
        for rule in (self._relative, self._weekday, self._named_month_date):
            end = rule(i)
            if end is not None and end > i:
                return end
        return None

    def time_of_day_end(self, i: int) -> int:
        """Index after a time of day at ``i`` (``العصر``, ``بعد الظهر``, ``في العشية``,
        ``فالصباح``, ``fel sbe7``), else ``i``."""
        for start in (i, i + 1) if self._in(i, self.v.time_of_day_prepositions) else (i,):
            first = self._norm(start)
            # a glued preposition before the article: فالصباح، بالليل، عالمسا
            unglued = without_glued_preposition(first)
            for phrase in self.v.time_of_day_after:
                rest = tuple(self._norm(j) for j in range(start + 1, start + len(phrase)))
                if phrase[1:] == rest and phrase[0] in (first, unglued):
                    return start + len(phrase)
        return i

    def led_by(self, start: int) -> int:
        """A date's raw start moved back over a day word or "after" right before it:
        "يوم ١٥/٣", "بعد ٢٠ ذو الحجة" (the forms read "after" as the day after)."""
        first = next((k for k, w in enumerate(self.words) if w.start == start), None)
        if not first or not self.words[first].norm[:1].isdigit():
            return start
        if self._in(first - 1, self.v.day_words) or self._in(first - 1, self.v.after):
            return self.words[first - 1].start
        return start

    def match(self, i: int) -> Optional[int]:
        """A day expression at ``i``, maybe led by an article (``el gom3a``) or a
        time of day in construct state (``صباح الغد``), and followed by a time of
        day (``بكرة العصر``)."""
        end = None
        if self._in(i, self.v.articles) or self._in(i, self.v.time_of_day_before):
            end = self.day_expression(i + 1)
        if end is None:
            end = self.day_expression(i)
        return None if end is None else self.time_of_day_end(end)


def find_dates(text: str, vocabulary: Optional[DateVocabulary] = None) -> List[DateMention]:
    """Every date expression in ``text``, left to right, without overlaps.

    Args:
        text: the message as the customer typed it.
        vocabulary: the date words (the shipped lexicon when omitted).

    Returns:
        The mentions, with offsets on ``text``.
    """
    vocabulary = vocabulary or date_vocabulary.load()
    tokens = tokenize(text)
    words = [_Word(t.norm, t.start, t.end) for t in tokens]
    matcher = _Matcher(words, vocabulary)
    spans = []
    for numeric_start, numeric_end in _numeric_dates(text):
        # "22/3 الصبح": the time of day after a numeric date belongs to it
        after = next((k for k, w in enumerate(words) if w.start >= numeric_end), None)
        if after is not None and matcher.time_of_day_end(after) > after:
            numeric_end = words[matcher.time_of_day_end(after) - 1].end
        spans.append((numeric_start, numeric_end))
    i = 0
    while i < len(words):
        if any(s <= words[i].start < e for s, e in spans):
            i += 1
            continue
        end = matcher.match(i)
        start = words[i].start
        if end is None:
            # "لـيوم الاحد", "والخميس": the same with the glued preposition left out
            stripped = _without_glued_prefix(tokens[i], vocabulary)
            if stripped is not None:
                variant = [*words[:i], stripped, *words[i + 1 :]]
                end = _Matcher(variant, vocabulary).match(i)
                start = stripped.start
        # a numeric date found first keeps its words ("يوم ١٥/٣" is one date)
        if end is None or any(s < words[end - 1].end and start < e for s, e in spans):
            i += 1
            continue
        spans.append((start, words[end - 1].end))
        i = end
    spans = [(matcher.led_by(start), end) for start, end in spans]
    return [DateMention(s, e, text[s:e]) for s, e in sorted(set(spans))]
