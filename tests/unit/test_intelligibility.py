"""The character language model tells mashed keys from what customers write."""

from __future__ import annotations

from bot.nlu.intelligibility import CharLanguageModel, canonical, choose_threshold

# what a small assistant's examples look like: several dialects, Arabizi, English
EXAMPLES = [
    "الكهرباء مقطوعة عندنا من الصبح", "الكهربا قاطعة في حي النرجس", "ما في مي بالبيت من امبارح",
    "النت فاصل من امس", "النت بطيء جدا اليوم", "كم فاتورتي هالشهر", "ابغى اعرف كم علي فاتورة",
    "عايز ادفع الفاتورة ازاي", "بدي احكي مع موظف", "ابي اكلم احد من خدمة العملاء", "شكرا جزيلا",
    "يعطيك العافية", "مرحبا", "السلام عليكم", "وين اقرب فرع", "متى تفتحون", "الضو مقطوع عندنا",
    "el kahraba ma2tou3a", "el net mesh shaghal", "fatourti kam", "ana 3ayez a5od ma3ad", "power is out",
    "my bill is too high", "how do I pay", "واش كاين الضو", "بغيت نخلص الفاتورة", "الموية مقطوعة",
    "حجزت موعد للفني بكرة", "غيرت رقم الجوال", "ما قدرت ادخل التطبيق", "نسيت كلمة السر",
] * 2


def test_mashed_keys_score_far_above_anything_real() -> None:
    model = CharLanguageModel.fit(EXAMPLES)
    model.threshold = choose_threshold(EXAMPLES)
    for mashed in ("ججحخهعغفق", "ضصثقفغعهخحج", "asdkjh qwe"):
        assert model.unintelligible(mashed), mashed
    # unseen but real: new words, typos, another dialect
    for real in ("الكهرباء طافية عندنا", "wesh kayn chi mochkil f net", "ليش الفاتوره غاليه"):
        assert not model.unintelligible(real), real


def test_short_messages_and_known_words_are_never_judged() -> None:
    model = CharLanguageModel.fit(EXAMPLES)
    model.threshold = 0.0  # anything judged would be flagged
    for text in ("لا", "ok", "اي", "٤٤٧١٢٠٣", "😀", "؟؟", "T-482913"):
        assert model.judged(text) is None and not model.unintelligible(text), text
    # one known word (three letters or more) makes a message language
    assert model.judged("ججحخ الفاتورة") is None


def test_no_threshold_flags_nothing_and_the_model_survives_a_round_trip() -> None:
    model = CharLanguageModel.fit(EXAMPLES)
    assert not model.unintelligible("ججحخهعغفق")
    model.threshold = 6.5
    again = CharLanguageModel.from_dict(model.to_dict())
    assert again.threshold == 6.5 and again.vocabulary == model.vocabulary
    for text in ("ججحخهعغفق", "كم فاتورتي"):
        assert again.surprisal(canonical(text)) == model.surprisal(canonical(text))


def test_the_threshold_keeps_every_example_intelligible_out_of_fold() -> None:
    threshold = choose_threshold(EXAMPLES, margin_bits=0.0)
    for fold in range(5):
        model = CharLanguageModel.fit(t for i, t in enumerate(EXAMPLES) if i % 5 != fold)
        model.threshold = threshold
        assert not any(model.unintelligible(t) for i, t in enumerate(EXAMPLES) if i % 5 == fold)


def test_keys_held_down_are_unintelligible_but_laughter_and_hesitation_are_not() -> None:
    from bot.nlu.intelligibility import held_keys

    model = CharLanguageModel.fit(EXAMPLES)
    model.threshold = choose_threshold(EXAMPLES)
    for mashed in ("ززز ططط ممم", "ددددددد", "ؤؤؤؤ ٧٧", "jjjjjkkkk"):
        assert held_keys(mashed) and model.unintelligible(mashed), mashed
    for real in ("ههههههه", "ممم", "خخخخ ههههه", "hhhhh", "ككك", "لالالا", "ok", "الكهرباااء مقطوعة", "هههههخخخخ", "nooo"):
        assert not held_keys(real), real


def test_digits_and_signs_do_not_dilute_a_mash() -> None:
    model = CharLanguageModel.fit(EXAMPLES)
    # scored on its letters only: the digits and signs around them change nothing
    assert model.judged("ؤرلاىةو ٧٧ ككك!!") == model.judged("ؤرلاىةو ككك")
    assert model.judged("ؤرلاىةو ٧٧ ككك") is not None
    # digits inside an Arabizi word are letters of it, not a number standing alone
    assert model.judged("3aychek mzyan") != model.judged("aychek mzyan")


def test_words_of_the_shipped_lexicons_are_language() -> None:
    from bot.nlu.intelligibility import lexicon_words

    known = lexicon_words()
    assert {"tomorrow", "النرجس", "طفشت"} <= known  # a date word, a district, a cue
    model = CharLanguageModel.fit(EXAMPLES)
    model.threshold = 0.0  # anything judged would be flagged
    assert model.unintelligible("tomorrow")
    model.vocabulary.update(known)
    assert not model.unintelligible("tomorrow")


def test_pictures_alone_say_nothing_but_calm_ones_answer_and_punctuation_is_left_to_the_models() -> None:
    from bot.nlu.intelligibility import pictures_only

    model = CharLanguageModel.fit(EXAMPLES)
    model.threshold = choose_threshold(EXAMPLES)
    for pictures in ("🐸🌵🎈", "🫠🙃🍉🍉", "😂", "😡😡"):
        assert pictures_only(pictures) and model.unintelligible(pictures), pictures
    for other in ("👍", "🙏🙏", "❤️", "👍🏻", "؟؟", "...", "ok 😅", "الضو مقطوع 😡"):
        assert not pictures_only(other), other
