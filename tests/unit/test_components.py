"""The Rasa graph components wrap the pure modules correctly."""

from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import ArabicNormalizer, ArabicTokenizer, ServiceTypeExtractor
from bot.nlu.intent_classifier import classifier_input


def _tokenizer():
    return ArabicTokenizer({**ArabicTokenizer.get_default_config()})


def test_tokenizer_keeps_raw_text_and_offsets_and_puts_normal_form_in_lemma():
    raw = "الكهربـــاء مقطوعة في حي النرجس"
    message = Message(data={TEXT: raw})
    _tokenizer().process([message])
    tokens = message.get(TOKENS_NAMES[TEXT])
    assert [t.text for t in tokens] == ["الكهربـــاء", "مقطوعة", "في", "حي", "النرجس"]
    assert [t.lemma for t in tokens][:2] == ["الكهرباء", "مقطوعه"]
    assert all(raw[t.start : t.end] == t.text for t in tokens)


def test_tokenizer_marks_arabizi_tokens():
    message = Message(data={TEXT: "el net m2to3"})
    _tokenizer().process([message])
    tokens = message.get(TOKENS_NAMES[TEXT])
    assert tokens[1].get("arabizi") == "نت"


def test_tokenizer_handles_empty_and_emoji_only_text():
    empty, emoji = Message(data={TEXT: ""}), Message(data={TEXT: "😡😡"})
    _tokenizer().process([empty, emoji])
    assert empty.get(TOKENS_NAMES[TEXT]) == []
    assert [t.text for t in emoji.get(TOKENS_NAMES[TEXT])] == ["😡", "😡"]


def test_normalizer_records_elongation_in_the_parse_output():
    message = Message(data={TEXT: "انا زعلاااااان من الخدمة"})
    ArabicNormalizer(ArabicNormalizer.get_default_config()).process([message])
    info = message.as_dict_nlu()["arabic"]
    assert info["normalized"] == "انا زعلان من الخدمه"
    assert info["elongated"] is True and info["elongated_words"] == ["زعلاااااان"]
    assert message.get(TEXT) == "انا زعلاااااان من الخدمة"  # raw text untouched


def test_service_extractor_gives_canonical_values_on_raw_offsets():
    raw = "الكهربـا مقطوعة والموية كمان"
    crf_guess = {"entity": "service_type", "start": 0, "end": 8, "value": "الكهربـا", "extractor": "CRFEntityExtractor"}
    district = {"entity": "district", "start": 30, "end": 36, "value": "x", "extractor": "CRFEntityExtractor"}
    message = Message(data={TEXT: raw, ENTITIES: [crf_guess, district]})
    ServiceTypeExtractor(ServiceTypeExtractor.get_default_config()).process([message])
    entities = message.get(ENTITIES)
    services = [(e["value"], raw[e["start"] : e["end"]]) for e in entities if e["entity"] == "service_type"]
    assert services == [("electricity", "الكهربـا"), ("water", "والموية")]
    assert district in entities


def test_service_extractor_drops_spans_it_cannot_resolve():
    raw = "الغاز مقطوع"
    guess = {"entity": "service_type", "start": 0, "end": 5, "value": "الغاز", "extractor": "CRFEntityExtractor"}
    message = Message(data={TEXT: raw, ENTITIES: [guess]})
    ServiceTypeExtractor(ServiceTypeExtractor.get_default_config()).process([message])
    assert message.get(ENTITIES) == []


def test_classifier_input_masks_digits_and_adds_arabizi_reading():
    assert classifier_input("رقم حسابي ٤٤٧١٢٠٣") == "رقم حسابي 0000000"
    assert classifier_input("el net m2to3").startswith("el net m2to3 النت")
