"""Messages in a language the assistant does not read."""

import pytest

from bot.nlu.languages import foreign_language


@pytest.mark.parametrize(
    "text, language",
    [
        ("bhai mera bijli ka meter kharab hai", "urdu_hindi"),
        ("aap samajh rahe ho? mujhe madad chahiye", "urdu_hindi"),
        ("میرا بجلی کا میٹر خراب ہے", "urdu_hindi"),  # Urdu letters Arabic does not use
        ("मेरा बिजली का मीटर खराब है", "other_script"),
    ],
)
def test_urdu_and_hindi_in_any_script_are_recognised(text, language):
    assert foreign_language(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "el kahraba ma2tou3a", "hay el fatura kam?", "wala shi", "mara tanya el net", "bil bet ma fi kahraba",
        "كيف حالك", "ھلا والله",  # ھ typed for ه on a Persian keyboard
        "bonjour la facture", "I need help with my bill", "😡😡", "4471203",
        "bhai",  # one word may be a name or a borrowing
    ],
)
def test_arabic_arabizi_english_and_french_are_not_foreign(text):
    assert foreign_language(text) is None
