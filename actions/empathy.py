"""How upset the customer is, which dialect to mirror, and the words for it.

Reads the signals the Rasa server put on the latest message
(``tracker.latest_message["signals"]``, see bot/nlu/components.py) and the running
estimate EscalationPolicy keeps in the ``conversation_frustration`` slot.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import bot.nlu.cues as cues

# Dialects with written empathy variants; every other dialect is answered in MSA.
MIRRORED_DIALECTS = ("gulf", "egyptian", "levantine")
# Below this confidence the dialect guess is not trusted: MSA is never wrong.
MIN_DIALECT_SCORE = 0.5
# Running frustration at which an otherwise calm message is still acknowledged.
ANNOYED_RUNNING = 0.35
# An acknowledgement of annoyance to a calm customer rings false, and a polite
# problem report ("I paid yesterday and it is not showing") often reads as
# "annoyed" by a nose: acknowledge only when the calibrated P(calm) is below this.
# On the held-out signals file 0.3 halves the calm customers acknowledged (10 % to
# 2 %) for a drop in annoyed ones acknowledged from 79 % to 63 %.
ACKNOWLEDGE_BELOW_CALM = 0.3
# An apology that takes ownership needs a clearly angry message (frustration score,
# P(annoyed)/2 + P(angry)); "angry" by a nose is treated as annoyed.
APOLOGISE_FROM_SCORE = 0.6

LEVELS = ("calm", "annoyed", "angry")
# Requests with no problem in them: moving house, a plan change, a new connection, where
# a branch is. The signals model reads some of them as upset, code-switched ones most
# ("I'm moving house next month، كيف انقل الخدمة" angry 0.78); their mood is taken from
# the model only when the words show it too (:func:`_words_show_upset`).
ROUTINE_INTENTS = frozenset({
    "change_plan", "move_service", "new_connection", "update_account_details", "payment_methods",
    "opening_hours", "branch_locations", "contact_channels", "book_appointment",
})
_UPSET_MARKS = ("!", "؟؟", "??", "😡", "🤬", "😤", "😠", "💢")


def frustration_level(latest_message: Mapping[str, Any], running: Optional[float]) -> str:
    """The customer's level: this message's, raised to annoyed when the
    conversation as a whole has been frustrating; calm for a short reply."""
    signals = latest_message.get("signals") or {}
    frustration = signals.get("frustration") or {}
    level = frustration.get("level") or "calm"
    if cues.read(str(latest_message.get("text") or "")).short_reply:
        # "لا", "شكرا", an account number, a code: no mood to answer to, nor one to
        # carry over ("أفهم أن الأمر أزعجك" before the bills the code just unlocked)
        return "calm"
    if level not in LEVELS:
        level = "calm"
    intent = (latest_message.get("intent") or {}).get("name")
    if level != "calm" and intent in ROUTINE_INTENTS and not _words_show_upset(latest_message):
        # the model's reading alone, which also raised the running estimate it would
        # otherwise be acknowledged by
        return "calm"
    score = frustration.get("score")
    if level == "angry" and isinstance(score, (int, float)) and score < APOLOGISE_FROM_SCORE:
        level = "annoyed"
    calm = (frustration.get("probabilities") or {}).get("calm")
    if level == "annoyed" and isinstance(calm, (int, float)) and calm >= ACKNOWLEDGE_BELOW_CALM:
        level = "calm"
    if level == "calm" and running is not None and running >= ANNOYED_RUNNING:
        return "annoyed"
    return level


def customer_dialect(latest_message: Mapping[str, Any]) -> str:
    """The dialect to mirror: a confidently recognised mirrored dialect, else msa."""
    dialect = (latest_message.get("signals") or {}).get("dialect") or {}
    label, score = dialect.get("label"), float(dialect.get("score") or 0.0)
    return label if label in MIRRORED_DIALECTS and score >= MIN_DIALECT_SCORE else "msa"


def empathy_key(level: str, dialect: str) -> Optional[str]:
    """The reply-catalogue key of the lead sentence, None when none is needed."""
    if level == "annoyed":
        return f"empathy_acknowledge_{dialect}"
    if level == "angry":
        return f"empathy_apologise_{dialect}"
    return None


def _words_show_upset(latest_message: Mapping[str, Any]) -> bool:
    """Whether the words themselves show upset: exasperation, an insult, shouting,
    "!" or "؟؟", an angry emoji, or letters stretched ("ليييش")."""
    text = str(latest_message.get("text") or "")
    reading = cues.read(text)
    stretched = bool((latest_message.get("arabic") or {}).get("elongated"))
    return bool(reading.exasperation or reading.insult or reading.shouting or stretched or any(mark in text for mark in _UPSET_MARKS))
