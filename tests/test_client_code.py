"""Client codes keyed in before the beep (routing.yaml's ask_client_code): the prompt, the
retries, the code's trip through the webhook URLs onto the ticket, the journal and the console."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from urllib.parse import quote

import pytest
from sqlalchemy import select

from ivr import create_app
from ivr.models import Ticket
from ivr.recovery.journal import JournalEntry
from ivr.softphone import Call, TerminalCaller, WsgiTransport
from ivr.tickets.registration import VoicemailReport, register_voicemail
from ivr.users import add_user

from conftest import AUTH_TOKEN, BASE_URL, ROOT, bucharest, edit
from console_client import PASSWORD
from test_config import problems

CODE = "00042017"  # leading zeros: a code, not a number
LANDLINE = "+40215551234"
RECORDING = {
    "RecordingSid": "RE" + "c" * 32,
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC00/Recordings/RE" + "c" * 32,
    "RecordingDuration": "31",
}
REQUEST = "Dacă aveți codul de client, introduceți cele 8 cifre, urmate de tasta diez. Dacă nu, așteptați."
INVALID = "Codul de client are 8 cifre. Vă rugăm să îl introduceți din nou, urmat de tasta diez."
SKIPPED = "Continuăm fără codul de client."


@pytest.fixture
def database_url(any_database_url):
    """These tests run on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    return any_database_url


@pytest.fixture
def app_config(app_config, config_dir):
    """The shipped configuration with ask_client_code on, 8 digits; after hours (Tuesday 23:00)."""
    edit(config_dir / "routing.yaml", "  record_max_seconds: 180",
         "  ask_client_code: true\n  client_code_length: 8\n  record_max_seconds: 180")
    app_config["CLOCK"].now = bucharest(2026, 11, 24, 23, 0)
    return app_config


def tickets(db) -> list[Ticket]:
    with db.session() as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def recorded_url(log) -> str:
    return next(url for url, _, _ in log.requests if "/voice/recorded/" in url)


# -- routing.yaml ---------------------------------------------------------------

@pytest.mark.parametrize(
    "new, expected",
    [
        ("ask_client_code: true", r"routing\.yaml: hotline\.client_code_length: missing \(ask_client_code needs"),
        ("ask_client_code: true\n  client_code_length: 3", r"routing\.yaml: hotline\.client_code_length: Input should be greater than or equal to 4"),
        ("client_code_length: 13", r"routing\.yaml: hotline\.client_code_length: Input should be less than or equal to 12"),
        ("ask_client_code: maybe", r"routing\.yaml: hotline\.ask_client_code: Input should be a valid boolean"),
        ("ask_client_codes: true", r"routing\.yaml: hotline\.ask_client_codes: unknown key"),
    ],
    ids=["length-missing", "too-short", "too-long", "not-a-boolean", "typo"],
)
def test_routing_faults_name_file_and_key(config_dir, new, expected):
    edit(config_dir / "routing.yaml", "  record_max_seconds: 180", f"  {new}\n  record_max_seconds: 180")
    assert re.search(expected, problems(config_dir)), problems(config_dir)


def test_off_by_default_nobody_is_asked(app_config, clock):
    app = create_app({**app_config, "ROUTING_FILE": str(ROOT / "tests" / "routing.yaml")})
    ui = TerminalCaller(keys=["2"], record=30)
    Call(BASE_URL, AUTH_TOKEN, WsgiTransport(app), ui).run()
    assert app.extensions["ivr.hotline"].routing.hotline.ask_client_code is False
    with app.extensions["ivr.db"].session() as session:
        assert session.scalars(select(Ticket.client_code)).one() is None
    app.extensions["ivr.call_events"].flush(5)
    app.extensions["ivr.db"].engine.dispose()


# -- whole calls ------------------------------------------------------------------

