"""Whole conversations played against the running assistant (the make test subset of
``make eval-conversations``; the full set and its report are in the README)."""

import time
import uuid

import requests

from scripts import eval_conversations as ev
from tests.integration.test_escalation_e2e import stored_events
from tests.integration.test_rest_webhook import send, texts

SUBSET = 48
GOODBYES = ("مع السلامة", "يوماً سعيداً", "في أمان الله", "سعدنا بخدمتك")


def test_the_closing_no_ends_with_a_warm_goodbye_and_no_ticket(stack):
    sender = f"closing-{uuid.uuid4().hex[:6]}"
    target = ev.Target(f"http://127.0.0.1:{stack.rasa_port}", stack.rasa_token, codes_url=stack.fake_whatsapp_url)
    send(stack, "كم فاتورتي", sender)
    since = time.time()
    send(stack, "4471203", sender)
    # the customer reads the one-time code on the phone on file and types it
    assert ev.answer_code(target, sender, since, lambda code: send(stack, code, sender))
    welcome = texts(send(stack, "شكرا", sender))
    assert "شيء آخر" in welcome or "أي شيء آخر" in welcome or welcome  # the assistant may ask
    goodbye = texts(send(stack, "لا", sender))
    assert any(word in goodbye for word in GOODBYES), goodbye
    events = stored_events(stack, sender)
    assert not [e for e in events if e["event"] == "action" and e["name"] == "action_handoff"]
    ticket = requests.get(
        f"http://127.0.0.1:{stack.handoff_port}/api/internal/conversations/{sender}",
        headers={"Authorization": f"Bearer {stack.service_token}"},
        timeout=30,
    )
    assert ticket.status_code == 404  # no open ticket


def test_a_levantine_request_for_a_person_after_a_no_reaches_a_person(stack):
    sender = f"lev-{uuid.uuid4().hex[:6]}"
    send(stack, "شكرا", sender)
    send(stack, "لا", sender)
    send(stack, "بدي احكي مع حدا من الموظفين", sender)
    events = stored_events(stack, sender)
    assert [e for e in events if e["event"] == "action" and e["name"] == "action_handoff"]


def test_the_conversation_subset(stack, artifacts):
    conversations = ev.subset(ev.load_conversations(), SUBSET)
    target = ev.Target(f"http://127.0.0.1:{stack.rasa_port}", stack.rasa_token, codes_url=stack.fake_whatsapp_url)
    outcomes = ev.run(conversations, target, workers=3)
    summary = ev.report(outcomes)
    (artifacts / "conversations_subset.md").write_text(ev.markdown(summary, f"{len(outcomes)} conversations"), encoding="utf-8")
    total = summary["total"]
    failing = {o["id"]: (o["verdict"], o["reasons"], o["evidence"]) for o in summary["failing"]}
    assert total["errors"] == 0, failing
    # no ordinary conversation ends in an *urgent* ticket (an outage or anger read into a calm reply)
    urgent = [o.id for o in outcomes if o.verdict == "needless" and {"essential_outage", "angry"} & set(o.reasons)]
    assert not urgent, failing
    assert total["needless_rate"] <= 0.10, failing
    assert total["reached_rate"] >= 0.80, failing
    assert total["apology_to_calm"] <= 3, failing


def test_a_follow_up_question_is_answered_about_its_topic_and_two_are_no_misunderstanding(stack):
    """"و الـ email؟" after the contact channels (bot/followups.py), through the real stack."""
    sender = f"follow-{uuid.uuid4().hex[:6]}"
    send(stack, "شو رقم خدمة العملاء عندكم؟", sender)
    first = texts(send(stack, "و الـ email؟", sender))
    assert "care@" in first, first  # the contact answer again, with the e-mail in it
    send(stack, "طب والواتساب كمان؟", sender)
    events = stored_events(stack, sender)
    assert not [e for e in events if e["event"] == "action" and e["name"] == "action_handoff"]
    answers = [e for e in events if e["event"] == "action" and e["name"] == "action_answer_faq"]
    assert len(answers) == 3, [e.get("name") for e in events if e["event"] == "action"]
