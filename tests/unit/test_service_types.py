"""The dialect lexicon maps service words to electricity / water / internet."""

import pytest

from bot.nlu.arabic_text import tokenize
from bot.nlu.service_types import find_services


def services(text):
    return [(m.value, text[m.start : m.end]) for m in find_services(tokenize(text))]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("الكهربا مقطوعة عندنا في حي النرجس", [("electricity", "الكهربا")]),
        ("الكهربـــاء طافية", [("electricity", "الكهربـــاء")]),
        ("ما في كهربا من الصبح", [("electricity", "كهربا")]),
        ("الضو مقطوع", [("electricity", "الضو")]),
        ("الموية مقطوعة", [("water", "الموية")]),
        ("المياه ضعيفة", [("water", "المياه")]),
        ("ما في مي من امبارح", [("water", "مي")]),
        ("الما مقطوعة", [("water", "الما")]),
        ("النت فاصل", [("internet", "النت")]),
        ("الواي فاي ضعيف", [("internet", "الواي فاي")]),
        ("بالفايبر", [("internet", "الفايبر"[0:0] + "بالفايبر")]),
        ("الـ internet فاصل", [("internet", "الـ internet")]),
        ("el net m2to3 men embare7", [("internet", "el net")]),
        ("el wifi da3eef", [("internet", "el wifi")]),
        ("الألياف الضوئية", [("internet", "الألياف الضوئية")]),
        ("mafi kahraba 3ndna", [("electricity", "kahraba")]),
        ("النور قاطع عندنا", [("electricity", "النور")]),
        ("el nour ma2tou3", [("electricity", "el nour")]),  # Arabizi نور with a cue
        ("ana 3la noor fiber 100", [("internet", "fiber")]),  # the plan's name, not electricity
        ("البيت ظلام", [("electricity", "ظلام")]),
        # Maghrebi Arabizi and French
        ("ma kaynch dou f Dammam", [("electricity", "dou")]),
        ("l'électricité خويا", [("electricity", "l'électricité")]),
        ("pas de courant depuis ce matin", [("electricity", "courant")]),
    ],
)
def test_service_words(text, expected):
    assert services(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "وما الحل؟",  # ما = what
        "شركة نور للخدمات",  # the company's name is not electricity
        "متى يفتح فرع العليا؟",
        "may I pay by card",
        "الراوتر فيه لمبة حمرا",  # a device, not a service
        "الراوتر ضو احمر",  # the router's light
        "ضو الراوتر احمر",
        "الراوتر ما في ضو فيه",
    ],
)
def test_no_false_service(text):
    assert services(text) == []


def test_two_services_in_one_message():
    assert [v for v, _ in services("لا كهربا ولا موية عندنا")] == ["electricity", "water"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("الضي طافي في طرابلس من ٣ ساعات", [("electricity", "الضي")]),
        ("ch7al facture ta3 eddou compte 77102938", [("electricity", "eddou")]),
        ("عايز اعرف فاتورة النور كام", [("electricity", "النور")]),  # the bill names the service
        ("الضي متاع الكاميرا", []),  # "the light" with no cue is no service
        ("نور الدين ساكن جنبنا", []),
    ],
)
def test_libyan_light_algerian_arabizi_and_the_bill_of_a_service(text, expected):
    assert services(text) == expected
