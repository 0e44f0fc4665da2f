"""The bot's side of a handoff through the running assistant: queue, pause, return, rating.

Real Rasa, action server, handoff service and Redis. The colleague's side (console,
relay) is exercised by the handoff tests; here Rasa's HTTP API plays the relay's
part: it appends ``ConversationResumed`` and triggers the ``EXTERNAL_`` intent, as
handoff/PROTOCOL.md describes.
"""

import asyncio
import uuid

import requests

from handoff.store import HandoffStore
from tests.integration.test_escalation_e2e import open_handoff_ticket
from tests.integration.test_rest_webhook import send, texts

TIMEOUT = 60


def rasa(stack, path):
    """A Rasa HTTP API URL with the stack's token (the API needs ``?token=``)."""
    return stack.api_url(path)


def agent_on_duty(stack):
    async def beat():
        store = HandoffStore(stack.redis_url)
        await store.heartbeat("sara")
        await store.close()

    asyncio.run(beat())


def give_back(stack, sender, intent, ticket_id):
    """What the relay does when the colleague returns or resolves the conversation."""
    response = requests.post(rasa(stack, f"/conversations/{sender}/tracker/events"), json=[{"event": "resume"}], timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    response = requests.post(
        rasa(stack, f"/conversations/{sender}/trigger_intent"),
        json={"name": intent, "entities": {"handoff_ticket_id": ticket_id}},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def tracker(stack, sender):
    return requests.get(rasa(stack, f"/conversations/{sender}/tracker"), timeout=TIMEOUT).json()


def test_handoff_pauses_then_the_resolved_conversation_is_rated(stack):
    sender = f"rate-{uuid.uuid4().hex[:6]}"
    agent_on_duty(stack)
    reply = texts(send(stack, "ابي اكلم موظف لو سمحت", sender))
    ticket = open_handoff_ticket(stack, sender)
    assert ticket["ticket_id"] in reply and "قائمة الانتظار" in reply
    assert tracker(stack, sender)["paused"] is True

    messages = give_back(stack, sender, "EXTERNAL_handoff_resolved", ticket["ticket_id"])
    assert len(messages) == 2 and "1" in messages[1]["text"] and "5" in messages[1]["text"]
    assert len(messages[1]["buttons"]) == 5

    asked_comment = [m for m in send(stack, "٤", sender) if m.get("buttons")]  # Arabic-Indic four
    assert asked_comment and asked_comment[-1]["buttons"][0]["payload"] == "/deny"
    thanks = texts(send(stack, "الزميلة كانت متعاونة", sender))
    assert thanks
    rated = open_handoff_ticket(stack, sender)
    assert (rated["rating"], rated["rating_comment"]) == (4, "الزميلة كانت متعاونة")
    state = tracker(stack, sender)
    assert state["paused"] is False and state["active_loop"] in ({}, None, {"name": None})


def test_returned_conversation_says_the_bot_is_back_and_answers_again(stack):
    sender = f"back-{uuid.uuid4().hex[:6]}"
    agent_on_duty(stack)
    send(stack, "ابي اكلم موظف لو سمحت", sender)
    ticket = open_handoff_ticket(stack, sender)
    (back,) = give_back(stack, sender, "EXTERNAL_handoff_returned", ticket["ticket_id"])
    assert "أعاد" in back["text"]
    assert "العليا" in texts(send(stack, "متى يفتح فرع العليا؟", sender))  # the bot answers again
