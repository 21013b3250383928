"""Outage notices in a browser: a supervisor declares an outage, a caller joins it on a whole
call over HTTP, the supervisor closes it; and axe-core on every outage page, in Romanian, at a
laptop's and a phone's width. The service, the webhooks and the console's forms are in
test_incidents.py, whose helpers and database choice these tests share."""

from __future__ import annotations

import re

import pytest

from ivr import incidents
from ivr.tickets.casework import sms_text
from ivr.users import add_user

from conftest import CALL_SID
from console_client import PASSWORD
from test_incidents import CLUJ_EN, CLUJ_RO, database_url, declare, join, sms_of  # noqa: F401  (database_url: a fixture)

# Runs whole programs for seconds: started first (conftest), left out by -m "not slow".
pytestmark = pytest.mark.slow


def test_a_supervisor_declares_and_closes_an_outage_in_a_browser(page, live_app, twilio, clock):
    """Chromium through Playwright (skipped, saying why, without them): maria declares an outage,
    a caller joins it with one key on a whole call over HTTP, maria closes it with one message
    after its preview. Screenshots in test-output/screenshots/."""
    from in_browser import TIMEOUT_MS, screenshot
    from test_console_browser import CALLER

    (app, base_url), standin = live_app, twilio
    from playwright.sync_api import expect
    from ivr.softphone import Call, HttpTransport, ScriptedCaller

    from conftest import AUTH_TOKEN

    expect.set_options(timeout=TIMEOUT_MS)
    db, hotline = app.extensions["ivr.db"], app.extensions["ivr.hotline"]
    labels = hotline.console_labels["ro"]
    with db.session() as session, session.begin():
        add_user(session, "maria", PASSWORD, "supervisor", clock())
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)

    page.goto(f"{base_url}/console/login")
    page.get_by_label(labels["user_name"]).fill("maria")
    page.get_by_label(labels["password"]).fill(PASSWORD)
    page.get_by_role("button", name=labels["sign_in"]).click()
    page.locator(".bar nav").get_by_role("link", name=labels["incidents"]).click()
    expect(page.locator(".empty")).to_have_text(labels["incident_none"])
    page.get_by_role("link", name=labels["incident_new"]).click()

    # Declared with a mistake first: the end time is missing, and the page says so by name.
    page.get_by_label("Departamentul Tehnic").check()
    page.get_by_label(labels["incident_area"]).fill("Cluj")
    page.get_by_label("Mesajul pentru apelanți (Română)").fill(CLUJ_RO)
    page.get_by_label("Mesajul pentru apelanți (English)").fill(CLUJ_EN)
    page.locator("input[name=ends]").evaluate("e => e.removeAttribute('required')")  # what an old browser would send
    page.get_by_role("button", name=labels["incident_declare"]).click()
    expect(page.locator(".flash.error")).to_have_text("Remediere estimată la: câmpul este obligatoriu.")
    expect(page.get_by_label("Departamentul Tehnic")).to_be_checked()
    page.get_by_label(labels["incident_ends"]).fill("2026-11-17T23:30")
    screenshot(page, "incident-new.png")
    page.get_by_role("button", name=labels["incident_declare"]).click()
    expect(page.locator(".flash.ok")).to_contain_text("Întreruperea #1 a fost declarată")
    expect(page.locator("h1 .pill")).to_have_text(labels["incident_state_active"])

    # After hours, a customer presses 1 (technical), hears the notice and presses 1 to join.
    ui = ScriptedCaller(keys_script=["1", "1"])
    Call(base_url, AUTH_TOKEN, HttpTransport(), ui, caller=CALLER, account_sid=standin.account_sid).run()
    assert CLUJ_RO in ui.transcript and "V-am adăugat" in ui.transcript
    page.reload()
    rows = page.locator("table.incident-tickets tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(CALLER)
    expect(rows.first.locator(".pill")).to_have_text(labels["status_registered"])

    # Closing with a message: the preview shows the SMS as the customer gets it and how many go out.
    message = "Conexiunea în zona Cluj funcționează din nou."
    page.get_by_label(labels["incident_close_message"]).fill(message)
    page.get_by_role("button", name=labels["incident_close_button"]).click()
    preview = page.locator(".preview")
    with db.session() as session:
        [ticket] = incidents.tickets_of(session, 1)
        expected = sms_text(hotline, ticket, "ticket_resolved", message=message)
    expect(preview.locator(".sms-text")).to_have_text(expected.text)
    expect(preview.locator(".will-send")).to_have_text("Se trimite 1 SMS.")
    screenshot(page, "incident-close-preview.png")
    preview.get_by_role("button", name=labels["incident_close_confirm"]).click()
    expect(page.locator(".flash.ok")).to_have_text("Întreruperea a fost închisă; 1 reclamație soluționată.")
    expect(page.locator("h1 .pill")).to_have_text(labels["incident_state_closed"])
    expect(rows.first.locator(".pill")).to_have_text(labels["status_resolved"])
    screenshot(page, "incident-closed.png")

    page.goto(f"{base_url}/console/incidents")
    expect(page.locator("table.incidents tbody tr")).to_have_count(1)
    screenshot(page, "incidents.png")
    assert [m.purpose for m in sms_of(db, ticket.number)] == ["ticket_registered", "ticket_resolved#1"]
    assert blocked == []


@pytest.mark.parametrize("size", ["laptop", "phone"])
def test_the_outage_pages_are_accessible_and_romanian(browser, live_app, twilio, clock, size):  # noqa: F811
    """axe-core finds nothing on the outage pages (the list, the form with its errors, an incident
    with a linked ticket and the closing preview), nothing scrolls sideways, and no English shows."""
    from test_console_a11y import SIZES, SUPERVISOR, axe_violations, english_words, sideways_scroll, sign_in

    from in_browser import TIMEOUT_MS, screenshot

    app, base_url = live_app
    with app.extensions["ivr.db"].session() as session, session.begin():
        add_user(session, SUPERVISOR, PASSWORD, "supervisor", clock())
    incident = declare(app, clock, departments=["technical"])
    join(app, clock, incident, CALL_SID)
    context = browser.new_context(viewport=dict(zip(("width", "height"), SIZES[size])), locale="ro-RO", bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    page, english, problems = context.new_page(), english_words(), {}
    try:
        sign_in(page, base_url)
        pages = {"incidents": "/console/incidents", "incident-new": "/console/incidents/new",
                 "incident": f"/console/incidents/{incident}"}
        for name, path in pages.items():
            page.goto(base_url + path)
            if name == "incident-new":  # with its errors shown
                page.locator("form.incident-form").evaluate("f => f.noValidate = true")
                page.locator("form.incident-form button").click()
            if name == "incident":  # with the closing preview
                page.locator("textarea[name=text]").fill("Conexiunea funcționează din nou.")
                page.locator("section.actions button").last.click()
                page.locator(".preview").wait_for()
            text = page.evaluate("() => document.body.innerText")
            text = text.replace(CLUJ_EN, "")  # the English message is meant to be English
            leftovers = sorted({w for w in re.findall(r"[A-Za-z]{4,}", text) if w.lower() in english})
            found = (axe_violations(page), sideways_scroll(page), leftovers)
            screenshot(page, f"a11y-{name}-{size}.png")
            if found[0] or found[1] > 0 or found[2]:
                problems[name] = found
    finally:
        context.close()
    assert not problems, problems
