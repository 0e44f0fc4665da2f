"""End to end in headless Chromium: an angry customer reaches a person and rates them.

Real everything: Redis, the action server, Rasa (relay inside it), the handoff
service, the web chat widget on the demo page ``/`` and the agent console. A
second test drives the REST channel (no browser): agent replies come back with
the customer's next REST reply, and "return to the bot" hands the conversation back.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List

import pytest
import requests
from polling import poll_until

from handoff.auth import Accounts
from handoff.settings import HandoffSettings
from handoff.store import HandoffStore

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ANGRY_OUTAGE = "والله للمرة الثالثة أتصل وما أحد يرد عليّ، النت فاصل من ثلاث أيام!!"
XSS = "<img src=x onerror=alert(1)>"
PASSWORD = "layla-secret-123"
TIMEOUT_MS = 60000

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")


def run(coro_factory: Any) -> Any:
    """Run a store call in its own thread (Playwright's sync API owns this thread's loop)."""

    async def go() -> Any:
        store = HandoffStore(STACK_REDIS[0])
        try:
            return await coro_factory(store)
        finally:
            await store.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result(timeout=60)


STACK_REDIS: List[str] = [""]


def add_agent(stack: Any) -> None:
    STACK_REDIS[0] = stack.redis_url
    run(lambda store: Accounts(store, HandoffSettings(redis_url=stack.redis_url)).add("layla", PASSWORD, "agent", "ليلى"))


def ticket_of(conversation_id: str) -> Dict[str, Any]:
    return run(lambda store: store.open_ticket(conversation_id))


def stored_ticket(ticket_id: str) -> Dict[str, Any]:
    return run(lambda store: store.get_ticket(ticket_id))


def wait_for(condition: Any, timeout: float = 60.0) -> Any:
    return poll_until(condition, timeout, interval=0.2)


def sign_in_console(browser: Any, stack: Any) -> Any:
    from playwright.sync_api import expect

    console = browser.new_page(viewport={"width": 1280, "height": 800})
    console.goto(f"http://localhost:{stack.handoff_port}/console")
    console.fill("#username", "layla")
    console.fill("#password", PASSWORD)
    console.click("#login-form button[type=submit]")
    expect(console.locator(".connection.online")).to_be_visible(timeout=TIMEOUT_MS)
    return console


@needs_chromium
def test_angry_outage_reaches_an_agent_who_replies_resolves_and_is_rated(stack, artifacts):
    from playwright.sync_api import sync_playwright

    add_agent(stack)
    dialogs: List[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            _widget_flow(browser, stack, artifacts, dialogs)
        finally:
            browser.close()
    assert dialogs == []


def _widget_flow(browser: Any, stack: Any, artifacts: Path, dialogs: List[str]) -> None:
    from playwright.sync_api import expect

    console = sign_in_console(browser, stack)  # an agent on duty before the customer writes
    console.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    customer = browser.new_page(viewport={"width": 420, "height": 800})
    customer.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    customer.goto(f"http://localhost:{stack.handoff_port}/")
    if customer.locator(".noor-input").is_hidden():
        customer.click(".noor-launcher")
    expect(customer.locator(".noor-status")).to_have_attribute("data-state", "online", timeout=TIMEOUT_MS)
    customer.fill(".noor-input", ANGRY_OUTAGE)
    customer.click(".noor-send")
    queued_reply = customer.locator(".noor-bot .noor-bubble", has_text="HO-")
    expect(queued_reply).to_have_count(1, timeout=TIMEOUT_MS)
    match = re.search(r"HO-\d+", queued_reply.text_content() or "")
    assert match, queued_reply.text_content()
    ticket_id = match.group(0)
    ticket = stored_ticket(ticket_id)
    assert ticket["priority"] == 1 and "angry" in ticket["reasons"]

    # the ticket appears in the console's live queue; the agent claims it
    item = console.locator(f"#queue li[data-ticket-id='{ticket_id}']")
    expect(item).to_be_visible(timeout=TIMEOUT_MS)
    item.click()
    expect(console.locator("#transcript .bubble.customer .text", has_text="النت فاصل")).to_have_count(1)
    console.click("#claim")
    expect(console.locator(f"#mine li[data-ticket-id='{ticket_id}']")).to_be_visible()

    # customer -> agent, HTML shown literally
    customer.fill(".noor-input", XSS)
    customer.click(".noor-send")
    expect(console.locator("#transcript .bubble.customer .text", has_text=XSS)).to_have_count(1, timeout=TIMEOUT_MS)
    assert console.locator("#transcript img").count() == 0

    # agent -> customer
    console.fill("#reply", "أهلاً، معك ليلى. أعتذر عن الانقطاع، الفريق الفني في الطريق.")
    console.click("#send")
    expect(customer.locator(".noor-agent .noor-bubble", has_text="معك ليلى")).to_have_count(1, timeout=TIMEOUT_MS)
    console.screenshot(path=str(artifacts / "e2e_console.png"), full_page=True)
    customer.screenshot(path=str(artifacts / "e2e_widget_agent.png"), full_page=True)

    # resolve: the bot asks for a rating; the customer gives 5 stars
    console.click("#resolve")
    stars = customer.locator(".noor-rating .noor-star")
    expect(stars.first).to_be_visible(timeout=TIMEOUT_MS)
    bot_lines = customer.locator(".noor-bot .noor-bubble").count()
    stars.nth(4).click()
    # the bot then offers an optional comment; the customer writes one
    expect(customer.locator(".noor-bot .noor-bubble")).to_have_count(bot_lines + 1, timeout=TIMEOUT_MS)
    customer.fill(".noor-input", "ليلى كانت متعاونة جداً")
    customer.click(".noor-send")
    wait_for(lambda: (stored_ticket(ticket_id) or {}).get("rating") == 5)
    customer.screenshot(path=str(artifacts / "e2e_widget_rated.png"), full_page=True)
    final = stored_ticket(ticket_id)
    assert final["state"] == "resolved" and final["agent"] == "layla"
    assert final["rating_comment"] == "ليلى كانت متعاونة جداً"


def test_rest_customer_reaches_an_agent_and_is_returned_to_the_bot(stack):
    add_agent(stack)
    base = f"http://127.0.0.1:{stack.handoff_port}"
    url = f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook"
    sender = f"rest-{uuid.uuid4().hex[:8]}"

    def say(text: str) -> List[Dict[str, Any]]:
        response = requests.post(url, json={"sender": sender, "message": text}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    console = requests.Session()
    csrf = console.post(f"{base}/api/login", json={"username": "layla", "password": PASSWORD}, timeout=10).json()["csrf"]
    headers = {"X-CSRF-Token": csrf}
    run(lambda store: store.heartbeat("layla"))
    first = " ".join(m.get("text", "") for m in say(ANGRY_OUTAGE))
    ticket = ticket_of(sender)
    assert ticket and ticket["ticket_id"] in first
    ticket_id = ticket["ticket_id"]
    assert console.post(f"{base}/api/tickets/{ticket_id}/claim", headers=headers, timeout=10).status_code == 200

    # customer -> agent while paused: stored with the ticket, the bot stays silent
    assert [m for m in say("وينكم؟") if "handoff" not in m.get("custom", {})] == []
    events = console.get(f"{base}/api/tickets/{ticket_id}", timeout=10).json()["events"]
    assert [e["text"] for e in events if e["role"] == "customer"] == ["وينكم؟"]

    # agent -> customer: waits in Redis, arrives with the next REST reply, recorded in the tracker
    reply = "أهلاً، معك ليلى. الفريق الفني في الطريق."
    assert console.post(f"{base}/api/tickets/{ticket_id}/messages", json={"text": reply}, headers=headers, timeout=10).status_code == 201
    wait_for(lambda: any(
        (e.get("metadata") or {}).get("handoff", {}).get("kind") == "agent"
        for e in requests.get(stack.api_url(f"/conversations/{sender}/tracker"), timeout=30).json()["events"]
        if e["event"] == "bot"
    ), timeout=30)
    relayed = say("شكراً")
    assert any(m["text"] == reply and m["custom"]["handoff"]["kind"] == "agent" for m in relayed), relayed

    # return to the bot: the bot says it is back and answers again
    assert console.post(f"{base}/api/tickets/{ticket_id}/return", headers=headers, timeout=10).status_code == 200
    wait_for(lambda: not requests.get(stack.api_url(f"/conversations/{sender}/tracker"), timeout=30).json()["paused"], timeout=30)
    answer = say("متى يفتح فرع العليا؟")
    assert any(m.get("custom", {}).get("handoff", {}).get("kind") == "bot" for m in answer), answer
    assert "العليا" in " ".join(m.get("text", "") for m in answer)
    assert stored_ticket(ticket_id)["state"] == "bot"


def test_a_callback_claimed_by_an_agent_is_answered_by_the_agent_only(stack):
    # nobody on duty: a callback ticket, and the bot keeps serving meanwhile
    add_agent(stack)
    run(lambda store: store.redis.delete("handoff:online"))
    base = f"http://127.0.0.1:{stack.handoff_port}"
    url = f"http://127.0.0.1:{stack.rasa_port}/webhooks/rest/webhook"
    sender = f"cb-{uuid.uuid4().hex[:8]}"

    def say(text: str) -> List[Dict[str, Any]]:
        response = requests.post(url, json={"sender": sender, "message": text}, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def paused() -> bool:
        return bool(requests.get(stack.api_url(f"/conversations/{sender}/tracker"), timeout=30).json()["paused"])

    say(ANGRY_OUTAGE)
    ticket = ticket_of(sender)
    assert ticket and not paused()
    console = requests.Session()
    csrf = console.post(f"{base}/api/login", json={"username": "layla", "password": PASSWORD}, timeout=10).json()["csrf"]
    assert console.post(f"{base}/api/tickets/{ticket['ticket_id']}/claim", headers={"X-CSRF-Token": csrf}, timeout=10).status_code == 200
    wait_for(paused, timeout=30)
    # the customer thanks the agent: only relayed handoff messages come back, no bot answer
    replies = say("شكرا يا ليلى، متى يرجع النت؟")
    assert all("handoff" in m.get("custom", {}) for m in replies), replies
    events = console.get(f"{base}/api/tickets/{ticket['ticket_id']}", timeout=10).json()["events"]
    assert "شكرا يا ليلى، متى يرجع النت؟" in [e["text"] for e in events if e["role"] == "customer"]
