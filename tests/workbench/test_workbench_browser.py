"""End to end in real headless Chromium: a trainer signs in, filters the inbox and labels one message.

The workbench runs as its own process (``python -m workbench``) on the session's Redis,
reading conversations through a stand-in for Rasa's HTTP API and writing into a
temporary copy of ``nlu_data``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def test_trainer_labels_a_misunderstood_message_in_the_browser(service, conversations, add_account, nlu_copy, artifacts_dir):
    from playwright.sync_api import expect, sync_playwright

    add_account("trainer1", "train-pass-123", "trainer")
    expect.set_options(timeout=20_000)  # two cores shared by several test runs
    outages = nlu_copy / "outages.yml"
    before = outages.read_text(encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(locale="ar", viewport={"width": 1400, "height": 1000})
            errors = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(service + "/trainer")
            page.fill("#username", "trainer1")
            page.fill("#password", "train-pass-123")
            page.click("#login-form button[type=submit]")
            expect(page.locator("#user-name")).to_have_text("مدرّبة الاختبار")
            expect(page.locator("html")).to_have_attribute("dir", "rtl")
            expect(page.locator("#inbox-list li")).to_have_count(6)

            # only what was handed off to a person
            page.check("input[name=flags][value=handed_off]")
            page.click("#filters button[type=submit]")
            expect(page.locator("#inbox-list li")).to_have_count(1)
            bubble = page.locator("#inbox-list li .bubble")
            expect(bubble).to_have_text("النت فاصل من يومين وانا زعلاااان جوالي 0000000000")  # phone masked
            assert bubble.get_attribute("dir") == "auto"
            page.locator("#inbox-list li").first.click()

            # mark النت as service_type; the phone number entity comes from the prediction
            page.locator("#ann-text .tok", has_text="النت").first.click()
            page.select_option("#ann-entity", "service_type")
            page.click("#mark-entity")
            expect(page.locator("#ann-entities li")).to_have_count(2)
            expect(page.locator("#ann-intent")).to_have_value("report_outage")
            expect(page.locator("#ann-dialect")).to_have_value("gulf")
            expect(page.locator("#ann-frustration")).to_have_value("angry")
            page.screenshot(path=str(artifacts_dir / "workbench-annotate.png"), full_page=True)
            page.click("#save-example")
            # the first save in a fresh service imports Rasa's YAML reader: seconds on a busy machine
            expect(page.locator("#result .ok")).to_be_visible(timeout=60_000)
            expect(page.locator("#inbox-list li")).to_have_count(1)  # the "no messages" line
            page.screenshot(path=str(artifacts_dir / "workbench-saved.png"), full_page=True)

            after = outages.read_text(encoding="utf-8")
            assert "[النت](service_type) فاصل من يومين وانا زعلاااان جوالي [0000000000](phone_number)" in after
            assert "0551234567" not in after and "frustration: angry" in after

            # saving the same message again is impossible (it left the inbox); undo from the result
            page.click("#result button")
            expect(page.locator("#result .ok")).to_have_text("تم التراجع. (Undone.)", timeout=30_000)
            assert outages.read_text(encoding="utf-8") == before

            # the history shows who did what
            page.click(".tab[data-tab=history]")
            expect(page.locator("#history-table tr")).to_have_count(3)
            expect(page.locator("#history-table tr").nth(1)).to_contain_text("undo")
            expect(page.locator("#history-table tr").nth(2)).to_contain_text("trainer1")
            expect(page.locator("#history-table tr").nth(2)).to_contain_text("تم التراجع")

            # data health renders the table and the chart
            page.click(".tab[data-tab=health]")
            expect(page.locator("#health-table tr").nth(1)).to_be_visible()
            # (wait_for_function would eval a string, which the page's CSP rightly forbids)
            chart = page.locator("#health-chart")
            for _ in range(100):
                if chart.evaluate("img => img.complete && img.naturalWidth") > 0:
                    break
                page.wait_for_timeout(100)
            assert chart.evaluate("img => img.naturalWidth") > 300
            page.screenshot(path=str(artifacts_dir / "workbench-health.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
