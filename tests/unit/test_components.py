"""The Rasa graph components wrap the pure modules correctly."""

from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import (
    ArabicNormalizer,
    ArabicTokenizer,
    BareAnswerDetector,
    NumberAndDateExtractor,
    PlaceExtractor,
    ServiceTypeExtractor,
)
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


def _number_and_date_extractor():
    return NumberAndDateExtractor(NumberAndDateExtractor.get_default_config())


def test_number_and_date_extractor_replaces_the_crf_guesses_for_its_entities():
    raw = "رقم حسابي ٤٤٧ ١٢٠٣ وجوالي 0551234567 والزيارة يوم الأحد في حي النرجس"
    def guess(entity: str, words: str) -> dict:
        start = raw.index(words)
        return {"entity": entity, "start": start, "end": start + len(words), "value": words, "extractor": "CRFEntityExtractor"}

    crf = [guess("account_number", "٤٤٧"), guess("date", "الأحد"), guess("district", "النرجس")]
    message = Message(data={TEXT: raw, ENTITIES: crf})
    _number_and_date_extractor().process([message])
    got = [(e["entity"], raw[e["start"] : e["end"]], e["value"], e["extractor"]) for e in message.get(ENTITIES)]
    assert got == [
        ("account_number", "٤٤٧ ١٢٠٣", "٤٤٧ ١٢٠٣", "NumberAndDateExtractor"),
        ("phone_number", "0551234567", "0551234567", "NumberAndDateExtractor"),
        ("date", "يوم الأحد", "يوم الأحد", "NumberAndDateExtractor"),
        ("district", "النرجس", "النرجس", "CRFEntityExtractor"),
    ]
    assert message.get(ENTITIES)[0]["normalized"] == "4471203"
    assert message.as_dict_nlu()[ENTITIES] == message.get(ENTITIES)


def test_number_and_date_extractor_drops_other_spans_over_its_own():
    raw = "ابي موعد بكرة"
    crf = [{"entity": "district", "start": 9, "end": 13, "value": "بكرة", "extractor": "CRFEntityExtractor"}]
    message = Message(data={TEXT: raw, ENTITIES: crf})
    _number_and_date_extractor().process([message])
    assert [(e["entity"], e["value"]) for e in message.get(ENTITIES)] == [("date", "بكرة")]


def test_number_and_date_extractor_reads_the_intent_for_bare_six_digits():
    status = Message(data={TEXT: "٣٠٩٧٤١", INTENT: {"name": "request_status", "confidence": 0.9}})
    other = Message(data={TEXT: "٣٠٩٧٤١", INTENT: {"name": "inform", "confidence": 0.9}})
    _number_and_date_extractor().process([status, other])
    assert status.get(ENTITIES)[0]["entity"] == "ticket_number"
    assert other.get(ENTITIES)[0]["entity"] == "account_number"


def _crf(raw: str, entity: str, words: str) -> dict:
    start = raw.index(words)
    return {"entity": entity, "start": start, "end": start + len(words), "value": words, "extractor": "CRFEntityExtractor"}


def test_place_extractor_replaces_the_crf_spans_it_overlaps_and_keeps_the_others():
    raw = "النت فاصل بحي المنصور في بغداد، الكرخ"
    crf = [_crf(raw, "district", "بحي المنصور"), _crf(raw, "district", "بغداد"), _crf(raw, "district", "الكرخ")]
    message = Message(data={TEXT: raw, ENTITIES: crf})
    PlaceExtractor(PlaceExtractor.get_default_config()).process([message])
    got = [(e["entity"], raw[e["start"] : e["end"]], e["value"], e["extractor"]) for e in message.get(ENTITIES)]
    assert got == [
        ("district", "المنصور", "المنصور", "PlaceExtractor"),
        ("city", "بغداد", "بغداد", "PlaceExtractor"),
        # no rule says anything about الكرخ: the CRF's span stays (keep_statistical)
        ("district", "الكرخ", "الكرخ", "CRFEntityExtractor"),
    ]
    assert message.as_dict_nlu()[ENTITIES] == message.get(ENTITIES)


def test_place_extractor_without_statistical_spans_keeps_only_its_own():
    raw = "النت فاصل في الكرخ"
    message = Message(data={TEXT: raw, ENTITIES: [_crf(raw, "district", "الكرخ")]})
    PlaceExtractor({"keep_statistical": False}).process([message])
    assert message.get(ENTITIES) == []


def test_place_extractor_drops_crf_places_over_other_entities_and_keeps_those():
    raw = "ابي موعد بكرة في حي النرجس"
    crf = [_crf(raw, "city", "بكرة"), {"entity": "date", "start": 9, "end": 13, "value": "بكرة", "extractor": "NumberAndDateExtractor"}]
    message = Message(data={TEXT: raw, ENTITIES: crf})
    PlaceExtractor(PlaceExtractor.get_default_config()).process([message])
    assert [(e["entity"], e["value"]) for e in message.get(ENTITIES)] == [("date", "بكرة"), ("district", "النرجس")]


def test_a_message_that_is_only_what_the_rules_found_is_an_answer():
    def parsed(text, intent, entities):
        spans = [{"entity": e, "start": text.index(w), "end": text.index(w) + len(w), "value": w, "extractor": x} for e, w, x in entities]
        ranking = [{"name": intent, "confidence": 0.63}, {"name": "request_status", "confidence": 0.57}, {"name": "inform", "confidence": 0.43}]
        return Message(data={TEXT: text, INTENT: {"name": intent, "confidence": 0.63}, ENTITIES: spans, "intent_ranking": ranking})

    bare = parsed("T-482913.", "nlu_fallback", [("ticket_number", "T-482913", "NumberAndDateExtractor")])
    asked = parsed("T-482913 وش صار عليه", "request_status", [("ticket_number", "T-482913", "NumberAndDateExtractor")])
    guessed = parsed("البتاع ده", "nlu_fallback", [("service_type", "البتاع", "CRFEntityExtractor")])
    BareAnswerDetector({}).process([bare, asked, guessed])
    assert bare.get(INTENT) == {"name": "inform", "confidence": 1.0}
    assert [r["name"] for r in bare.get("intent_ranking")] == ["inform", "nlu_fallback", "request_status"]
    assert asked.get(INTENT)["name"] == "request_status"  # words besides the number
    assert guessed.get(INTENT)["name"] == "nlu_fallback"  # the CRF's guesses are no answer
