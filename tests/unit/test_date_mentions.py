"""Date expressions: spans on the raw text, every dialect, one vocabulary with actions/dates.py."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actions.dates import parse_date
from bot.nlu.date_mentions import find_dates

TODAY = date(2026, 11, 23)  # a Monday


def spans(text: str) -> list[str]:
    return [m.text for m in find_dates(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # MSA
        ("هل يمكن تأجيل الموعد المحدد غداً؟", ["غداً"]),
        ("أرغب في تغيير موعد زيارة الفني إلى يوم الثلاثاء", ["يوم الثلاثاء"]),
        ("أنوي الانتقال الشهر القادم", ["الشهر القادم"]),
        ("هل يوجد موعد متاح صباح الغد لتركيب الراوتر؟", ["صباح الغد"]),
        ("سددت الفاتورة أمس", ["أمس"]),
        ("الزيارة بعد 3 أيام", ["بعد 3 أيام"]),
        # Gulf
        ("ابي فني يجيني بكرة العصر", ["بكرة العصر"]),  # the time of day is part of it
        ("تعال بكرة الساعة 5", ["بكرة"]),  # a clock time is not
        ("ممكن نسوي reschedule للموعد لـيوم الاحد؟", ["يوم الاحد"]),
        ("الخميس القادم إن أمكن", ["الخميس القادم"]),
        ("بنقل بيتي الاسبوع الجاي", ["الاسبوع الجاي"]),
        ("تعال عقب باجر", ["عقب باجر"]),
        ("الاسبوع الياي", ["الاسبوع الياي"]),
        # Egyptian
        ("عايز فني ييجي النهارده لو ينفع", ["النهارده"]),
        ("عايز أأجل ميعاد الفني ليوم الاتنين", ["يوم الاتنين"]),
        ("الاسبوع اللي جاي", ["الاسبوع اللي جاي"]),
        ("بعد بكرة الصبح", ["بعد بكرة الصبح"]),
        ("يوم الثلاثاء بعد العصر", ["يوم الثلاثاء بعد العصر"]),
        # Levantine
        ("فيكن تبعتولي فني بعد بكرا؟", ["بعد بكرا"]),
        ("الجمعة الجاية", ["الجمعة الجاية"]),
        ("من مبارح", ["مبارح"]),
        # Maghrebi
        ("واش نقدر نأخر الموعد حتى نهار الخميس؟", ["نهار الخميس"]),
        ("السيمانة الجاية", ["السيمانة الجاية"]),
        ("غدوة", ["غدوة"]),
        # Iraqi
        ("باجر الصبح", ["باجر الصبح"]),
        # Arabizi
        ("momken te7gezoli mi3ad fanni yom el sabt?", ["yom el sabt"]),
        ("howa el far3 byefta7 el gom3a?", ["el gom3a"]),
        ("3ayez a3raf natiget el ahly el naharda", ["el naharda"]),
        ("ha3azel el shahr el gai, 3ayez an2el el net", ["el shahr el gai"]),
        ("el net m2to3 men embare7", ["embare7"]),
        ("ba3d bokra", ["ba3d bokra"]),
        ("nhar lkhmis", ["nhar lkhmis"]),
        # English and mixed
        ("can you come tomorrow?", ["tomorrow"]),
        ("next week please", ["next week"]),
        ("on 15th of March", ["15th of March"]),
        ("next sunday", ["next sunday"]),
        ("bokra el sob7", ["bokra el sob7"]),
        # French, as Maghrebi customers write it
        ("rendez-vous lundi prochain svp", ["lundi prochain"]),
        ("cancel the appointment demain", ["demain"]),
        ("la semaine prochaine", ["semaine prochaine"]),
        ("badde ajjel el maw3ad la ba3d jem3a", ["ba3d jem3a"]),
        # numeric and month names
        ("التاريخ 20/12", ["20/12"]),
        ("الموعد ١٥/٣ لو سمحت", ["١٥/٣"]),
        ("۲۵/۶/۲۰۲۶", ["۲۵/۶/۲۰۲۶"]),
        ("موعدي 15-03-2026", ["15-03-2026"]),
        ("يوم 15 مارس", ["يوم 15 مارس"]),
        ("ابي موعد يوم ٣ محرم ان امكن", ["يوم ٣ محرم"]),
        ("عايز معاد يوم ١٢/٥", ["يوم ١٢/٥"]),
        ("ابي بعد ٢٠ ذو الحجة", ["بعد ٢٠ ذو الحجة"]),
        ("اخر يوم للدفع ٢٥ الشهر صح؟", ["٢٥ الشهر"]),
        # a date alone with a dash is the answer to "which day?"; a phone number's pairs are not
        ("١٥-١٢", ["١٥-١٢"]),
        ("بدلو ليا النمرة ب06-12-34-56-78", []),
        # last week, the Moroccan week, yesterday in Maghrebi Arabizi, after Ramadan
        ("دفعت الأسبوع الماضي وما بيّنت", ["الأسبوع الماضي"]),
        ("طلبي من الاسبوع اللي فات", ["الاسبوع اللي فات"]),
        ("نحب نأخر الرونديفو لالسمانة الجاية", ["السمانة الجاية"]),
        ("khallast lbera7", ["lbera7"]),
        ("جاهز بعد رمضان", ["بعد رمضان"]),
        ("بعد العيد، ٣ شوال", ["بعد العيد", "٣ شوال"]),
        # the start or end of a month or week, a feast; not "the first month" of a plan
        ("ابي انقل النت بداية الشهر الجاي", ["بداية الشهر الجاي"]),
        ("فيكم تأجلو الزيارة لأول الشهر", ["أول الشهر"]),
        ("أجلوا الزيارة لآخر الشهر", ["آخر الشهر"]),
        ("بدي موعد فني لنهاية الاسبوع", ["نهاية الاسبوع"]),
        ("اريد أأجل موعد الفني لعقب العيد", ["عقب العيد"]),
        ("momken tkhaly el maw3ed ba3d el 3eed", ["ba3d el 3eed"]),
        ("قبل عيد الأضحى لو سمحت", ["قبل عيد الأضحى"]),
        ("أول شهر مجانا؟", []),
        ("لاول مرة يصير", []),
        # Arabizi Sunday is also "anyone": only after yom / nhar or its article
        ("balaghi T-118050 ma a7ad rad 3alaih", []),
        ("nt2abal el a7ad el jay", ["el a7ad el jay"]),
        ("tmrw 3adi", ["tmrw"]),
        ("١٥ رمضان", ["١٥ رمضان"]),
        ("5 ربيع الأول", ["5 ربيع الأول"]),
        ("10 من كانون الثاني", ["10 من كانون الثاني"]),
        ("هالأسبوع", ["هالأسبوع"]),
        ("نهاية الشهر", ["نهاية الشهر"]),
        # ordinal days before a month, a day of the month after يوم
        ("الأول من ذي الحجة", ["الأول من ذي الحجة"]),
        ("the first of March", ["first of March"]),
        ("هعزل يوم ٢٠ وعايز انقل النت", ["يوم ٢٠"]),
        ("يوم ١٢/٥", ["يوم ١٢/٥"]),
        # a time of day behind a preposition, glued or not, and after a numeric date
        ("غدا فالصباح", ["غدا فالصباح"]),
        ("بغيت تقني يجي غدا فالعشية", ["غدا فالعشية"]),
        ("نهار السبت العشية", ["نهار السبت العشية"]),
        ("ghodwa fel sbe7", ["ghodwa fel sbe7"]),
        ("بكرة في الليل", ["بكرة في الليل"]),
        ("22/3 الصبح", ["22/3 الصبح"]),
        ("3ayez a7gez ma3ad ba3d bokra el dohr", ["ba3d bokra el dohr"]),
        # Levantine and Maghrebi Tuesday, Arabizi Thursday and "next"
        ("يوم التلاتا عالنسيم", ["يوم التلاتا"]),
        ("يوم الثلوث", ["يوم الثلوث"]),
        ("abi fanni yjeeni yom al khamees", ["yom al khamees"]),
        ("bade2ajjel el maw3ed la el jum3a el jeye", ["el jum3a el jeye"]),
        # a glued preposition before "after"
        ("ابي اغير موعد الفني لبعد بكرة", ["بعد بكرة"]),
        ("اريد اغير الموعد لعكب باجر", ["عكب باجر"]),
        # the day before yesterday is not yesterday; a weekday that is over
        ("الكهربا قاطعة في حي المزروعية من أمس الأول", ["أمس الأول"]),
        ("دفعت أول امبارح ولسه مش ظاهر", ["أول امبارح"]),
        ("قدمته الأحد الماضي", ["الأحد الماضي"]),
        ("status please, I sent it last friday", ["last friday"]),
        # a glued preposition before a numeric date or "this week"
        ("غيروا الموعد لـ15/4", ["15/4"]),
        ("ابي اقدم الموعد من الأسبوع الجاي لهالأسبوع", ["الأسبوع الجاي", "هالأسبوع"]),
    ],
)
def test_dates_in_every_dialect_keep_the_typed_span(text: str, expected: list[str]) -> None:
    mentions = find_dates(text)
    assert [m.text for m in mentions] == expected
    assert all(text[m.start : m.end] == m.text for m in mentions)


@pytest.mark.parametrize(
    "text",
    [
        "الساعة الاربع",
        "تعالوا الساعة 5",
        "السرعة 5.5 ميجا",
        "النتيجة 12-3",
        "انتظرت الفني طوال اليوم",
        "ما اقدر ذاك اليوم",
        "سبت الشقة اللي في الدمام",
        "دفعت من جمعة",
        "الفاتورة الشهر ده غالية",
        "هي ليه الفاتورة زادت كده الشهر ده؟",
        "صار لي 3 أيام بدون كهرباء",
        "رقم حسابي 4471203",
        "فاتورة مايو 2025",
        "32/13",
        "كل يوم 5 ساعات مقطوعة",
        "يوم 3 مرات",
        "أول مرة اتصل بكم",
        "وبعد ما دفعت",
    ],
)
def test_things_that_are_not_dates(text: str) -> None:
    assert spans(text) == []


def test_every_marked_day_is_one_the_form_resolves() -> None:
    """One vocabulary: what the extractor marks, actions/dates.py understands."""
    for text in ["بكرة", "باجر", "عقب باجر", "bokra", "يوم الأحد", "nhar lkhmis", "الخميس القادم", "الاسبوع اللي جاي",
                 "el gom3a", "١٥/٣", "15 مارس", "بعد 3 أيام", "next week", "صباح الغد", "يوم الاتنين",
                 "الأول من مارس", "يوم ٢٠", "لبعد بكرة", "يوم الثلوث", "yom al khamees", "22/3 الصبح",
                 "أمس الأول", "الخميس اللي فات", "لـ15/4", "20 mars", "yom el 7ad", "nhar el had",
                 "يوم 15 مارس", "بعد 20/12", "٢٥ الشهر", "١٥-١٢", "السمانة الجاية", "lbera7"]:
        (mention,) = find_dates(text)
        assert parse_date(mention.text, TODAY) is not None, text


DIGITS = st.sampled_from(["0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹"])


@settings(max_examples=200, deadline=None)
@given(day=st.integers(1, 31), month=st.integers(1, 12), script=DIGITS, before=st.sampled_from(["", "الموعد ", "يوم ", "on "]),
       after=st.sampled_from(["", " لو سمحت", "؟", " please"]), year=st.sampled_from(["", "/2026", "/26"]))
def test_numeric_dates_in_every_script_span_exactly(day, month, script, before, after, year):
    typed = "".join(script[int(c)] if c.isdigit() else c for c in f"{day}/{month}{year}")
    text = before + typed + after
    (mention,) = find_dates(text)
    led = len("يوم ") if before == "يوم " else 0  # the day word belongs to the date
    assert (mention.start, mention.end) == (len(before) - led, len(before) + len(typed))


@pytest.mark.parametrize(("text", "window"), [("ابي فني يجيني بكرة العصر", "afternoon"), ("يوم الأحد الصبح", "morning"),
                                              ("bokra bel leil", "evening"), ("غدا فالصباح", "morning"),
                                              ("نهار السبت العشية", "afternoon"), ("ba3d bokra el dohr", "afternoon"),
                                              ("ghodwa fel sbe7", "morning"), ("بكرة قبل الظهر", "morning"),
                                              ("demain après-midi", "afternoon"), ("الاحد الجاي بعد صلاة العصر", "afternoon"),
                                              ("اليوم قبل المغرب", "evening"), ("bokra ba3d el maghreb", "evening")])
def test_the_date_keeps_the_words_the_form_reads_the_visit_window_from(text: str, window: str) -> None:
    from actions.knowledge_base import get_knowledge_base

    (mention,) = find_dates(text)
    assert get_knowledge_base().appointment_window(mention.text)["id"] == window


@pytest.mark.parametrize(
    ("text", "expected", "resolved"),
    [
        # ordinal days beyond the tenth, before a Gregorian or a Hijri month
        ("ارغب بزيارة فني في الخامس عشر من شعبان", ["الخامس عشر من شعبان"], None),  # Hijri: the form asks again
        ("الحادي والعشرين من مارس", ["الحادي والعشرين من مارس"], date(2027, 3, 21)),
        ("الثاني عشر من ديسمبر", ["الثاني عشر من ديسمبر"], date(2026, 12, 12)),
        # year first, as forms and bills write it
        ("موعد لصيانة العداد 2027/04/15 بين الساعة 8 و 12", ["2027/04/15"], date(2027, 4, 15)),
        ("le ٢٠٢٧-٠١-٠٥ svp", ["٢٠٢٧-٠١-٠٥"], date(2027, 1, 5)),
        # a dash date after a word asking for a day
        ("موعد في ١٥-٣ ان امكن", ["١٥-٣"], date(2027, 3, 15)),
        # times of day as typed, after the day
        ("بدي فني بكرا قبل الضهر", ["بكرا قبل الضهر"], date(2026, 11, 24)),
        ("n7eb rendez-vous ghodwa fel 3chiya", ["ghodwa fel 3chiya"], date(2026, 11, 24)),
        # today in Maghrebi and French
        ("واش يقدر يجي التقني ليوما", ["ليوما"], TODAY),
        ("technicien aujourd'hui c'est possible?", ["aujourd'hui"], TODAY),
        # vague: found, then asked about
        ("الفاتوره توصل اول الشهر ولا نص الشهر", ["اول الشهر", "نص الشهر"], None),
        ("ما مواعيد العمل في اول ايام العيد", ["اول ايام العيد"], None),
    ],
)
def test_ordinals_year_first_cued_dashes_and_more_day_words(text: str, expected: list[str], resolved: date | None) -> None:
    assert spans(text) == expected
    if len(expected) == 1:
        assert parse_date(expected[0], TODAY) == resolved


@pytest.mark.parametrize(
    "text",
    ["دفعت مرتين بنفس اليوم 50 الف ليرة", "زادت الفاتورة في 10-15 يوم", "النتيجة 12-3", "نص ساعة وراجعة", "الثاني عشر", "رقم 2025-13-40"],
)
def test_that_day_ranges_scores_and_lone_ordinals_are_not_dates(text: str) -> None:
    assert spans(text) == []


def test_a_month_first_date_that_reads_no_other_way_is_found_and_resolved() -> None:
    assert [m.text for m in find_dates("book me a visit on 3/15, account 66021934")] == ["3/15"]
    assert parse_date("3/15", date(2026, 12, 7)) == date(2027, 3, 15)
    # day first wherever it reads both ways
    assert parse_date("3/5", date(2026, 12, 7)) == date(2027, 5, 3)
    assert find_dates("13/15") == [] and parse_date("13/15", date(2026, 12, 7)) is None