def test_the_code_keyed_in_goes_onto_the_ticket(place_call, db):
    caller, log = place_call(keys=["2", CODE + "#"], records=[30])
    assert REQUEST in caller.heard
    assert caller.heard.index(REQUEST) < caller.heard.index(next(h for h in caller.heard if "După semnal" in h))
    assert f"code={CODE}" in recorded_url(log)
    [ticket] = tickets(db)
    assert (ticket.client_code, ticket.sms_to) == (CODE, "+40722123456")


def test_silence_goes_on_without_a_code(place_call, db):
    caller, log = place_call(keys=["2", None], records=[30])
    assert REQUEST in caller.heard and SKIPPED not in caller.heard and INVALID not in caller.heard
    assert "code=" not in recorded_url(log)
    [ticket] = tickets(db)
    assert ticket.client_code is None and ticket.number


def test_a_wrong_length_is_asked_once_more_then_the_call_goes_on(place_call, db):
    caller, log = place_call(keys=["2", "123#", "45#"], records=[30])
    assert caller.transcript.count(INVALID) == 1 and SKIPPED in caller.heard
    assert len(log.recordings) == 1
    [ticket] = tickets(db)
    assert ticket.client_code is None


def test_the_second_try_is_taken(place_call, db):
    caller, _ = place_call(keys=["2", "1234567#", "87654321#"], records=[30])
    assert caller.transcript.count(INVALID) == 1 and SKIPPED not in caller.heard
    assert [t.client_code for t in tickets(db)] == ["87654321"]


def test_after_the_sms_number_comes_the_code(place_call, db):
    caller, _ = place_call(caller=LANDLINE, keys=["2", "0722123456#", CODE + "#"], records=[30])
    assert caller.heard.index(REQUEST) > next(i for i, h in enumerate(caller.heard) if "număr de mobil din România" in h)
    [ticket] = tickets(db)
    assert (ticket.client_code, ticket.sms_to) == (CODE, "+40722123456")


def test_the_code_survives_the_second_take(place_call, db):
    _, log = place_call(keys=["2", CODE + "#"], records=[0, 15])
    assert len(log.recordings) == 1
    assert [t.client_code for t in tickets(db)] == [CODE]


def test_ivr_call_keys_style(app, db, capsys):
    """``ivr call --keys 2,00042017#``: the terminal softphone splits the keys at commas."""
    ui = TerminalCaller(keys="2,00042017#".split(","), record=30)
    Call(BASE_URL, AUTH_TOKEN, WsgiTransport(app), ui).run()
    assert "☎ keys: 00042017#" in capsys.readouterr().out
    assert [t.client_code for t in tickets(db)] == [CODE]


# -- the webhooks -------------------------------------------------------------------

def test_the_gather_asks_for_exactly_the_configured_digits(twilio_post):
    body = twilio_post("/voice/sms-number/payments?lang=ro&asked=1", caller=LANDLINE, Digits="0722123456").get_data(as_text=True)
    gather = ET.fromstring(body).find("Gather")
    assert (gather.get("input"), gather.get("numDigits"), gather.get("finishOnKey")) == ("dtmf", "8", "#")
    assert "/voice/client-code/payments?" in gather.get("action") and "sms=%2B40722123456" in gather.get("action")


def test_english_retry_prompt(twilio_post):
    body = twilio_post("/voice/client-code/payments?lang=en&sms=&asked=1", Digits="12").get_data(as_text=True)
    assert "Your client code has 8 digits. Please key it in again, followed by the hash key." in body
    assert "asked=2" in ET.fromstring(body).find("Gather").get("action")


