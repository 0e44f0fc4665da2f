"""The model input string keeps the emotion cues normalisation removes."""

import pytest

from bot.signals.text import (
    CAPS,
    ELONGATION,
    EMOJI_REPEAT,
    EXCLAMATION,
    MAX_CHARS,
    QUESTION,
    cue_markers,
    has_repeated_emoji,
    model_input,
    prepare,
    shouting_words,
)


def test_normalised_text_comes_first():
    assert model_input("الكهربـــاء مقطوعة") == "الكهرباء مقطوعه"


def test_elongation_marker_and_flag():
    prepared = prepare("حرااااام عليكم")
    assert prepared.text == f"حرام عليكم {ELONGATION}"
    assert prepared.elongated is True
    assert prepare("حرام عليكم").elongated is False


@pytest.mark.parametrize(
    "raw, markers",
    [
        ("وين الفني!!", (EXCLAMATION,)),
        ("وين الفني!", ()),
        ("هل هذه شركة؟؟", (QUESTION,)),
        ("why?? 3ala tool", (QUESTION,)),
        ("هل هذه شركة أم مزحة؟!", (EXCLAMATION, QUESTION)),
        ("FIX IT NOW", (CAPS,)),
        ("الـ UPS ما يشتغل و SMS ما وصل", ()),  # acronyms are not shouting
        ("مشكور 🙏🙏", (EMOJI_REPEAT,)),
        ("مشكور 🙏 🙏", (EMOJI_REPEAT,)),
        ("مشكور 🙏🏻🙏🏽", (EMOJI_REPEAT,)),  # skin tones do not break a run
        ("تمام 🙂👍", ()),
    ],
)
def test_cue_markers(raw, markers):
    assert cue_markers(raw, elongated=False) == markers


def test_markers_are_appended_in_a_fixed_order():
    text = model_input("زهقنااااا!!! WHY؟؟ 😡😡")
    assert text.endswith(f"{ELONGATION} {EXCLAMATION} {QUESTION} {CAPS} {EMOJI_REPEAT}")


def test_shouting_words_and_repeated_emoji_helpers():
    assert shouting_words("the SERVICE is BAD, call STC") == ("SERVICE", "BAD")
    assert has_repeated_emoji("😡😡") and not has_repeated_emoji("😡") and not has_repeated_emoji("!!")


def test_arabizi_gets_its_arabic_reading_and_long_numbers_are_masked():
    assert "الكهرب" in model_input("el kahraba ma2tou3a")
    assert model_input("رقم حسابي ٥٥١٠٢٨٧") == "رقم حسابي 0000"
    assert model_input("باقة ٥٠٠ ميجا") == "باقه 500 ميجا"


def test_empty_none_and_emoji_only():
    assert prepare("").text == "" and prepare(None).text == ""
    assert model_input("🙂") == "🙂"


def test_long_messages_are_cut():
    assert len(model_input("ا ب " * 5000)) <= MAX_CHARS


def test_pure():
    raw = "الانترنت فاصل!!! 😡😡"
    assert prepare(raw) == prepare(raw)
