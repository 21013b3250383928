"""A ticket's page and the overview on a phone (390×844) in Chromium: nothing scrolls sideways,
a saved reply fills the text, and after "preview" the SMS preview is in view without scrolling.

Skipped like every browser test (the fixtures of tests/in_browser.py) without Playwright or
Debian's Chromium. Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from ivr.models import SmsMessage
from ivr.users import add_user

from conftest import bucharest
from console_client import PASSWORD, voicemail
from in_browser import SCREENSHOTS, TIMEOUT_MS, screenshot

# Runs whole programs for seconds: started first (conftest), left out by -m "not slow".
pytestmark = pytest.mark.slow(seconds=6)

PHONE = {"width": 390, "height": 844}


def phone_tab(browser):
    """A fresh phone-sized tab."""
    context = browser.new_context(viewport=PHONE, locale="ro-RO", is_mobile=True, has_touch=True)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


def sign_in(page, base_url: str, labels: dict, name: str) -> None:
    page.goto(f"{base_url}/console/login")
    page.get_by_label(labels["user_name"]).fill(name)
    page.get_by_label(labels["password"]).fill(PASSWORD)
    page.get_by_role("button", name=labels["sign_in"]).click()
    page.wait_for_url(f"{base_url}/console/")


def in_view(page, name: str) -> None:
    """A screenshot of what the phone shows now (the viewport, not the whole page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def assert_no_sideways_scroll(page) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"


def test_ticket_page_and_overview_on_a_phone(browser, live_app, clock):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    app, base_url = live_app
    db, hotline = app.extensions["ivr.db"], app.extensions["ivr.hotline"]
    labels = hotline.console_labels["ro"]
    with db.session() as session, session.begin():
        add_user(session, "ana", PASSWORD, "operator", clock())
        add_user(session, "maria", PASSWORD, "supervisor", clock())
    voicemail(app, db, clock, n=30, at=bucharest(2026, 11, 2, 9, 0))          # overdue by now
    [number] = voicemail(app, db, clock, caller="+40733555111")
    with db.session() as session, session.begin():
        failed = session.scalars(select(SmsMessage).where(SmsMessage.to == "+40733555111")).one()
        session.execute(update(SmsMessage).where(SmsMessage.id == failed.id).values(status="undelivered", error_code=30003))

    context, page = phone_tab(browser)
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)
    try:
        sign_in(page, base_url, labels, "ana")
        page.goto(f"{base_url}/console/tickets/{number}")
        expect(page.locator(".sms-alert")).to_be_visible()
        assert_no_sideways_scroll(page)
        screenshot(page, "ticket-page-phone-390.png")

        # A saved reply fills the text (JavaScript), the operator edits it, then previews.
        resolve = page.locator("form", has=page.get_by_label(labels["resolve_message"]))
        resolve.get_by_label(labels["saved_reply"]).select_option("fault_fixed")
        text = resolve.get_by_label(labels["resolve_message"])
        reply = hotline.saved_replies["ro"]["fault_fixed"].text
        expect(text).to_have_value(reply)
        expect(resolve.get_by_role("button", name=labels["saved_reply_use"])).to_have_count(0)
        text.fill(reply + " Va multumim.")
        resolve.get_by_role("button", name=f"{labels['preview']} · {labels['resolve']}").click()
        preview = page.locator("#preview")
        expect(preview.locator(".sms-text")).to_contain_text("Va multumim.")
        expect(preview).to_be_in_viewport()
        expect(preview.get_by_role("button", name=labels["send"])).to_be_in_viewport()
        assert_no_sideways_scroll(page)
        in_view(page, "ticket-preview-phone-390.png")

        # The failed SMS: resend, with its preview in view as well.
        page.goto(f"{base_url}/console/tickets/{number}")
        page.locator("ul.sms li.failed").get_by_role("button", name=f"{labels['preview']} · {labels['resend']}").click()
        expect(page.locator("#preview .sms-to")).to_have_text(labels["sms_to"].format(to="+40733555111"))
        expect(page.locator("#preview")).to_be_in_viewport()
        in_view(page, "ticket-resend-phone-390.png")

        context.close()
        context, page = phone_tab(browser)
        page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)
        sign_in(page, base_url, labels, "maria")
        page.goto(f"{base_url}/console/overview")
        expect(page.locator("#overdue li")).to_have_count(25)
        expect(page.locator("#failed-sms-list li")).to_have_count(1)
        assert_no_sideways_scroll(page)
        screenshot(page, "overview-phone-390.png")
        page.set_viewport_size({"width": 1366, "height": 768})
        assert_no_sideways_scroll(page)
        screenshot(page, "overview-1366.png")
    finally:
        context.close()
    assert blocked == []
