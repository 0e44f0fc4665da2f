"""The date parser: Arabic, dialect and Arabizi day expressions relative to a fixed today."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from actions.dates import parse_date

SUNDAY = date(2026, 11, 22)  # "today" in most cases below


@pytest.mark.parametrize(
    "text, expected",
    [
        # today
        ("اليوم", SUNDAY),
        ("مساء اليوم", SUNDAY),
        ("النهاردة", SUNDAY),
        ("lyom", SUNDAY),
        ("el naharda", SUNDAY),
        # tomorrow
        ("بكرة", date(2026, 11, 23)),
        ("بكره", date(2026, 11, 23)),
        ("بكرا", date(2026, 11, 23)),
        ("غدا", date(2026, 11, 23)),
        ("غداً", date(2026, 11, 23)),
        ("صباح الغد", date(2026, 11, 23)),
        ("bokra", date(2026, 11, 23)),
        ("Bokra el sob7", date(2026, 11, 23)),
        ("ghedda", date(2026, 11, 23)),
        ("بكرة العصر", date(2026, 11, 23)),
        ("بكررررة", date(2026, 11, 23)),  # elongated
        # the day after tomorrow, in N days
        ("بعد بكرة", date(2026, 11, 24)),
        ("بعد بكرا", date(2026, 11, 24)),
        ("بعد غد", date(2026, 11, 24)),
        ("بعد الغد", date(2026, 11, 24)),
        ("ba3d bukra", date(2026, 11, 24)),
        ("بعد يومين", date(2026, 11, 24)),
        ("بعد ٣ أيام", date(2026, 11, 25)),
        ("بعد أسبوع", date(2026, 11, 29)),
        ("ba3d jem3a", date(2026, 11, 29)),
        # weekdays, with and without يوم / الجاي (today is Sunday)
        ("الاثنين", date(2026, 11, 23)),
        ("الإثنين", date(2026, 11, 23)),
        ("يوم التنين", date(2026, 11, 23)),
        ("yom el etnen", date(2026, 11, 23)),
        ("الثلاثاء", date(2026, 11, 24)),
        ("يوم التلات", date(2026, 11, 24)),
        ("الأربعاء", date(2026, 11, 25)),
        ("يوم الاربع", date(2026, 11, 25)),
        ("الخميس", date(2026, 11, 26)),
        ("الخميس القادم", date(2026, 11, 26)),
        ("nhar lkhmis", date(2026, 11, 26)),
        ("الجمعة الجاية", date(2026, 11, 27)),
        ("نهار الجمعة", date(2026, 11, 27)),
        ("يوم السبت", date(2026, 11, 28)),
        ("yom el sabt", date(2026, 11, 28)),
        # naming today's weekday means the next one, not today
        ("يوم الأحد", date(2026, 11, 29)),
        ("الأحد الجاي", date(2026, 11, 29)),
        ("يوم الحد", date(2026, 11, 29)),
        ("صباح الأحد", date(2026, 11, 29)),
        # next week starts on Sunday
        ("الأسبوع الجاي", date(2026, 11, 29)),
        ("الاسبوع القادم", date(2026, 11, 29)),
        ("الأسبوع المقبل", date(2026, 11, 29)),
        ("السيمانة الجاية", date(2026, 11, 29)),
        ("الثلاثاء الأسبوع الجاي", date(2026, 12, 1)),
        # numeric dates in any digit script: the next such date
        ("15/3", date(2027, 3, 15)),
        ("١٥/٣", date(2027, 3, 15)),
        ("۱۵/۳", date(2027, 3, 15)),
        ("15-3", date(2027, 3, 15)),
        ("٢٥/١٢", date(2026, 12, 25)),
        ("22/11", SUNDAY),  # today counts
        ("21/11", date(2027, 11, 21)),  # yesterday's day and month: next year
        ("يوم 20/12 الصبح", date(2026, 12, 20)),
        ("15 مارس", date(2027, 3, 15)),
        ("الأول من مارس", date(2027, 3, 1)),
        ("the second of December", date(2026, 12, 2)),
        # a day of the month after يوم: this month's if it is still ahead, else the next's
        ("يوم ٢٥", date(2026, 11, 25)),
        ("يوم 20", date(2026, 12, 20)),
        ("يوم 22", SUNDAY),
        # a glued preposition before "after" ("to the day after tomorrow")
        ("لبعد بكرة", date(2026, 11, 24)),
        ("لعكب باجر", date(2026, 11, 24)),
        # Levantine and Maghrebi Tuesday, Arabizi Thursday
        ("يوم التلاتا", date(2026, 11, 24)),
        ("الثلوث", date(2026, 11, 24)),
        ("yom al khamees", date(2026, 11, 26)),
        ("1/12/2026", date(2026, 12, 1)),
        # explicit past dates are returned so the caller can say "that has passed"
        ("1/1/2020", date(2020, 1, 1)),
        ("أمس", date(2026, 11, 21)),
        ("مبارح", date(2026, 11, 21)),
        ("البارح", date(2026, 11, 21)),
        ("embare7", date(2026, 11, 21)),
        # the day before yesterday, and a weekday that is over (today is a Sunday)
        ("أول امبارح", date(2026, 11, 20)),
        ("أمس الأول", date(2026, 11, 20)),
        ("قبل امس", date(2026, 11, 20)),
        ("الخميس الماضي", date(2026, 11, 19)),
        ("الخميس اللي فات", date(2026, 11, 19)),
        ("last friday", date(2026, 11, 20)),
        ("الأحد الماضي", date(2026, 11, 15)),
        # the day that is not meant ("today, not tomorrow"); "لا، بكرة" answers no and names tomorrow
        ("قلت لك اليوم مو بكره", date(2026, 11, 22)),
        ("مش بكرة، بعد بكرة", date(2026, 11, 24)),
        ("not tomorrow, today", date(2026, 11, 22)),
        ("لا، بكرة أحسن", date(2026, 11, 23)),
        # after an explicit date is the day after it; "the 25th of the month"
        ("بعد 20/12", date(2026, 12, 21)),
        ("يوم 15 ديسمبر", date(2026, 12, 15)),
        ("٢٥ الشهر", date(2026, 11, 25)),
        ("10 الشهر الجاي", date(2026, 12, 10)),
        ("lbera7", date(2026, 11, 21)),
    ],
)
def test_parse_date(text: str, expected: date) -> None:
    assert parse_date(text, SUNDAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "مش عارف",
        "هالأسبوع",  # which day of it?
        "الاسبوع ده",
        "الشهر الجاي",
        "نهاية الشهر",
        "نهاية الاسبوع",
        "بعد العيد",  # which day after the feast? the Hijri calendar is not converted
        "ma a7ad rad",  # "nobody answered", not Sunday
        "31/2",  # no such date: not guessed around
        "32/1",
        "الساعة الاربع",  # four o'clock, not Wednesday
        "احد",  # "someone": a weekday only after يوم
        "حسابي 4471203",
    ],
)
def test_unparseable_gives_none(text: str) -> None:
    assert parse_date(text, SUNDAY) is None


def test_parse_is_relative_to_the_given_today() -> None:
    thursday = date(2026, 11, 26)
    assert parse_date("بكرة", thursday) == date(2026, 11, 27)
    assert parse_date("الخميس", thursday) == thursday + timedelta(days=7)
    assert parse_date("الأسبوع الجاي", thursday) == date(2026, 11, 29)
    assert parse_date("15/3", date(2027, 3, 16)) == date(2028, 3, 15)


def test_leap_day_moves_to_the_next_leap_year() -> None:
    assert parse_date("29/2", date(2026, 11, 22)) == date(2028, 2, 29)


def test_the_start_of_the_month_is_the_first_of_the_coming_month() -> None:
    assert parse_date("أول الشهر الجاي", SUNDAY) == date(2026, 12, 1)
    assert parse_date("ابي انقل الخدمة بداية الشهر", SUNDAY) == date(2026, 12, 1)
    assert parse_date("لأول الشهر", date(2026, 12, 31)) == date(2027, 1, 1)
    assert parse_date("أول الشهر", date(2026, 12, 1)) == date(2026, 12, 1)


def test_arabizi_sunday_counts_after_its_article() -> None:
    assert parse_date("el a7ad el jay", SUNDAY) == date(2026, 11, 29)
    assert parse_date("tmrw", SUNDAY) == date(2026, 11, 23)