@pytest.mark.parametrize(
    "code, kept",
    [
        (CODE, CODE),
        ("1234567a", None),
        ("١٢٣٤٥٦٧٨", None),       # Arabic-Indic digits: isdigit() says yes
        ("１２３４５６７８", None),  # full-width digits
        ("123456789", None),       # too long
        ("1234", None),            # too short
        ("12345678\n", None),
        ("1" * 5000, None),
    ],
    ids=["valid", "letter", "arabic-indic", "full-width", "too-long", "too-short", "newline", "huge"],
)
def test_a_forged_code_in_the_url_is_ignored(twilio_post, db, code, kept):
    path = f"/voice/recorded/payments?lang=ro&sms=%2B40722123456&code={quote(code)}"
    assert twilio_post(path, **RECORDING).status_code == 200
    [ticket] = tickets(db)
    assert ticket.client_code == kept


def test_a_forged_code_at_the_second_take_is_ignored(twilio_post):
    body = twilio_post("/voice/record/payments?lang=ro&sms=&take=2&code=%D9%A1%D9%A2%D9%A3%D9%A4%D9%A5%D9%A6%D9%A7%D9%A8").get_data(as_text=True)
    assert "code=" not in body


def test_a_later_report_fills_in_the_code(twilio_post, db):
    callback = "/voice/recording-status/payments?lang=ro&sms=%2B40722123456"
    assert twilio_post(callback, **RECORDING, RecordingStatus="completed").status_code == 204
    assert twilio_post(f"/voice/recorded/payments?lang=ro&sms=%2B40722123456&code={CODE}", **RECORDING).status_code == 200
    twilio_post(callback, **RECORDING, RecordingStatus="completed")  # a repeat without it changes nothing
    assert [t.client_code for t in tickets(db)] == [CODE]


# -- the recovery journal --------------------------------------------------------------

def test_a_journal_line_written_before_client_codes_reads_back():
    old = {"v": 1, "received_at": "2026-11-24T21:00:00+00:00", "report": {
        "call_sid": "CA" + "5" * 32, "department": "payments", "language": "ro", "caller": "+40722123456",
        "sms_to": "+40722123456", "recording_sid": None, "recording_url": None, "recording_duration": None,
        "recording_status": "completed", "source": "record action", "recovered_note": None,
    }}
    entry = JournalEntry.from_line(json.dumps(old))
    assert entry.report.client_code is None and entry.report.department == "payments"


def test_a_journal_line_keeps_the_code():
    report = VoicemailReport("CA" + "6" * 32, "payments", "ro", None, None, None, None, None, "completed",
                             "record action", client_code=CODE)
    entry = JournalEntry(datetime(2026, 11, 24, 21, tzinfo=timezone.utc), report)
    assert JournalEntry.from_line(entry.to_line()).report.client_code == CODE


# -- the console ----------------------------------------------------------------------

def sign_in(app, name: str = "ana"):
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    reply = client.post("/console/login", data={"csrf_token": token, "name": name, "password": PASSWORD})
    assert reply.status_code == 302
    return client


def voicemail(app, call: int, code: str | None) -> str:
    report = VoicemailReport(f"CA{call:032d}", "payments", "ro", "+40733000111", "+40733000111", None,
                             "https://api.twilio.com/x", 20, "completed", "record action", client_code=code)
    with app.extensions["ivr.db"].session() as session, session.begin():
        return register_voicemail(session, app.extensions["ivr.hotline"], report, bucharest(2026, 11, 24, 23)).number


@pytest.mark.parametrize("lang, label", [("ro", "Cod client"), ("en", "Client code")])
def test_the_ticket_list_shows_and_finds_the_code(app, db, lang, label):
    with db.session() as session, session.begin():
        add_user(session, "ana", PASSWORD, "operator", bucharest(2026, 11, 24, 9))
    with_code, without = voicemail(app, 1, CODE), voicemail(app, 2, None)
    client = sign_in(app)
    client.get(f"/console/language/{lang}")
    page = client.get("/console/").get_data(as_text=True)
    assert f"{label}: {CODE}" in page and with_code in page and without in page
    found = client.get("/console/?q=0042017").get_data(as_text=True)
    assert with_code in found and without not in found
    assert client.get(f"/console/tickets/{with_code}").get_data(as_text=True).count(CODE) >= 1
