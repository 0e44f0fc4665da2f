"""Normalisation and tokenisation on the inputs customers really send."""

import pytest

from bot.nlu.arabic_text import (
    arabizi_to_arabic,
    collapse_elongation,
    fold_digits,
    looks_like_arabizi,
    normalize,
    tokenize,
    transliterated,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("مُسْتَشْفَى", "مستشفي"),  # diacritics, alef maksura
        ("الكهربـــاء", "الكهرباء"),  # tatweel
        ("أحمد إسلام آمن ٱلله", "احمد اسلام امن الله"),  # alef variants
        ("فاتورة", "فاتوره"),  # teh marbuta
        ("رقم ٤٤٧١٢٠٣ و۱۲۳", "رقم 4471203 و123"),  # Arabic-Indic and Persian digits
        ("  INTERNET   فاصل ", "internet فاصل"),  # case and spaces
        ("numéro de la réclamation, ÉLECTRICITÉ", "numero de la reclamation, electricite"),  # French accents
        ("", ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw).text == expected


def test_teh_marbuta_is_configurable():
    assert normalize("فاتورة", teh_marbuta=False).text == "فاتورة"
    assert normalize("على", alef_maksura=False).text == "على"


def test_elongation_is_collapsed_and_recorded():
    result = normalize("انا زعلااااان جداً")
    assert result.text == "انا زعلان جدا"
    assert result.elongated is True
    assert result.elongated_words == ("زعلااااان",)


def test_two_equal_letters_are_ordinary_spelling_not_elongation():
    text, words = collapse_elongation("الله good")
    assert text == "الله good" and words == []
    assert normalize("شكرا").elongated is False


def test_digits_are_never_collapsed():
    assert normalize("1000000").text == "1000000"
    assert fold_digits("٠٠٠٧") == "0007"


def test_token_offsets_point_into_the_raw_text():
    raw = "الكهربـــاء مقطوعة في حي النرجس!!"
    tokens = tokenize(raw)
    assert [t.text for t in tokens] == ["الكهربـــاء", "مقطوعة", "في", "حي", "النرجس"]
    for token in tokens:
        assert raw[token.start : token.end] == token.text
    assert tokens[0].norm == "الكهرباء"
    assert tokens[1].norm == "مقطوعه"


def test_entity_offsets_survive_normalisation_of_earlier_text():
    # Diacritics and tatweel before the entity shrink the normalised text, but the
    # offsets still address the customer's own characters.
    raw = "رَقَمْ حِسَابِـــي ٤٤٧١٢٠٣"
    number = tokenize(raw)[-1]
    assert raw[number.start : number.end] == "٤٤٧١٢٠٣"
    assert number.norm == "4471203"


def test_emoji_are_tokens_and_punctuation_is_not():
    tokens = tokenize("النت فاصل 😡😡 ؟!")
    assert [t.text for t in tokens] == ["النت", "فاصل", "😡", "😡"]


def test_emoji_only_message():
    tokens = tokenize("🙏🙏🙏")
    assert len(tokens) == 3 and all(t.norm == "🙏" for t in tokens)


def test_code_switched_message_keeps_both_scripts():
    tokens = tokenize("الـ internet فاصل")
    assert [t.norm for t in tokens] == ["ال", "internet", "فاصل"]
    assert all(t.arabizi is None for t in tokens)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("el net m2to3 men embare7", True),
        ("3ayez a7gez ma3ad", True),
        ("hello my internet is down", False),
        ("النت m2to3", False),  # Arabic letters: not Arabizi
        ("", False),
    ],
)
def test_looks_like_arabizi(text, expected):
    assert looks_like_arabizi(text) is expected


def test_arabizi_is_transliterated_next_to_the_latin_text():
    tokens = tokenize("el net m2to3 men embare7")
    assert [t.text for t in tokens] == ["el", "net", "m2to3", "men", "embare7"]
    assert transliterated(tokens).startswith("النت ")
    assert arabizi_to_arabic("embare7") == "امبرح"
    assert arabizi_to_arabic("3ala") == "عله"
    assert arabizi_to_arabic("5ales") == "خلس"


def test_none_and_whitespace_inputs():
    assert tokenize("") == []
    assert tokenize("   ") == []
    assert normalize(None).text == ""  # type: ignore[arg-type]


def test_a_preposition_glued_before_the_article_comes_off_and_nothing_else_does():
    from bot.nlu.arabic_text import without_glued_preposition

    assert without_glued_preposition("فالصباح") == "الصباح"
    assert without_glued_preposition("بالخميس") == "الخميس"
    assert without_glued_preposition("الصباح") is None  # no preposition
    assert without_glued_preposition("بكره") is None  # no article after it
    assert without_glued_preposition("بال") is None  # too short to be a word
