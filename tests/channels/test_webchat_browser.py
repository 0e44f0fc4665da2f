"""The widget in a real headless Chromium, embedded with one script tag.

The page is served from another origin than the channel (like the demo page on
:5080 and the Rasa server on :5005). Screenshots (desktop and phone) are saved in
tests/artifacts/.
"""

from __future__ import annotations

import http.server
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from channel_harness import ChannelServer

from bot.channels.webchat import WebchatInput
from bot.settings import Settings, WebchatSettings
from scripts import redis_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def host_page(server_url: str) -> bytes:
    return f"""<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>متجر</title></head>
<body style="font-family: sans-serif; background: #f3f6f5"><h1>نور للخدمات</h1><p>صفحة مضيفة للاختبار.</p>
<script src="{server_url}/webhooks/webchat/static/widget.js" data-server="{server_url}" defer></script>
</body></html>""".encode()


@pytest.fixture
def page_server(webchat_server: ChannelServer) -> Iterator[str]:
    body = host_page(f"http://127.0.0.1:{webchat_server.port}")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    port = redis_server.free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{port}"
    httpd.shutdown()


@pytest.fixture
def webchat_server(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelServer]:
    monkeypatch.setenv("REDIS_URL", redis_url)
    channel = WebchatInput(settings=WebchatSettings(secret="browser-test", allowed_origins=("*",)), limits=Settings(max_message_chars=300))
    server = ChannelServer(channel).start()
    yield server
    server.stop()


def test_widget_in_chromium(webchat_server: ChannelServer, page_server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    channel: WebchatInput = webchat_server.channel  # type: ignore[assignment]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="ar")
            dialogs: list = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(page_server)
            # one script tag: it brought its stylesheet and a launcher
            assert page.locator("script[src*='widget.js']").count() == 1
            launcher = page.locator(".noor-launcher")
            expect(launcher).to_be_visible()
            launcher.click()
            expect(page.locator(".noor-status")).to_have_attribute("data-state", "online")
            box = page.locator(".noor-input")
            expect(box).to_be_focused()  # keyboard users land in the text box

            # Arabic message; the reply is shown right to left
            box.fill("مرحبا، كم فاتورتي هالشهر؟")
            box.press("Enter")
            reply = page.locator(".noor-bot .noor-bubble").last
            expect(reply).to_have_text("وصلتني رسالتك: مرحبا، كم فاتورتي هالشهر؟")
            assert reply.get_attribute("dir") == "auto"
            assert reply.evaluate("e => getComputedStyle(e).direction") == "rtl"
            assert page.locator(".noor-chat").get_attribute("dir") == "rtl"
            assert page.locator(".noor-log").get_attribute("role") == "log"
            assert page.locator(".noor-bubble:not([dir='auto'])").count() == 0

            # quick replies, by keyboard
            box.fill("buttons")
            box.press("Enter")
            choice = page.locator(".noor-reply", has_text="الماء")
            expect(choice).to_be_visible()
            choice.focus()
            page.keyboard.press("Enter")
            expect(page.locator(".noor-customer .noor-bubble").last).to_have_text("الماء")
            expect(page.locator(".noor-bot .noor-bubble").last).to_have_text('وصلتني رسالتك: /choose{"service":"water"}')

            # HTML typed by the customer stays text
            box.fill("<script>alert(1)</script><img src=x onerror=alert(2)>")
            box.press("Enter")
            mine = page.locator(".noor-customer .noor-bubble").last
            expect(mine).to_have_text("<script>alert(1)</script><img src=x onerror=alert(2)>")
            expect(page.locator(".noor-bot .noor-bubble").last).to_contain_text("<script>alert(1)</script>")
            assert page.locator(".noor-log script, .noor-log img").count() == 0

            # handoff state and an agent's reply (through the relay deliverer)
            sid = page.evaluate("() => { for (const k of Object.keys(localStorage)) if (k.startsWith('noor-webchat-token')) return localStorage.getItem(k).split('.')[0]; }")
            webchat_server.call(channel.deliver_outbound(sid, {"id": "9-0", "ticket_id": "T1", "conversation_id": sid, "kind": "state", "state": "with_agent", "agent_name": "ليلى", "ts": time.time()}))
            webchat_server.call(channel.deliver_outbound(sid, {"id": "9-1", "ticket_id": "T1", "conversation_id": sid, "kind": "agent", "text": "أهلاً، معك ليلى. سأتابع طلبك الآن", "agent_name": "ليلى", "ts": time.time()}))
            expect(page.locator(".noor-handoff")).to_have_text("أنت الآن تتحدث مع ليلى")
            expect(page.locator(".noor-agent .noor-bubble").last).to_have_text("أهلاً، معك ليلى. سأتابع طلبك الآن")
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / "webchat-desktop-handoff.png"))
            webchat_server.call(channel.deliver_outbound(sid, {"id": "9-2", "ticket_id": "T1", "conversation_id": sid, "kind": "state", "state": "resolved", "ts": time.time()}))
            expect(page.locator(".noor-handoff")).to_be_hidden()

            # the 1-5 rating at the end
            box.fill("rate")
            box.press("Enter")
            stars = page.locator(".noor-rating .noor-star")
            expect(stars).to_have_count(5)
            assert stars.nth(4).get_attribute("aria-label") == "تقييم 5 من 5"
            stars.nth(3).hover()
            page.wait_for_timeout(300)  # let the bubbles' fade-in finish
            page.screenshot(path=str(ARTIFACTS / "webchat-desktop.png"))
            stars.nth(4).click()
            expect(page.locator(".noor-bot .noor-bubble").last).to_have_text('وصلتني رسالتك: /rate{"rating":5}')

            # a reload resumes the same conversation from the server's history
            count = page.locator(".noor-item").count()
            page.reload()
            page.locator(".noor-launcher").click()
            expect(page.locator(".noor-item")).to_have_count(count)

            # phone-sized screen: the panel fills it
            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="ar")
            phone.goto(page_server)
            phone.locator(".noor-launcher").click()
            expect(phone.locator(".noor-status")).to_have_attribute("data-state", "online")
            phone.locator(".noor-input").fill("النت فاصل من الصبح 😡 internet down")
            phone.locator(".noor-send").click()
            expect(phone.locator(".noor-bot .noor-bubble").last).to_contain_text("النت فاصل")
            phone.locator(".noor-input").fill("buttons")
            phone.locator(".noor-send").click()
            expect(phone.locator(".noor-reply")).to_have_count(3)
            panel = phone.locator(".noor-panel").bounding_box()
            assert panel is not None and panel["width"] >= 389 and panel["height"] >= 800
            phone.wait_for_timeout(300)
            phone.screenshot(path=str(ARTIFACTS / "webchat-phone.png"))
            assert dialogs == []
        finally:
            browser.close()
    texts = [m.text for m in webchat_server.bot.received]  # type: ignore[attr-defined]
    assert "<script>alert(1)</script><img src=x onerror=alert(2)>" in texts
