"""Follow-up questions read in the context of the answer before them (bot/followups.py)."""

import pytest

from bot.followups import FOLLOW_UP, follows_up, understood_intents


@pytest.mark.parametrize(
    "text",
    [
        "و الـ email؟",
        "نقدر نديرها من التطبيق؟",
        "بقالي اسبوع ونص، هو ده طبيعي؟",
        "يعني ممكن تاخد كام يوم كمان",
        "ok bs leish 3alya?",
        "and on fridays?",
        "طب وفي السبت متى تفتحون",
        "ما هي المستندات المطلوبة",  # no question mark, "ما هي" asks
        "طب استنى قد ايه؟",
    ],
)
def test_short_questions_follow_up(text: str) -> None:
    assert follows_up(text)


@pytest.mark.parametrize(
    "text",
    [
        "صحيت خويا",  # thanks, not a question
        "لا",
        "شكرا؟",  # a bare thanks, whatever the punctuation
        "الكهربا مقطوعة؟",  # an outage is never a follow-up: the escalation rules read it
        "ابي موظف؟",
        "والله لأنشرها بتويتر واسوي منشن لكم ولوزارة التجارة",
        "من 300 ل 1000",
        "ماهو شغال",  # Gulf "it is not working", no question
        "هذا نفس الكلام اللي قلته قبل، ابي اعرف متى بالضبط!",  # patience running out
        "عندي سؤال طويل جدا عن موضوع ثاني خالص ما له علاقة باللي قلته انت قبل شوي يا ريت تساعدني فيه لو سمحت؟",
    ],
)
def test_other_messages_do_not(text: str) -> None:
    assert not follows_up(text)


def test_a_fallback_answered_with_an_faq_reply_was_understood() -> None:
    steps = [
        ("user", "contact_channels"), ("action", "action_answer_faq"), ("action", "action_listen"),
        ("user", "nlu_fallback"), ("action", "action_answer_faq"), ("action", "action_listen"),
        ("user", "nlu_fallback"), ("action", "action_fallback"), ("action", "action_listen"),
        ("user", "nlu_fallback"),
    ]
    assert understood_intents(steps) == ["contact_channels", FOLLOW_UP, "nlu_fallback", "nlu_fallback"]


def test_a_day_that_booked_or_moved_the_visit_was_understood() -> None:
    """"ay sorry again, Thursday na lang po" (nlu_fallback) moved the visit: the question
    after it ("what time will the technician come po?") is not the second misunderstanding."""
    steps = [
        ("user", "reschedule_appointment"), ("action", "appointment_form"), ("action", "action_reschedule_appointment"),
        ("action", "action_listen"),
        ("user", "nlu_fallback"), ("action", "appointment_form"), ("action", "action_reschedule_appointment"),
        ("action", "utter_anything_else"), ("action", "action_listen"),
        ("user", "nlu_fallback"),
    ]
    assert understood_intents(steps) == ["reschedule_appointment", FOLLOW_UP, "nlu_fallback"]
