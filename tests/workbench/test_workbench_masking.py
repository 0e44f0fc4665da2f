"""Personal data is masked in every digit script, with the text's length kept."""

from __future__ import annotations

import pytest

from workbench.masking import find_personal_data, mask

CASES = [
    # (kind, text, the personal data inside it)
    ("phone", "رقم جوالي 0551234567 اتصلوا", "0551234567"),
    ("phone", "جوالي ٠٥٥١٢٣٤٥٦٧", "٠٥٥١٢٣٤٥٦٧"),
    ("phone", "call me on +966 55 123 4567 please", "+966 55 123 4567"),
    ("phone", "رقمي ۰۰۹۶۶۵۵۱۲۳۴۵۶۷", "۰۰۹۶۶۵۵۱۲۳۴۵۶۷"),
    ("national_id", "رقم الهوية 1012345678", "1012345678"),
    ("national_id", "هويتي الوطنية ١٠١٢٣٤٥٦٧٨", "١٠١٢٣٤٥٦٧٨"),
    ("national_id", "رقم الإقامة 2345678901", "2345678901"),
    ("national_id", "اقامتي ٢٣٤٥٦٧٨٩٠١ لو سمحت", "٢٣٤٥٦٧٨٩٠١"),
    ("iban", "حولت من الآيبان SA03 8000 0000 6080 1016 7519 امس", "SA03 8000 0000 6080 1016 7519"),
    ("iban", "IBAN: SA0380000000608010167519", "SA0380000000608010167519"),
    ("iban", "الايبان SA٠٣٨٠٠٠٠٠٠٠٦٠٨٠١٠١٦٧٥١٩", "SA٠٣٨٠٠٠٠٠٠٠٦٠٨٠١٠١٦٧٥١٩"),
    ("card", "دفعت بالبطاقة 4111 1111 1111 1111 وما انخصم", "4111 1111 1111 1111"),
    ("card", "بطاقتي ٤١١١-١١١١-١١١١-١١١١", "٤١١١-١١١١-١١١١-١١١١"),
    ("email", "ايميلي ahmed.ali+bills@example.com.sa شكرا", "ahmed.ali+bills@example.com.sa"),
    ("email", "راسلوني على محمد@مثال.com", "محمد@مثال.com"),
]


@pytest.mark.parametrize("kind, text, secret", CASES)
def test_every_kind_of_personal_data_is_masked(kind, text, secret):
    masked = mask(text)
    assert secret not in masked
    assert len(masked) == len(text), "offsets must stay valid"
    start = text.index(secret)
    assert masked[:start] == text[:start] and masked[start + len(secret):] == text[start + len(secret):]
    assert [s.kind for s in find_personal_data(text)] == [kind]
    # no digit of the original survives except zeros, whatever the script
    assert not any(c.isdigit() and c not in "0٠۰" for c in masked[start:start + len(secret)])


@pytest.mark.parametrize("text", [
    "رقم حسابي 4471203",            # account numbers are not personal data and the bot needs them
    "حالة البلاغ T-482913",
    "الفاتورة 350 ريال بتاريخ 15/3",
    "",
])
def test_ordinary_numbers_and_text_are_left_alone(text):
    assert mask(text) == text


def test_masking_several_items_and_html_keeps_everything_else():
    text = "<b>اسمي</b> هويتي 1012345678 وجوالي 0551234567"
    masked = mask(text)
    assert masked == "<b>اسمي</b> هويتي 0000000000 وجوالي 0000000000"
