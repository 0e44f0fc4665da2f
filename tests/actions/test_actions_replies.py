"""The reply catalogue and the no-repeat picker."""

from __future__ import annotations

import random

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge_base import get_knowledge_base
from actions.replies import CatalogueError, ReplyCatalogue, pick_variant, recent_bot_texts

# Every reply the actions use; FAQ replies are checked against the domain below.
USED_KEYS = {
    "ask_account_number", "ask_service_type", "ask_district", "ask_date", "ask_ticket_number",
    "invalid_account_number", "account_not_found", "invalid_service_type", "invalid_date",
    "date_in_past", "date_closed_day", "invalid_ticket_number", "ticket_not_found",
    "bill_summary", "bill_nothing_due", "outage_known", "outage_reported", "outage_already_reported",
    "appointment_booked", "appointment_rescheduled", "appointment_rescheduled_new", "ticket_status",
    "branch_hours", "branch_location", "branch_not_found",
    "fallback_rephrase", "fallback_offer_human", "system_unavailable",
    "handoff_queued", "handoff_callback_busy", "handoff_callback_off_hours", "handoff_offline", "handoff_outage_lead", "handoff_safety_lead", "handoff_returned",
    "handoff_resolved", "ask_rating", "rating_invalid", "ask_rating_comment", "rating_thanks",
    "rating_thanks_low", "rating_declined", "rating_not_stored",
}
FAQ_INTENTS = [
    "opening_hours", "branch_locations", "contact_channels", "payment_methods", "payment_not_reflected",
    "refund_request", "meter_reading", "change_plan", "new_connection", "move_service",
    "update_account_details", "app_login_help", "slow_internet", "complaint",
]


@pytest.mark.parametrize("seed", range(20))
def test_picker_never_repeats_the_latest_message(seed: int) -> None:
    variants = ["أ", "ب", "ج"]
    rng = random.Random(seed)
    for latest in variants:
        assert pick_variant(variants, [latest], rng) != latest


def test_picker_avoids_older_recent_messages_when_it_can() -> None:
    rng = random.Random(1)
    picks = {pick_variant(["أ", "ب", "ج"], ["أ", "ب"], rng) for _ in range(50)}
    assert picks == {"ج"}


def test_picker_falls_back_to_not_repeating_only_the_latest() -> None:
    rng = random.Random(2)
    # every variant was said recently: the oldest may come back, the latest may not
    picks = {pick_variant(["أ", "ب"], ["ب", "أ"], rng) for _ in range(50)}
    assert picks == {"أ"}


def test_picker_with_a_single_variant_still_answers() -> None:
    assert pick_variant(["وحيد"], ["وحيد"]) == "وحيد"


def test_picker_uses_every_variant_when_nothing_was_said() -> None:
    rng = random.Random(3)
    assert {pick_variant(["أ", "ب", "ج"], [], rng) for _ in range(100)} == {"أ", "ب", "ج"}


def test_recent_bot_texts_newest_first() -> None:
    events = [
        {"event": "bot", "text": "أول"},
        {"event": "user", "text": "سؤال"},
        {"event": "bot", "text": "ثاني"},
        {"event": "action", "name": "action_listen"},
        {"event": "bot", "text": "ثالث"},
        {"event": "bot", "text": None},
    ]
    assert recent_bot_texts(events) == ["ثالث", "ثاني", "أول"]
    assert recent_bot_texts(events, limit=1) == ["ثالث"]


def test_say_differs_from_the_assistants_last_message(load_tracker) -> None:
    kb = get_knowledge_base()
    tracker = load_tracker("bill_conversation.json")
    tracker.events.append({"event": "bot", "text": kb.replies.render("ask_district", kb.context()).text})
    last = tracker.events[-1]["text"]
    for _ in range(30):
        dispatcher = CollectingDispatcher()
        sent = kb.say(dispatcher, tracker, "ask_district")
        assert sent != last
        assert dispatcher.messages[0]["text"] == sent


def test_every_reply_has_two_or_more_variants() -> None:
    catalogue = get_knowledge_base().replies
    thin = [key for key in catalogue.keys() if len(catalogue.variants(key)) < 2]
    assert thin == []


def test_catalogue_has_every_reply_the_actions_use() -> None:
    catalogue = get_knowledge_base().replies
    missing = sorted(k for k in USED_KEYS | {f"faq_{i}" for i in FAQ_INTENTS} if k not in catalogue)
    assert missing == []


def test_faq_intents_exist_in_the_domain(domain) -> None:
    assert set(FAQ_INTENTS) <= set(domain["intents"])


@pytest.mark.parametrize("intent", FAQ_INTENTS)
def test_every_faq_variant_fills_from_the_knowledge_base(intent: str) -> None:
    kb = get_knowledge_base()
    values = kb.faq_context(intent)
    for variant in kb.replies.variants(f"faq_{intent}"):
        text = variant.format_map(values)  # raises KeyError on an unknown placeholder
        assert "{" not in text and text.strip()


def test_service_buttons_use_inform_payloads() -> None:
    buttons = get_knowledge_base().replies.buttons("ask_service_type")
    assert [b["payload"] for b in buttons] == [
        '/inform{"service_type":"electricity"}',
        '/inform{"service_type":"water"}',
        '/inform{"service_type":"internet"}',
    ]


def test_human_offer_buttons_are_yes_and_no() -> None:
    buttons = get_knowledge_base().replies.buttons("fallback_offer_human")
    assert [(b["title"], b["payload"]) for b in buttons] == [("نعم", "/affirm"), ("لا", "/deny")]


def test_missing_placeholder_fails_loudly() -> None:
    catalogue = ReplyCatalogue({"replies": {"x": {"variants": ["رقم {ticket}", "الطلب {ticket}"]}}})
    with pytest.raises(CatalogueError, match="ticket"):
        catalogue.render("x", {})
    assert catalogue.render("x", {"ticket": "T-1"}).text in {"رقم T-1", "الطلب T-1"}


def test_unknown_reply_fails_loudly() -> None:
    with pytest.raises(CatalogueError):
        get_knowledge_base().replies.variants("no_such_reply")


def test_reply_without_variants_is_rejected() -> None:
    with pytest.raises(CatalogueError):
        ReplyCatalogue({"replies": {"x": {"variants": []}}})
