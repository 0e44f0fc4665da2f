"""Account, phone and ticket numbers: role from context and shape, span on the raw text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.nlu.number_mentions import find_numbers

ASCII, ARABIC_INDIC, PERSIAN = "0123456789", "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹"


def found(text: str, intent: str | None = None) -> list[tuple[str, str]]:
    return [(m.entity, m.text) for m in find_numbers(text, intent)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("رقم حسابي 4471203", [("account_number", "4471203")]),
        # an Arabizi word starting with a digit right after the number is no group of it
        ("law ma 7alaitoha b7ot el balagh T-229018 3al twitter", [("ticket_number", "T-229018")]),
        ("el 3addad 7702931 3am y2ra ghalat", [("account_number", "7702931")]),
        ("رقم العداد ٩٠٣٣٤٧١٢٥", [("account_number", "٩٠٣٣٤٧١٢٥")]),
        ("نمرة الحساب ديالي ۵۵۱۰۲۹۳۸", [("account_number", "۵۵۱۰۲۹۳۸")]),
        ("رقم الكونطور ديالي ٤٨٢٠٣٩١", [("account_number", "٤٨٢٠٣٩١")]),
        ("da rakam el 7esab 3390175", [("account_number", "3390175")]),
        ("الـ account number حقي 7719024", [("account_number", "7719024")]),
        ("حسابي 447 1203", [("account_number", "447 1203")]),
        ("٥٨٢٠٣٤٩١", [("account_number", "٥٨٢٠٣٤٩١")]),
        ("رقم جوالي 0562233184", [("phone_number", "0562233184")]),
        ("جوالي ٠٥٥ ١٢٣ ٤٥٦٧", [("phone_number", "٠٥٥ ١٢٣ ٤٥٦٧")]),
        ("call me on +966 55 123 4567 please", [("phone_number", "+966 55 123 4567")]),
        ("واتس 00966551234567", [("phone_number", "00966551234567")]),
        ("موبايلي 01012345678", [("phone_number", "01012345678")]),
        ("رقمي +20 10 1234 5678", [("phone_number", "+20 10 1234 5678")]),
        ("نمرتي 0612345678", [("phone_number", "0612345678")]),
        ("رقم موبايلي (055) 123-4567", [("phone_number", "(055) 123-4567")]),
        ("رقمي 07701234567", [("phone_number", "07701234567")]),
        # a phone shape wins over an account word before it
        ("أبي أحدث رقم الجوال في حسابي إلى 0551098273", [("phone_number", "0551098273")]),
        ("عايز أغير رقم الموبايل اللي على الحساب لـ0509876123", [("phone_number", "0509876123")]),
        ("رقم البلاغ T-590318", [("ticket_number", "T-590318")]),
        ("وش صار على طلبي؟ رقمه t482913", [("ticket_number", "t482913")]),
        ("رقم الطلب ت-٤٨٢٩١٣", [("ticket_number", "ت-٤٨٢٩١٣")]),
        ("هل تمت معالجة البلاغ رقم 615290؟", [("ticket_number", "615290")]),
        ("فين وصلات الطلب ديالي؟ عندي رقم ٣٠٩٧٤١", [("ticket_number", "٣٠٩٧٤١")]),
        ("حسابي 1234567 وجوالي 0551234567", [("account_number", "1234567"), ("phone_number", "0551234567")]),
        ("رقم البلاغ 123456 0551234567", [("ticket_number", "123456"), ("phone_number", "0551234567")]),
        # landlines: a trunk 0 or an area code in parentheses, without a context word
        ("(011) 4567890", [("phone_number", "(011) 4567890")]),
        ("النت بيقطع، رقم الخط 0223456789", [("phone_number", "0223456789")]),
        ("ابعتولي كود التأكيد على ٠١٠٠١٢٣٤٥٦٧", [("phone_number", "٠١٠٠١٢٣٤٥٦٧")]),
        ("القراية ديال الكونتور 88712043 هي 15320", [("account_number", "88712043")]),
        ("ابي احدث رقم الهوية الى 1098765432 للحساب 66120931", [("account_number", "66120931")]),
        # a T- reference is never a count, whatever word follows it
        ("تقدمت بشكوى برقم T-558201 يوم الأحد", [("ticket_number", "T-558201")]),
    ],
)
def test_roles_and_spans(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "دفعت 350 ريال",
        "الفاتورة 1500000 ريال",
        "صار لي 3 أيام بدون كهرباء",
        "الساعة 5 العصر",
        "تعالوا الساعة 10:30",
        "السرعة 100 ميجا بس",
        "رقم القراءة 48213",
        "القراءة 123456 اليوم",
        "كود التفعيل 482913 ما اشتغل",
        "el net m2to3 mn 3 ayam",
        "الموعد 15/3",
        "سنة 2024",
        "دفعت والرقم المرجعي 20948812 وما نزل",
    ],
)
def test_amounts_counts_times_and_readings_are_not_entities(text: str) -> None:
    assert found(text) == []


def test_six_bare_digits_are_a_ticket_in_a_status_request_else_an_account() -> None:
    assert found("482913", intent="request_status") == [("ticket_number", "482913")]
    assert found("482913", intent="inform") == [("account_number", "482913")]


def test_normalized_values_fold_digits_and_drop_separators() -> None:
    account, phone, ticket = find_numbers("حسابي ٤٤٧-١٢٠٣ وجوالي +966 55 123 4567 والبلاغ ت-٤٨٢٩١٣")
    assert account.normalized == "4471203"
    assert phone.normalized == "+966551234567"
    assert ticket.normalized == "T-482913"


def test_spans_on_raw_text_with_glued_arabic_preposition_and_tatweel() -> None:
    text = "غيروا الرقم لـ0509876123 لو سمحت"
    (mention,) = find_numbers(text, taken=[])
    assert text[mention.start : mention.end] == "0509876123"


def test_dates_claimed_before_are_left_alone() -> None:
    text = "موعدي 15-03-2025 وحسابي 4471203"
    assert [m.text for m in find_numbers(text, taken=[(6, 16)])] == ["4471203"]


def test_a_unit_word_that_starts_a_date_is_no_unit() -> None:
    """"4471203 يوم الخميس" is an account and the visit's day, not "4471203 days"."""
    from bot.nlu.date_mentions import find_dates

    text = "حسابي 4471203 يوم الخميس"
    dates = [(d.start, d.end) for d in find_dates(text)]
    assert [m.text for m in find_numbers(text, taken=dates)] == ["4471203"]
    assert find_numbers("دفعت 4471203 يوم", taken=[]) == []


