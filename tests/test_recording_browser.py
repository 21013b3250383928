"""Seeking a voicemail in Chromium: an operator clicks the middle of the player's bar and
the recording goes there (the console answers the browser's Range requests).

The browser and server of tests/in_browser.py (Debian's Chromium through
Playwright, skipped saying why without either); the recording is a real 4-second WAV kept
by the Twilio stand-in.
"""

from __future__ import annotations

import pytest

from ivr.tickets.registration import VoicemailReport, register_voicemail
from ivr.users import add_user

from in_browser import TIMEOUT_MS
from console_client import PASSWORD
from test_console_browser import OPERATOR

# Runs whole programs for seconds: started first (conftest), left out by -m "not slow".
pytestmark = pytest.mark.slow

SID = "RE" + "5e" * 16
SECONDS = 4.0


def test_seeking_the_recording_moves_it(page, live_app, twilio, clock):  # noqa: F811
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    app, base_url = live_app
    labels = app.extensions["ivr.hotline"].console_labels["ro"]
    twilio.add_recording(SID, seconds=SECONDS)
    url = f"https://api.twilio.com/2010-04-01/Accounts/{twilio.account_sid}/Recordings/{SID}"
    report = VoicemailReport("CA" + "5e" * 16, "technical", "ro", "+40733555111", "+40733555111", SID, url,
                             int(SECONDS), "completed", "record action")
    with app.extensions["ivr.db"].session() as session, session.begin():
        add_user(session, OPERATOR, PASSWORD, "operator", clock())
        number = register_voicemail(session, app.extensions["ivr.hotline"], report, clock()).number

    page.goto(f"{base_url}/console/login?next=/console/tickets/{number}")
    page.get_by_label(labels["user_name"]).fill(OPERATOR)
    page.get_by_label(labels["password"]).fill(PASSWORD)
    page.get_by_role("button", name=labels["sign_in"]).click()
    expect(page.locator("h1")).to_contain_text(number)

    audio = page.locator("audio")
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 0", arg=audio.element_handle())
    assert audio.evaluate("a => a.duration") == pytest.approx(SECONDS, abs=0.01)
    # What the player offers to seek to: the whole recording, only with Range support.
    assert audio.evaluate("a => a.seekable.length && a.seekable.end(a.seekable.length - 1)") == pytest.approx(SECONDS, abs=0.01)

    # A click in the middle of the bar sets currentTime; the browser fetches from there and says "seeked".
    sought = audio.evaluate(
        """a => new Promise((resolve, reject) => {
             a.addEventListener("seeked", () => resolve(a.currentTime), {once: true});
             a.addEventListener("error", () => reject(new Error("media error " + a.error.code)), {once: true});
             a.currentTime = a.duration / 2;
           })"""
    )
    assert sought == pytest.approx(SECONDS / 2, abs=0.05)
    assert audio.evaluate("a => a.currentTime") == pytest.approx(SECONDS / 2, abs=0.05)

    # It plays on from there, not from 0:00.
    audio.evaluate("a => a.play()")
    page.wait_for_function("a => a.ended", arg=audio.element_handle(), timeout=TIMEOUT_MS)
    played = audio.evaluate("a => Array.from({length: a.played.length}, (_, i) => [a.played.start(i), a.played.end(i)])")
    assert played[0][0] == pytest.approx(SECONDS / 2, abs=0.05) and played[-1][1] == pytest.approx(SECONDS, abs=0.01)
