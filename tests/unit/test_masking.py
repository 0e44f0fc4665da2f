"""Personal data masking on the normalised view (bot/masking.py), attacked with generated phone numbers.

Each test writes a number the way a customer (or an attacker hiding it from a
naive regex) would: other digit scripts, zero-width characters or tatweel inside,
dots, slashes, parentheses, double spaces, with or without the country code.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.masking import INVISIBLE, conversation_ref, find_personal_data, mask, mask_customer, normalised_view

SCRIPTS = {"ascii": "0123456789", "arabic": "٠١٢٣٤٥٦٧٨٩", "persian": "۰۱۲۳۴۵۶۷۸۹"}
SEPARATORS = ["", " ", "  ", ".", "-", "/", "(", ")", " - ", "\u00a0"]
HIDERS = ["\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff", "\u0640", "\u202b", "\u2067"]
WORDS = ["رقمي", "جوالي", "اتصلوا على", "تواصل معي", "الرقم هو", "او", "شكرا", "عندي مشكلة في الفاتورة"]

# (prefix written before the subscriber digits, how many subscriber digits follow)
SAUDI_PREFIXES = ["05", "+9665", "009665", "9665", "+966 5", "00966 5", "+966 (0)5", "٠٥", "+٩٦٦٥"]
EGYPT_PREFIXES = ["010", "011", "012", "015", "+2010", "+2011", "00201", "2012", "+20 15", "٠١٠"]


@st.composite
def phone_numbers(draw):
    """(written number, its digits as a string of ASCII digits) in any format."""
    country = draw(st.sampled_from(["sa", "eg", "intl"]))
    if country == "sa":
        prefix, rest = draw(st.sampled_from(SAUDI_PREFIXES)), 8
    elif country == "eg":
        prefix, rest = draw(st.sampled_from(EGYPT_PREFIXES)), 8
    else:
        prefix, rest = draw(st.sampled_from(["+44", "+1", "0044", "+971", "+33"])), draw(st.integers(7, 10))
    subscriber = draw(st.text(alphabet="0123456789", min_size=rest, max_size=rest))
    script = SCRIPTS[draw(st.sampled_from(list(SCRIPTS)))]
    pieces = []
    for digit in subscriber:
        # at most a few separators in a row, and invisible characters anywhere
        pieces.append(draw(st.sampled_from(SEPARATORS)) if draw(st.booleans()) else "")
        pieces.append(draw(st.sampled_from(HIDERS)) if draw(st.integers(0, 4)) == 0 else "")
        pieces.append(script[int(digit)])
    written = prefix + "".join(pieces)
    folded, _ = normalised_view(written)
    return written, re.sub(r"\D", "", folded)


def _digit_windows(digits: str, size: int = 7):
    """Every run of ``size`` digits of the number that is not only zeros (zeros are what masks write)."""
    return {digits[i : i + size] for i in range(len(digits) - size + 1)} - {"0" * size}


def _only_digits(text: str) -> str:
    return re.sub(r"\D", "", normalised_view(text)[0])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number=phone_numbers(), before=st.sampled_from(WORDS), after=st.sampled_from(WORDS), glue=st.sampled_from([" ", "\n", " : ", "، "]))
def test_no_run_of_seven_digits_of_a_phone_number_survives(number, before, after, glue):
    written, digits = number
    text = f"{before}{glue}{written}{glue}{after}"
    masked = mask(text)
    assert len(masked) == len(text), "offsets must stay valid"
    assert masked.startswith(before) and masked.endswith(after)
    left = _only_digits(masked)
    for window in _digit_windows(digits):
        assert window not in left, (text, masked)
    # every digit that is left in the number's place is a zero of its script
    start = text.index(written)
    assert not any(c.isdecimal() and c not in "0٠۰" for c in masked[start : start + len(written)])


@settings(max_examples=150, deadline=None)
@given(number=phone_numbers())
def test_the_masked_display_of_a_phone_conversation_keeps_at_most_six_digits(number):
    written, digits = number
    shown = mask_customer(f"whatsapp:+{digits}", "twilio")
    assert len(re.sub(r"\D", "", shown)) <= 6 and "•" in shown
    assert not any(window in _only_digits(shown) for window in _digit_windows(digits))


@st.composite
def ordinary_numbers(draw):
    kind = draw(st.sampled_from(["price", "date", "time", "small", "year"]))
    script = SCRIPTS[draw(st.sampled_from(list(SCRIPTS)))]
    if kind == "price":
        value = f"{draw(st.integers(0, 99999))}.{draw(st.integers(0, 99)):02d}"
    elif kind == "date":
        value = f"{draw(st.integers(1, 31))}/{draw(st.integers(1, 12))}"
    elif kind == "time":
        value = f"{draw(st.integers(0, 23))}:{draw(st.integers(0, 59)):02d}"
    elif kind == "year":
        value = f"{draw(st.integers(1990, 2030))}"
    else:
        value = str(draw(st.integers(0, 999999)))
    return value.translate(str.maketrans("0123456789", script))


@settings(max_examples=300, deadline=None)
@given(value=ordinary_numbers(), before=st.sampled_from(WORDS), after=st.sampled_from(WORDS + ["ريال", "الساعة"]))
def test_prices_dates_times_and_short_numbers_are_left_alone(value, before, after):
    text = f"{before} {value} {after}"
    assert mask(text) == text
    assert mask(text, digit_runs=True) == text


@pytest.mark.parametrize(
    "text, hidden",
    [
        ("رقمي ٠٥٥ـ١٢٣\u200b٤٥٦٧ لو سمحت", "٠٥٥ـ١٢٣\u200b٤٥٦٧"),        # tatweel and a zero-width space inside
        ("جوالي 9665 5123 4567", "9665 5123 4567"),                       # country code without +
        ("+966.55.123.4567 اتصل", "+966.55.123.4567"),                  # dots
        ("الرقم (055) 123-4567", "055) 123-4567"),                        # parentheses
        ("رقمي 055  123  4567", "055  123  4567"),                        # double spaces
        ("موبايلي 01012345678 يا فندم", "01012345678"),                   # Egyptian mobile
        ("كلمني على +20 10 1234 5678", "+20 10 1234 5678"),
        ("هويتي 1012 345 678", "1012 345 678"),                           # spaced national id
        ("\u202bرقمي\u202c \u2067+966551234567\u2069", "+966551234567"),  # bidi controls around
    ],
)
def test_the_formats_a_naive_pattern_missed(text, hidden):
    masked = mask(text)
    start = text.index(hidden)
    assert _only_digits(masked[start : start + len(hidden)]).strip("0") == "", masked
    assert masked[:start] == text[:start]
    assert len(masked) == len(text)


def test_account_numbers_are_kept_for_training_but_masked_for_logs():
    text = "رقم حسابي 4471203 والفاتورة 350 ريال بتاريخ 15/3/2025 الساعة 10:30"
    assert mask(text) == text
    assert mask(text, digit_runs=True) == text.replace("4471203", "0000000")
    assert [s.kind for s in find_personal_data(text, digit_runs=True)] == ["digits"]


def test_invisible_characters_are_kept_in_place():
    text = "0\u200b5\u0640512345\u200e67"
    masked = mask(text)
    assert [c for c in masked if c in INVISIBLE] == ["\u200b", "\u0640", "\u200e"]
    assert _only_digits(masked) == "0" * 10


@pytest.mark.parametrize(
    "conversation_id, channel, shown",
    [
        ("whatsapp:+966512341234", None, "+966••••••234"),
        ("whatsapp:+٩٦٦٥١٢٣٤١٢٣٤", "twilio", "+966••••••234"),
        ("0551234567", "rest", "055••••567"),
        ("web-3f9a", "webchat", "session web-3f…"),
        ("u1234567890", "rest", "session u12345…"),  # six characters at most: never a whole number
        ("1234567890123", "rest", "session 123456…"),
    ],
)
def test_mask_customer(conversation_id, channel, shown):
    assert mask_customer(conversation_id, channel) == shown


def test_conversation_refs_are_stable_keyed_and_opaque():
    ref = conversation_ref("whatsapp:+966512341234", b"k1")
    assert ref == conversation_ref("whatsapp:+966512341234", b"k1") != conversation_ref("whatsapp:+966512341234", b"k2")
    assert "512341234" not in ref and len(ref) == 20
