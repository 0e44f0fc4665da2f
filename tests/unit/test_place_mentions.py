"""Cities and districts by rule: exact spans on the raw text, names listed or read after a place word."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.nlu.place_mentions import CITY, DISTRICT, find_places, load_lexicon

ROOT = Path(__file__).resolve().parents[2]


def places(text: str) -> list[tuple[str, str]]:
    return [(m.entity, m.text) for m in find_places(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # listed names anywhere, every region
        ("فيكن تبعتولي فني يوم التلاتا عالنسيم؟", [(DISTRICT, "النسيم")]),  # ع + article: على
        ("الكهرباء مقطوعة في المنزه من الصباح", [(DISTRICT, "المنزه")]),
        ("عندي مشكلة في الكرادة الكهرباء طافية", [(DISTRICT, "الكرادة")]),
        ("الكهربا مقطوعة في صنعاء", [(CITY, "صنعاء")]),
        ("الكهربا مقطوعة في صنعا", [(CITY, "صنعا")]),  # final hamza dropped
        ("عايز موعد في الخرطوم", [(CITY, "الخرطوم")]),
        ("فرعكم في مراكش فين", [(CITY, "مراكش")]),
        ("انا من الاسكندرية وعايز اشترك", [(CITY, "الاسكندرية")]),
        # a glued preposition stays outside the span
        ("النت فاصل عندنا بحي المنصور", [(DISTRICT, "المنصور")]),
        ("ساكن لحي المنزه ومافي مي", [(DISTRICT, "المنزه")]),
        ("انتقلت لجدة الشهر الماضي", [(CITY, "جدة")]),
        ("المكيف خربان وبالرياض الحر شديد", [(CITY, "الرياض")]),
        ("بدي ركب نت بالأشرفية", [(DISTRICT, "الأشرفية")]),
        ("فين جات الوكالة ديالكم فمدينة الرياض؟", [(CITY, "الرياض")]),
        # a separate preposition is a word of its own
        ("انا ف الدار البيضاء والضو مقطوع", [(CITY, "الدار البيضاء")]),
        # two- and three-word names
        ("الماي مقطوع في مدينة نصر من امبارح", [(DISTRICT, "مدينة نصر")]),
        ("ابي فني يجي التجمع الخامس بكرة", [(DISTRICT, "التجمع الخامس")]),
        ("سكان باب الوادي بلا ماء", [(DISTRICT, "باب الوادي")]),
        ("بحي الشاطئ الغربي المي مقطوعة", [(DISTRICT, "الشاطئ الغربي")]),
        ("الخبر الشمالية", [(DISTRICT, "الخبر الشمالية")]),
        ("في حي الملك فهد", [(DISTRICT, "الملك فهد")]),
        # a name nobody listed, after a place word
        ("حي السلام الكهرباء مقطوعة", [(DISTRICT, "السلام")]),
        ("عندنا انقطاع في بغداد حي الجادرية", [(CITY, "بغداد"), (DISTRICT, "الجادرية")]),
        ("في حي الملقا بمدينة الرياض", [(DISTRICT, "الملقا"), (CITY, "الرياض")]),
        ("منطقة الرياض", [(CITY, "الرياض")]),  # منطقة + a city: the city
        ("منطقة الدوحة الجديدة", [(DISTRICT, "الدوحة الجديدة")]),
        # a city's name after حي is a district's name (حي الرياض in Khartoum)
        ("حي الرياض في الخرطوم الموية قاطعة", [(DISTRICT, "الرياض"), (CITY, "الخرطوم")]),
        # Arabizi and Latin
        ("7ay el sulaimaniya fi el riyadh", [(DISTRICT, "el sulaimaniya"), (CITY, "el riyadh")]),
        ("7ay el malqa el net m2to3", [(DISTRICT, "el malqa")]),
        ("mata yfta7 el far3 7ag al3olaya?", [(DISTRICT, "al3olaya")]),
        ("wen el far3 tab3kon b jeddeh?", [(CITY, "jeddeh")]),
        ("el net 2ate3 3ande bi jounieh", [(CITY, "jounieh")]),
        ("wifi down in Jounieh since morning", [(CITY, "Jounieh")]),
        ("district of Maadi no water", [(DISTRICT, "Maadi")]),
        ("hay el riad, mafi kahraba", [(DISTRICT, "el riad")]),
        ("hay ktir ba6ee2a el net", []),  # Levantine "hay" = "this"
        # where a name read after a place word ends
        ("حي النرجس الشهر الجاي", [(DISTRICT, "النرجس")]),  # a date
        ("حي النرجس الكهرباء مقطوعة", [(DISTRICT, "النرجس")]),  # a service word
        ("حي النرجس، الكهرباء مقطوعة", [(DISTRICT, "النرجس")]),
        ("احنا في حي طويق عندنا مشكلة", [(DISTRICT, "طويق")]),
        ("المي مقطوعة في حي 14", []),  # a number
        ("منطقة سكنية كاملة بدون كهرباء", []),  # "a residential area"
        ("بالحي كله ما في كهربا", []),  # الحي: "the neighbourhood", not a place word
        # words that are places only in context
        ("مع السلامة", []),
        ("سأشتكي للصحافة", []),
        ("ابي اكلم الإدارة العليا", []),
        ("فرع العليا مفتوح؟", [(DISTRICT, "العليا")]),
        ("كاين شي فرع قريب من العليا؟", [(DISTRICT, "العليا")]),
        ("كيف بصور العداد وببعت الـ reading من الـ app؟", []),  # بصور: "I'll photograph"
        ("انتقلت من جدة لـ المدينة", [(CITY, "جدة"), (CITY, "المدينة")]),
        ("الكهربا مقطوعة عن العمارة كلها", []),  # العمارة: "the building"
        ("الخرطوم تبع الغسالة مكسور", []),  # "the hose"
        ("العليا", [(DISTRICT, "العليا")]),  # a one-word reply
        # a customer's name, a month, a road are not places
        ("اسمي خالد وساكن في حي الأندلس بجدة", [(DISTRICT, "الأندلس"), (CITY, "جدة")]),
        ("موعد في شهر مايو لو سمحت", []),
        ("الكهرباء مقطوعة في شارع الملك عبدالعزيز", []),
    ],
)
def test_places(text, expected):
    assert places(text) == expected


def test_offsets_are_on_the_raw_text_with_tatweel_and_diacritics():
    text = "حيّ النَّرجـــس الكهرباء مقطوعة وبـجـــدة كمان"
    found = find_places(text)
    assert [(m.entity, m.text) for m in found] == [(DISTRICT, "النَّرجـــس"), (CITY, "جـــدة")]
    assert all(text[m.start : m.end] == m.text == m.value for m in found)


def test_a_preposition_that_swallowed_the_article_gives_it_back_in_the_value():
    (found,) = find_places("ابي انقل الخدمة للرياض")
    assert (found.entity, found.text, found.value) == (CITY, "لرياض", "الرياض")


def test_taken_spans_are_not_places():
    text = "حي النرجس 0551234567"
    assert [m.text for m in find_places(text, taken=[(0, 9)])] == []


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("حي النرجس بجدة في el 7ay،.ـَ 12 مدينة نصر")), max_size=40))
def test_spans_are_always_valid_and_disjoint(text):
    found = find_places(text)
    for m in found:
        assert 0 <= m.start < m.end <= len(text) and text[m.start : m.end] == m.text and m.text.strip() == m.text
    assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))


def _lookup(name: str) -> list[str]:
    data = yaml.safe_load((ROOT / "nlu_data" / "lookups.yml").read_text(encoding="utf-8"))
    table = next(t for t in data["nlu"] if t.get("lookup") == name)
    return [line[2:].strip() for line in table["examples"].splitlines() if line.strip()]


@pytest.mark.parametrize("kind", [DISTRICT, CITY])
def test_every_lookup_table_name_is_found_by_name(kind):
    for name in _lookup(kind):
        assert places(f"الكهرباء مقطوعة في {name}") == [(kind, name)], name


def test_every_place_annotated_in_the_training_data_is_found():
    """The trainers' contract (nlu_data/README.md): a place annotated in nlu_data/ is
    found exactly; a new name typed without حي / مدينة goes into lexicons/places.yml."""
    from rasa.shared.nlu.training_data.loading import load_data

    missed = []
    for path in sorted((ROOT / "nlu_data").glob("*.yml")):
        for example in load_data(str(path)).training_examples:
            text = example.get("text")
            gold = {(e["entity"], e["start"], e["end"]) for e in example.get("entities") or [] if e["entity"] in (CITY, DISTRICT)}
            found = {(m.entity, m.start, m.end) for m in find_places(text)}
            missed += [(text, text[s:e]) for _, s, e in gold - found]
    assert missed == []


def test_lexicon_names_are_not_stop_words_or_place_words():
    lexicon = load_lexicon()
    single = {key[0] for key in lexicon.names if len(key) == 1}
    assert not single & lexicon.stop_words
    assert not {key for key in lexicon.names} & set(lexicon.cues)
