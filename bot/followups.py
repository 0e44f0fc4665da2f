"""Follow-up questions: "and the e-mail?" right after the contact channels were given.

Pure module. Customers ask about the answer they just got in words the intent
classifier cannot place on their own ("نقدر نديرها من التطبيق؟" after the meter
reading answer, "بقالي اسبوع ونص، هو ده طبيعي؟" after the refund answer, "و الـ
email؟" after the contact channels). Read alone, each is a misunderstanding, and two
of them in a row sent a calm customer to a person. Read after the answer, each is a
question about its topic: the assistant answers that topic again (in other words,
saying so) and the message does not count as misunderstood.

The Rasa server's ``EscalationPolicy`` decides (and records the topic in the slot
``faq_topic``); ``action_answer_faq`` answers it; both count misunderstandings with
:func:`understood_intents`, so they always agree.
"""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Tuple

from bot.nlu import cues

FALLBACK_INTENT = "nlu_fallback"
FAQ_ACTION = "action_answer_faq"
# Answers the policy gives from the message's words when the classifier could not
# place it: the FAQ topic of a follow-up, the planned works a customer asks about, and
# a visit booked or moved on a day said with a few words around it ("Tuesday po",
# "ay sorry again, Thursday na lang po").
PLANNED_WORK_ACTION = "action_planned_work"
ANSWERED_IN_CONTEXT = (FAQ_ACTION, PLANNED_WORK_ACTION, "action_book_appointment", "action_reschedule_appointment")
# Intents of social words only: a question read as one of them ("طيب بس متى يرجع؟ ما
# فهمت" as thank 0.63) is read as a follow-up, as a fallback is.
SOCIAL_INTENTS = ("thank", "greet", "goodbye")


def may_follow_up(intent: Optional[str]) -> bool:
    """Whether a message of this intent may be a question about the answer before it:
    one not understood, or one read as social words only."""
    return intent == FALLBACK_INTENT or intent in SOCIAL_INTENTS


# The slot holding the topic a follow-up is answered about (set by the policy).
FAQ_TOPIC_SLOT = "faq_topic"
# What a message the assistant answered as a follow-up counts as in place of a fallback.
FOLLOW_UP = "follow_up"
# Answers whose "follow-ups" are more venting than questions: a complaint's answer
# (where to file it) is not given again.
TOPICS_NOT_FOLLOWED = ("complaint",)
# A follow-up is a short question; a long message is a new request the assistant did
# not understand.
MAX_TOKENS = 15

# (kind, name): ("user", intent) or ("action", action name), oldest first.
Step = Tuple[str, Optional[str]]


# The intent of a bare answer ("4471203", "حي النرجس"): without any of its entities it
# answers nothing ("ؤرلاىةو ٧٧ ككك" read as inform 0.94).
INFORM_INTENT = "inform"


def step_intent(intent: Optional[str], entities: Sequence[object], text: Optional[str] = None) -> Optional[str]:
    """A customer's message as the misunderstanding count reads it: a bare answer with
    nothing in it (``inform`` without an entity) was not understood; one with a code in
    it (``طيب الكود ٥٥٨٢٠١``: a number the extractors leave alone) was."""
    if intent == INFORM_INTENT and not entities and not carries_code(text):
        return FALLBACK_INTENT
    return intent


# A one-time code typed outside a form: four to eight digits in any script.
_CODE = re.compile(r"(?<!\d)\d{4,8}(?!\d)")


def carries_code(text: Optional[str]) -> bool:
    """Whether a message carries a code-like number (4 to 8 digits, any digit script)."""
    return bool(text) and _CODE.search(str(text)) is not None


def understood_intents(steps: Sequence[Step]) -> List[Optional[str]]:
    """The customer's intents in order, a fallback answered with an FAQ reply (a
    follow-up) or with the planned works replaced by :data:`FOLLOW_UP`: it was
    understood in its context."""
    intents: List[Optional[str]] = []
    answered = False
    for kind, name in steps:
        if kind == "user":
            intents.append(name)
            answered = False
        elif kind == "action" and name in ANSWERED_IN_CONTEXT and intents and intents[-1] == FALLBACK_INTENT and not answered:
            intents[-1] = FOLLOW_UP
            answered = True
    return intents


def follows_up(text: str) -> bool:
    """Whether a message reads as a short question about what was just said.

    A question mark or a question word, at most :data:`MAX_TOKENS` words, and nothing
    the escalation rules or the forms act on: no outage reading, no threat, no request
    for a person, no words of patience running out, not a bare yes / no / thanks.
    """
    reading = cues.read(text)
    if reading.short_reply or not reading.tokens or len(reading.tokens) > MAX_TOKENS:
        return False
    # "that's what you said before, I want to know exactly when!" is no question to
    # answer with the same words again
    if reading.outage_cue or reading.threat or reading.person_request or reading.exasperation:
        return False
    return "?" in text or "؟" in text or reading.question is not None