# ---------------------------------------------------------------- properties

SCRIPTS = st.sampled_from([ASCII, ARABIC_INDIC, PERSIAN])
SEPARATORS = st.sampled_from(["", " ", "-", ".", " - "])
BEFORE = st.sampled_from(["رقم حسابي ", "حسابي رقم ", "رقم العداد: ", "account ", "ra2m el 7sab ", "الاشتراك "])
PHONE_BEFORE = st.sampled_from(["رقم جوالي ", "موبايلي ", "رقمي هو ", "phone: ", "واتساب "])
TICKET_BEFORE = st.sampled_from(["رقم البلاغ ", "الطلب رقم ", "ticket ", "شكوى رقم ", "رقم التذكرة "])
AFTER = st.sampled_from(["", " لو سمحت", "؟", " شكرا", ".", "، وش المطلوب", " please"])


def _write(digits: str, script: str) -> str:
    return "".join(script[int(d)] for d in digits)


def _grouped(digits: str, sizes: list[int], separator: str) -> str:
    out, i = [], 0
    for size in sizes:
        if i < len(digits):
            out.append(digits[i : i + size])
            i += size
    if i < len(digits):
        out.append(digits[i:])
    return separator.join(out)


@st.composite
def account_numbers(draw):
    digits = draw(st.integers(1, 9).map(str)) + draw(st.text(ASCII, min_size=5, max_size=9))
    sizes = draw(st.lists(st.integers(3, 4), min_size=1, max_size=3))
    return _grouped(_write(digits, draw(SCRIPTS)), sizes, draw(SEPARATORS))


