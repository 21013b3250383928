"""The operator console in a real browser: Debian's Chromium, headless, driven by Playwright.

A customer leaves a voicemail after hours (a whole simulated call over HTTP); an operator signs
in, finds the ticket by the caller's number, plays the recording, resolves the ticket and sees
the SMS queued for the customer. In operator hours, a call the operator answers pops up as the
live card without a reload, and the operator registers the complaint from it. Screenshots (also
at a phone's width) are saved in ``test-output/screenshots/`` for a person to look at.

Chromium, its tabs and the hotline served for it are the fixtures of ``in_browser``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from ivr.tickets.casework import sms_text
from ivr.models import SmsMessage, Ticket
from ivr.sms.text import gsm7_length
from ivr.softphone import Call, HttpTransport, ScriptedCaller
from ivr.users import add_user

from conftest import AUTH_TOKEN, bucharest, sign
from console_client import PASSWORD
from in_browser import TIMEOUT_MS, screenshot

# Runs whole programs for seconds: started first (conftest), left out by -m "not slow".
pytestmark = pytest.mark.slow(seconds=7)

OPERATOR = "ana"
CALLER = "+40733555111"


def test_operator_finds_plays_and_resolves_a_voicemail_ticket(page, live_app, twilio, clock):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    app, base_url = live_app
    db, hotline = app.extensions["ivr.db"], app.extensions["ivr.hotline"]
    labels = hotline.console_labels["ro"]
    with db.session() as session, session.begin():
        add_user(session, OPERATOR, PASSWORD, "operator", clock())

    # After hours, the customer presses 1 (technical) and leaves a 45-second complaint.
    ui = ScriptedCaller(keys_script=["1"], records=[45])
    log = Call(base_url, AUTH_TOKEN, HttpTransport(), ui, caller=CALLER, account_sid=twilio.account_sid).run()
    [recording] = log.recordings
    with db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
    assert (ticket.caller, ticket.sms_to, ticket.recording_sid) == (CALLER, CALLER, recording["RecordingSid"])
    twilio.add_recording(ticket.recording_sid)  # Twilio keeps the audio; the console fetches it

    # The console's Content-Security-Policy must not block anything it needs (Chromium reports
    # a violation on the page's console).
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)

    # Any console page first asks the operator to sign in, then comes back to it.
    page.goto(f"{base_url}/console/")
    expect(page).to_have_url(f"{base_url}/console/login?next=/console/?")
    page.get_by_label(labels["user_name"]).fill(OPERATOR)
    page.get_by_label(labels["password"]).fill(PASSWORD)
    page.get_by_role("button", name=labels["sign_in"]).click()
    expect(page).to_have_url(f"{base_url}/console/")  # the browser drops the empty query's "?"
    expect(page.locator(".bar .who")).to_contain_text(f"{OPERATOR} (operator)")

    # The caller's number as a person would type it (national format) finds the ticket.
    page.get_by_placeholder(labels["search"]).fill("0733 555 111")
    page.get_by_role("button", name=labels["filter"]).click()
    rows = page.locator("table.tickets tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(ticket.number)
    expect(rows.first).to_contain_text(CALLER)
    expect(rows.first.locator(".pill")).to_have_text(labels["status_registered"])
    screenshot(page, "ticket-list.png")

    rows.first.get_by_role("link", name=ticket.number).click()
    expect(page.locator("h1")).to_contain_text(ticket.number)

    # The recording: the <audio> element loads the WAV through the console's proxy and plays it.
    audio = page.locator("audio")
    expect(audio).to_have_attribute("src", f"/console/tickets/{ticket.number}/recording")
    # Headless Chromium without a sound card plays on a null output whose clock still runs, so the
    # whole 1-second tone of the stand-in plays to its end, in real time, as for an operator.
    audio.evaluate("a => a.play()")  # a Promise: rejects (and fails the test) when it cannot play
    page.wait_for_function("a => a.ended", arg=audio.element_handle(), timeout=TIMEOUT_MS)
    played = audio.evaluate(
        "a => ({error: a.error && a.error.code, readyState: a.readyState, duration: a.duration,"
        " currentTime: a.currentTime, played: Array.from({length: a.played.length},"
        " (_, i) => [a.played.start(i), a.played.end(i)])})"
    )
    assert played["error"] is None and played["readyState"] >= 2, played  # HAVE_CURRENT_DATA or better
    assert played["duration"] == pytest.approx(1.0, abs=0.01), played  # the stand-in's 1-second WAV
    assert played["currentTime"] == pytest.approx(played["duration"]), played
    [(start, end)] = played["played"]  # played from the start to the end, in one go
    assert start == pytest.approx(0, abs=0.05) and end == pytest.approx(played["duration"]), played

    # Resolve: the preview shows the exact SMS and what it costs, then send queues it.
    message = "Am înlocuit routerul; conexiunea funcționează din nou."
    page.get_by_label(labels["resolve_message"]).fill(message)
    page.get_by_role("button", name=f"{labels['preview']} · {labels['resolve']}").click()
    expected = sms_text(hotline, ticket, "ticket_resolved", message=message)
    preview = page.locator(".preview")
    expect(preview.locator(".sms-text")).to_have_text(expected.text)
    assert "Am inlocuit routerul; conexiunea functioneaza din nou." in expected.text  # GSM-7, no diacritics
    parts = (labels["sms_one_part"].format(characters=gsm7_length(expected.text)) if expected.parts == 1
             else labels["sms_parts"].format(parts=expected.parts, characters=gsm7_length(expected.text)))
    expect(preview.locator(".parts")).to_have_text(parts)
    preview.get_by_role("button", name=labels["send"]).click()

    expect(page.locator(".flash.ok")).to_have_text(labels["done"])
    expect(page.locator(".ticket-head .pill")).to_have_text(labels["status_resolved"])
    resolved_sms = page.locator("ul.sms li").filter(has_text=expected.text)
    expect(resolved_sms).to_have_count(1)
    expect(resolved_sms.locator(".pill")).to_have_text("în așteptare")
    expect(resolved_sms).to_contain_text(CALLER)
    screenshot(page, "ticket-page.png")

    with db.session() as session:
        queued = session.scalars(select(SmsMessage).where(SmsMessage.purpose == "ticket_resolved#1")).one()
        assert (queued.to, queued.body, queued.status) == (CALLER, expected.text, "queued")
        assert session.scalars(select(Ticket.status)).one() == "resolved"
    assert twilio.messages == []  # queued, not sent: no dispatcher runs here
    assert blocked == []


PHONE_VIEWPORT = {"width": 390, "height": 844}


def twilio_posts(base_url: str, account_sid: str):
    """Post a form to the live server as Twilio does (signed), on the call ``CallSid``."""
    transport = HttpTransport()

    def post(path: str, **fields: str) -> int:
        data = {"AccountSid": account_sid, "From": CALLER, "To": "+40215894141", **fields}
        status, post.body = transport.post(base_url + path, data, sign(base_url + path, data))
        return status

    return post


def test_an_answered_call_pops_up_and_its_complaint_is_registered(page, live_app, twilio, clock):
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    app, base_url = live_app
    clock.now = bucharest(2026, 11, 17, 10, 0)  # operator hours
    db, labels = app.extensions["ivr.db"], app.extensions["ivr.hotline"].console_labels["ro"]
    with db.session() as session, session.begin():
        add_user(session, OPERATOR, PASSWORD, "operator", clock()).phone = "+40215894141"
    blocked = []
    page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)

    page.goto(f"{base_url}/console/login")
    page.get_by_label(labels["user_name"]).fill(OPERATOR)
    page.get_by_label(labels["password"]).fill(PASSWORD)
    page.get_by_role("button", name=labels["sign_in"]).click()
    expect(page.locator(".bar .who")).to_contain_text(OPERATOR)
    expect(page.locator("#live-card")).to_have_count(0)
    page.evaluate("window.notReloaded = true")  # gone if the page were loaded again

    # The caller picks technical; ana's phone rings and she picks up (Twilio asks for the whisper).
    call_sid = "CA" + "5" * 32
    post = twilio_posts(base_url, twilio.account_sid)
    assert post("/voice/incoming", CallSid=call_sid) == 200
    assert post("/voice/menu?lang=ro&attempt=1", CallSid=call_sid, Digits="1") == 200
    leg = {"CallSid": "CA" + "6" * 32, "ParentCallSid": call_sid, "To": "+40215894141"}
    assert post("/voice/whisper/technical", **leg) == 200
    assert post(ET.fromstring(post.body).find("Gather").get("action"), **leg, Digits="1") == 200  # her key takes it

    card = page.locator("#live-card")
    expect(card).to_be_visible()
    expect(card).to_contain_text(CALLER)
    expect(card).to_contain_text("Departamentul Tehnic")
    assert page.evaluate("window.notReloaded") is True
    screenshot(page, "live-card.png")
    page.set_viewport_size(PHONE_VIEWPORT)
    screenshot(page, "live-card-phone.png")

    card.get_by_role("link", name=labels["register_complaint"]).click()
    expect(page.locator("h1")).to_contain_text(CALLER)
    form = page.locator("form.complaint")
    expect(form.get_by_label(labels["department"])).to_have_value("technical")
    expect(form.get_by_label(labels["sms_number"])).to_have_value(CALLER)
    form.get_by_label(labels["summary"]).fill("Internetul cade în fiecare seară după ora 20.")
    screenshot(page, "call-form-phone.png")
    form.get_by_role("button", name=labels["register_complaint"]).click()

    registered = page.locator("#registered")
    expect(registered.locator(".spelled")).to_have_text("R C, 2 0 2 6, 0 0 0 0 0 1")
    expect(registered.locator(".sms-line .pill")).to_have_text("în așteptare")
    screenshot(page, "call-registered-phone.png")
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "call-registered.png")
    with db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        [sms] = session.scalars(select(SmsMessage)).all()
    assert (ticket.source, ticket.call_sid, ticket.status) == ("operator", call_sid, "in_progress")
    assert (sms.to, sms.status, sms.ticket_id) == (CALLER, "queued", ticket.id)

    # The caller hangs up: the card goes away, again without a reload.
    page.evaluate("window.notReloaded = true")
    assert post("/voice/status", CallSid=call_sid, CallStatus="completed", CallDuration="120") == 204
    expect(page.locator("#live-card")).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True

    page.goto(f"{base_url}/console/calls")
    expect(page.locator("table.calls tbody tr")).to_have_count(1)
    expect(page.locator("table.calls tbody tr").first).to_contain_text(ticket.number)
    screenshot(page, "call-log.png")
    page.set_viewport_size(PHONE_VIEWPORT)
    screenshot(page, "call-log-phone.png")
    assert twilio.messages == []  # queued, not sent: no dispatcher runs here
    assert blocked == []
