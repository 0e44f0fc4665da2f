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
        ("Magkano po ang bill ko ngayong buwan?", "tagalog"),
        ("Pasensya na po, hindi po ako marunong mag-Arabic", "tagalog"),
        ("saya mau bayar tagihan listrik", "indonesian_malay"),
        ("എന്റെ കറന്റ് പോയി", "other_script"),  # Malayalam
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
        "sana gdida sa3ida", "I ate and the power is out", "my bill po",
        "Thursday na lang po", "ok naman po thanks talaga",  # Filipino English keeps its particles
    ],
)
def test_arabic_arabizi_english_and_french_are_not_foreign(text):
    assert foreign_language(text) is None
