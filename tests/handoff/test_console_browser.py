"""The agent console in real headless Chromium against the real service and Redis.

Covers sign-in, the live queue, claiming, replying, live customer messages, a
reload showing the whole conversation once, and customer HTML shown as text.
The full chain with Rasa and the web chat widget is in
``tests/integration/test_handoff_e2e.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from handoff_helpers import ARTIFACTS, PASSWORD, add_account, internal, ticket_payload
from test_relay import Channel, paused_tracker, rasa_stores_app, start_relay, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
XSS = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed")


def test_console_claim_reply_live_updates_and_literal_html(service):
    from playwright.sync_api import expect, sync_playwright

    app = rasa_stores_app(service.settings.redis_url)
    channel = Channel()
    relay = start_relay(service, app, channel)
    add_account(service, "amal", name="أمل")
    paused_tracker(app, "web-x1")
    payload = ticket_payload("web-x1", channel="webchat")
    payload["transcript"].append({"ts": 3.0, "role": "customer", "text": XSS})
    ticket_id = internal(service, "POST", "/api/internal/tickets", json=payload).json()["ticket_id"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            dialogs = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(f"{service.url}/console")
            assert page.evaluate("document.documentElement.dir") == "rtl"
            page.fill("#username", "amal")
            page.fill("#password", PASSWORD)
            page.click("#login-form button[type=submit]")
            queued = page.locator(f"#queue li[data-ticket-id='{ticket_id}']")
            expect(queued).to_be_visible()
            expect(queued).to_have_class(re.compile(r"\bp1\b"))
            queued.click()
            expect(page.locator("#t-id")).to_have_text(ticket_id)
            # what decided the handoff, rule by rule, for the agent to judge
            expect(page.locator("#t-evidence li")).to_have_count(2)
            expect(page.locator("#t-evidence li").first).to_contain_text("service_with_outage_words")
            expect(page.locator("#t-evidence li").first).to_contain_text("الكهرباء مقطوعة من الصبح")
            # the customer's HTML is text: shown literally, no element made, nothing run
            literal = page.locator("#transcript .bubble.customer .text", has_text=XSS)
            expect(literal).to_have_count(1)
            assert page.locator("#transcript img").count() == 0
            assert page.locator("#transcript .bubble").first.get_attribute("dir") == "auto"
            page.click("#claim")
            expect(page.locator(f"#mine li[data-ticket-id='{ticket_id}']")).to_be_visible()
            page.fill("#reply", "أهلاً، معك أمل وسأتابع البلاغ.")
            page.click("#send")
            expect(page.locator("#transcript .bubble.agent .text", has_text="معك أمل")).to_have_count(1)
            wait_for(lambda: [m for m in channel.delivered if m["kind"] == "agent"])
            # a customer message arrives live, HTML and all
            service.call(relay.on_customer_message("webchat", "web-x1", XSS + " متى ترجع الكهرباء؟"))
            expect(page.locator("#transcript .bubble.customer .text", has_text="متى ترجع")).to_have_count(1)
            page.screenshot(path=str(ARTIFACTS / "console_conversation.png"), full_page=True)
            # reload: the whole conversation, each message once
            page.reload()
            page.locator(f"#mine li[data-ticket-id='{ticket_id}']").click()
            expect(page.locator("#transcript .bubble.customer .text", has_text="متى ترجع")).to_have_count(1)
            expect(page.locator("#transcript .bubble.agent")).to_have_count(1)
            # English labels on demand
            page.click("#lang")
            assert page.evaluate("document.documentElement.dir") == "ltr"
            expect(page.locator("#claim")).to_have_text("Claim")
            page.screenshot(path=str(ARTIFACTS / "console_english.png"), full_page=True)
            page.click("#lang")
            assert dialogs == [], dialogs
            browser.close()
    finally:
        service.call(relay.stop())
        service.call(relay.streams.close())
