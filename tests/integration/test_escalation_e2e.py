"""Escalation and empathy through the running assistant (real NLU and signals)."""

import uuid

import requests

from tests.integration.test_rest_webhook import send, texts

APOLOGY_WORDS = ("أعتذر", "آسف", "نعتذر", "سامحنا", "حقك علينا", "بعتذر")


def stored_events(stack, sender):
    tracker = requests.get(stack.api_url(f"/conversations/{sender}/tracker"), timeout=60).json()
    return tracker["events"]


def open_handoff_ticket(stack, sender):
    """The conversation's open ticket in the handoff service (internal API, service token)."""
    response = requests.get(
        f"http://127.0.0.1:{stack.handoff_port}/api/internal/conversations/{sender}",
        headers={"Authorization": f"Bearer {stack.service_token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_angry_customer_without_internet_is_handed_over_with_both_reasons(stack):
    sender = f"angry-{uuid.uuid4().hex[:6]}"
    reply = texts(send(stack, "والله للمرة الثالثة أتصل وما أحد يرد عليّ، النت فاصل من ثلاث أيام!!", sender))
    ticket = open_handoff_ticket(stack, sender)
    assert ticket["reasons"] == ["essential_outage", "angry"]
    assert ticket["priority"] == 1  # urgent
    assert ticket["slots"]["service_type"] == "internet"
    assert ticket["ticket_id"] in reply
    assert any(word in reply for word in APOLOGY_WORDS)  # angry: an apology that takes ownership
    user = [e for e in stored_events(stack, sender) if e["event"] == "user"][-1]
    assert user["parse_data"]["signals"]["frustration"]["level"] == "angry"
    assert user["parse_data"]["signals"]["urgency"]["service"] == "internet"


def test_calm_branch_question_is_answered_without_an_apology(stack):
    reply = texts(send(stack, "متى يفتح فرع العليا؟"))
    assert "العليا" in reply
    assert not any(word in reply for word in APOLOGY_WORDS)


def test_signals_reach_the_parse_output(stack):
    parsed = requests.post(
        stack.api_url("/model/parse"), json={"text": "ما في مي من امبارح والولاد بالبيت"}, timeout=60
    ).json()
    signals = parsed["signals"]
    assert set(signals) >= {"frustration", "urgency", "dialect"}
    assert 0.0 <= signals["frustration"]["score"] <= 1.0
    assert signals["urgency"]["service"] == "water"


def test_running_frustration_is_kept_in_slots(stack):
    sender = f"running-{uuid.uuid4().hex[:6]}"
    send(stack, "السلام عليكم، كم فاتورتي هالشهر؟", sender)
    tracker = requests.get(stack.api_url(f"/conversations/{sender}/tracker"), timeout=60).json()
    assert len(tracker["slots"]["frustration_scores"]) == 1
    assert 0.0 <= tracker["slots"]["conversation_frustration"] <= 1.0