@st.composite
def phone_numbers(draw):
    script = draw(SCRIPTS)
    style = draw(st.sampled_from(["05", "+966", "00966", "9665", "01eg", "+20", "+212", "+964"]))
    rest = draw(st.text(ASCII, min_size=8, max_size=8))
    separator = draw(SEPARATORS)
    if style == "05":
        return _grouped(_write("05" + rest, script), [3, 3, 4], separator)
    if style == "01eg":
        return _grouped(_write("01" + draw(st.sampled_from("0125")) + rest, script), [3, 4, 4], separator)
    if style in ("+966", "00966"):
        return style[:-3] + _write("966", script) + separator + _grouped(_write("5" + rest, script), [2, 3, 4], separator)
    if style == "9665":
        return _grouped(_write("9665" + rest, script), [3, 2, 3, 4], separator)
    code = {"+20": "201", "+212": "2126", "+964": "9647"}[style]
    return "+" + _grouped(_write(code + rest, script), [len(code) - 1, 3, 3, 4], separator)


@st.composite
def ticket_numbers(draw):
    digits = _write(draw(st.text(ASCII, min_size=6, max_size=6)), draw(SCRIPTS))
    prefix = draw(st.sampled_from(["T-", "T", "t-", "T ", "ت-", "T/", "T.", "TKT-", ""]))
    return prefix + digits


def _only_mention(text: str, intent: str | None = None):
    mentions = find_numbers(text, intent)
    assert len(mentions) == 1, (text, mentions)
    return mentions[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number=account_numbers(), before=BEFORE, after=AFTER)
def test_account_numbers_in_every_script_and_separator_are_found_exactly(number, before, after):
    text = before + number + after
    mention = _only_mention(text)
    assert mention.entity == "account_number"
    assert (mention.start, mention.end) == (len(before), len(before) + len(number))
    assert mention.text == number


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number=phone_numbers(), before=PHONE_BEFORE, after=AFTER)
def test_phone_numbers_in_every_script_and_separator_are_found_exactly(number, before, after):
    text = before + number + after
    mention = _only_mention(text)
    assert mention.entity == "phone_number"
    assert text[mention.start : mention.end] == number


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number=phone_numbers(), after=AFTER)
def test_phone_shapes_are_phones_without_context_words(number, after):
    mention = _only_mention(number + after)
    assert (mention.entity, mention.start, mention.end) == ("phone_number", 0, len(number))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number=ticket_numbers(), before=TICKET_BEFORE, after=AFTER)
def test_ticket_numbers_are_found_exactly(number, before, after):
    text = before + number + after
    mention = _only_mention(text)
    assert mention.entity == "ticket_number"
    assert text[mention.start : mention.end] == number
    assert mention.normalized[:2] == "T-" and mention.normalized[2:].isascii()


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(1, 10**7), script=SCRIPTS, unit=st.sampled_from([" ريال", " درهم", " جنيه", " أيام", " مرات", "%", " ميجا"]))
def test_amounts_and_counts_are_never_entities(amount, script, unit):
    assert find_numbers("دفعت " + _write(str(amount), script) + unit) == []


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        # a context word glued to the number, a T- glued to the word before
        ("رقم البلاغ661092 ومحد تواصل معي", None, [("ticket_number", "661092")]),
        ("الطلبT-338812قدمته قبل اسبوعين", None, [("ticket_number", "T-338812")]),
        # "the number" ends the look back: the code is not the number's context
        ("الكود ما عم يوصل عالرقم 03 998 877", None, [("phone_number", "03 998 877")]),
        ("فين وصلات الطلب ديالي؟ عندي رقم ٣٠٩٧٤١", None, [("ticket_number", "٣٠٩٧٤١")]),
        ("حسابي رقم 4471203", None, [("account_number", "4471203")]),
        # Levantine "my number"; a bare number in a request to change details is a phone
        ("ra2me el jdid 70 123 456", None, [("phone_number", "70 123 456")]),
        ("ابي ابدل الرقم ل99887766", "update_account_details", [("phone_number", "99887766")]),
        ("ابي ابدل الرقم ل99887766", "bill_inquiry", [("account_number", "99887766")]),
    ],
)
def test_glued_context_words_the_number_and_phone_requests(text: str, intent: str | None, expected: list[tuple[str, str]]) -> None:
    assert found(text, intent) == expected


def test_a_reference_words_six_digits_are_a_ticket_whatever_word_follows() -> None:
    # Arabizi "sar" is "صار" (has anything happened), not Saudi riyals
    found = find_numbers("el balagh ra2m 990124 sar 3aleh shi?")
    assert [(m.entity, m.text) for m in found] == [("ticket_number", "990124")]
    assert find_numbers("دفعت 4471203 ريال") == []  # an amount, with no reference word
