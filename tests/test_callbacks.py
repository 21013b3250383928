"""A callback instead of waiting: during hours, when no operator answers, the caller is offered
a callback before the voicemail (their number, or one they key in); the request is a ticket with
its number and SMS; the console lists requests oldest first and "call back" has Twilio's REST
API ring the operator and then the customer; the calls' reports are logged on the ticket once,
in any order; a request not called back in time is alerted about. SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from ivr import create_app
from ivr.alerts import run_alerts
from ivr.config import load_routing
from ivr.errors import ConfigError
from ivr.models import Callback, SmsMessage, Ticket, TicketEvent
from ivr.users import add_user

from conftest import CALL_SID, bucharest, sign, tickets_locked
from console_client import PASSWORD

CALLER = "+40722123456"
HOTLINE = "+40215894100"          # the number the caller dialled: the callback's caller ID
ANA_PHONE = "+40744000111"
MARIA_PHONE = "+40722000111"
OTHER_CALL = "CA" + "2" * 32


def with_callbacks(config_dir, within: str = "2h") -> None:
    """Edit the test's routing.yaml: callbacks within ``within``, and technical alerts maria."""
    path = config_dir / "routing.yaml"
    source = path.read_text()
    edited = source.replace("  dial_timeout: 20", f'  callback_within: "{within}"\n  dial_timeout: 20', 1).replace(
        "    deadline: fault\n", '    deadline: fault\n    alert: {before: "1h", to: ["user:maria"]}\n', 1)
    assert edited.count("callback_within") == 1 and edited.count("alert:") == 1
    path.write_text(edited)


@pytest.fixture
def config_dir(config_dir):
    """The shipped configuration with callbacks (``with_callbacks``)."""
    with_callbacks(config_dir)
    return config_dir


@pytest.fixture
def database_url(any_database_url):
    """SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    return any_database_url


@pytest.fixture
def app_config(app_config, twilio):
    """Twilio's REST API is the local stand-in, with a real account (not a local trial)."""
    return {**app_config, "TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_API_BASE_URL": twilio.base_url,
            "LOCAL_TRIAL_TOKEN": False}


@pytest.fixture
def users(db, clock):
    """Operator ana (phone +40744000111), operator ion (no phone), supervisor maria (+40722000111)."""
    with db.session() as session, session.begin():
        add_user(session, "ana", PASSWORD, "operator", clock(), phone=ANA_PHONE)
        add_user(session, "ion", PASSWORD, "operator", clock())
        add_user(session, "maria", PASSWORD, "supervisor", clock(), phone=MARIA_PHONE)


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


@pytest.fixture
def as_user(app, users):
    """A test client signed in as the given user, in the console's language ``lang``."""

    def signed_in(name: str, lang: str = "ro"):
        client = app.test_client()
        token = csrf(client.get("/console/login"))
        assert client.post("/console/login", data={"csrf_token": token, "name": name, "password": PASSWORD}).status_code == 302
        client.get(f"/console/language/{lang}")
        return client

    return signed_in


@pytest.fixture
def post(client):
    """Post a form as Twilio does, signed, to our number: ``post(path, From=..., **fields)``."""

    def posted(path: str, **fields: str):
        data = {"CallSid": CALL_SID, "AccountSid": "AC" + "0" * 32, "From": CALLER, "To": HOTLINE, **fields}
        return client.post(path, data=data, headers=sign("http://localhost" + path, data))

    return posted


def twiml(reply) -> ET.Element:
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return ET.fromstring(reply.get_data(as_text=True))


def said(root: ET.Element) -> str:
    return " ".join(e.text or "" for e in root.iter("Say"))


def tickets(db) -> list[tuple[Ticket, Callback | None]]:
    with db.session() as session:
        found = []
        for ticket in session.scalars(select(Ticket).order_by(Ticket.id)):
            callback = session.scalar(select(Callback).where(Callback.ticket_id == ticket.id))
            ticket.messages, ticket.events
            if callback is not None:
                callback.calls
            found.append((ticket, callback))
        return found


def events(db, kind_prefix: str = "callback_") -> list[tuple[str, str]]:
    with db.session() as session:
        rows = session.execute(select(TicketEvent.kind, TicketEvent.detail)
                               .where(TicketEvent.kind.like(kind_prefix + "%")).order_by(TicketEvent.id))
        return [tuple(row) for row in rows]


# -- the phone side: offered, chosen, declined ----------------------------------------------

def test_nobody_answering_offers_a_callback_before_the_voicemail(post):
    root = twiml(post("/voice/dial-status/technical?lang=ro", DialCallStatus="no-answer"))
    [gather] = root.iter("Gather")
    assert gather.get("action") == "/voice/callback/technical?lang=ro" and gather.get("numDigits") == "1"
    assert "sunat înapoi" in said(gather) and "la alt număr, apăsați tasta 2" in said(gather)
    assert not list(root.iter("Record"))
    assert root.find("Redirect").text == "/voice/callback/technical?lang=ro"  # nothing pressed: the voicemail


def test_a_department_without_reachable_operators_offers_it_too(config_dir, app_config, twilio):
    routing = config_dir / "routing.yaml"
    routing.write_text(routing.read_text().replace('operators: ["+40215894141"]', 'operators: ["user:ghost"]', 1))
    app = create_app(app_config)
    data = {"CallSid": CALL_SID, "From": CALLER, "To": HOTLINE, "Digits": "1"}
    reply = app.test_client().post("/voice/menu?lang=ro&attempt=1", data=data, headers=sign("http://localhost/voice/menu?lang=ro&attempt=1", data))
    assert [g.get("action") for g in twiml(reply).iter("Gather")] == ["/voice/callback/technical?lang=ro"]
    app.extensions["ivr.call_events"].flush(5)
    app.extensions["ivr.db"].engine.dispose()


def test_no_callback_is_offered_after_hours_or_without_callback_within(post, clock, config_dir, app_config):
    clock.now = bucharest(2026, 11, 17, 23, 0)
    root = twiml(post("/voice/menu?lang=ro&attempt=1", Digits="1"))
    assert list(root.iter("Record")) and "sunat înapoi" not in said(root)
    routing = config_dir / "routing.yaml"
    routing.write_text(routing.read_text().replace('  callback_within: "2h"\n', ""))
    app = create_app(app_config)
    data = {"CallSid": CALL_SID, "From": CALLER, "To": HOTLINE, "DialCallStatus": "busy"}
    path = "/voice/dial-status/technical?lang=ro"
    root = twiml(app.test_client().post(path, data=data, headers=sign("http://localhost" + path, data)))
    assert list(root.iter("Record")) and not list(root.iter("Gather"))
    app.extensions["ivr.call_events"].flush(5)
    app.extensions["ivr.db"].engine.dispose()


def test_declining_leaves_a_voicemail_and_makes_no_ticket(post, db):
    root = twiml(post("/voice/callback/technical?lang=ro"))  # the redirect: nothing pressed
    assert root.find("Record") is not None
    assert tickets(db) == []


def test_chosen_at_the_callers_own_number_is_a_ticket_with_its_sms(post, db, clock):
    root = twiml(post("/voice/callback/technical?lang=ro", Digits="1"))
    [(ticket, callback)] = tickets(db)
    assert ticket.source == "callback" and ticket.caller == CALLER and ticket.sms_to == CALLER
    assert ticket.number == "RC-2026-000001" and "R C, 2 0 2 6, 0 0 0 0 0 1" in said(root)
    assert "Departamentul Tehnic vă va suna înapoi" in said(root) and root.find("Hangup") is not None
    # The term is told as for a voicemail (technical: 3 working days from the next day).
    assert ticket.deadline_on.isoformat() == "2026-11-20" and "Termenul de soluționare este 20 noiembrie 2026." in said(root)
    assert (callback.number, callback.hotline_number) == (CALLER, HOTLINE)
    assert callback.requested_at == clock.now and callback.due_at == clock.now + timedelta(hours=2)
    assert [m.to for m in ticket.messages] == [CALLER] and ticket.number in ticket.messages[0].body
    assert [e.kind for e in ticket.events] == ["registered", "callback_requested"]
    again = twiml(post("/voice/callback/technical?lang=ro", Digits="1"))  # the keypress repeated
    assert len(tickets(db)) == 1 and "R C, 2 0 2 6, 0 0 0 0 0 1" in said(again)


def test_a_hung_database_gives_the_caller_a_voicemail_in_time_and_one_ticket(app_config):
    """The request's transaction waits on a lock held elsewhere (a hung server): the caller is
    answered within WEBHOOK_DATABASE_SECONDS, not past Twilio's 15 s, and may leave the
    complaint for the department chosen; the late request's ticket takes the voicemail too."""
    app = create_app({**app_config, "WEBHOOK_DATABASE_SECONDS": 1.0})
    db, client = app.extensions["ivr.db"], app.test_client()

    def posted(path: str, **fields: str):
        data = {"CallSid": CALL_SID, "From": CALLER, "To": HOTLINE, **fields}
        return client.post(path, data=data, headers=sign("http://localhost" + path, data))

    with tickets_locked(db):
        started = time.monotonic()
        root = twiml(posted("/voice/callback/technical?lang=ro", Digits="1"))
        assert time.monotonic() - started < 5
    assert "a apărut o problemă tehnică" in said(root)
    assert root.find("Record").get("action").startswith("/voice/recorded/technical?")
    deadline = time.monotonic() + 10
    while not tickets(db) and time.monotonic() < deadline:  # the late request commits
        time.sleep(0.1)
    recording = {"RecordingSid": "RE" + "a" * 32, "RecordingDuration": "20",
                 "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC00/Recordings/RE" + "a" * 32}
    twiml(posted(root.find("Record").get("action"), **recording))
    [(ticket, callback)] = tickets(db)
    assert ticket.source == "callback" and callback is not None and ticket.recording_sid == recording["RecordingSid"]
    assert [m.to for m in ticket.messages] == [CALLER]
    app.extensions["ivr.call_events"].stop(5)
    db.engine.dispose()


def test_chosen_at_another_number_a_landline_is_called_back_and_the_sms_goes_to_the_mobile(post, db):
    root = twiml(post("/voice/callback/technical?lang=en", Digits="2"))
    [gather] = root.iter("Gather")
    assert gather.get("action") == "/voice/callback-number/technical?lang=en&asked=1"
    assert "Key in the phone number" in said(gather)
    twiml(post("/voice/callback-number/technical?lang=en&asked=1", Digits="0212345678"))
    [(ticket, callback)] = tickets(db)
    assert callback.number == "+40212345678" and ticket.sms_to == CALLER and ticket.language == "en"


def test_a_withheld_caller_keys_in_the_number_and_is_asked_again_once(post, db):
    root = twiml(post("/voice/dial-status/technical?lang=ro", From="anonymous", DialCallStatus="no-answer"))
    assert "apăsați tasta 1" in said(root) and "apăsați tasta 2" not in said(root)
    voicemail = twiml(post("/voice/callback/technical?lang=ro", From="anonymous", Digits="2"))  # 2 is not offered
    assert [g.get("action") for g in voicemail.iter("Gather")] == ["/voice/sms-number/technical?lang=ro&asked=1"]
    asked = twiml(post("/voice/callback/technical?lang=ro", From="anonymous", Digits="1"))
    assert [g.get("action") for g in asked.iter("Gather")] == ["/voice/callback-number/technical?lang=ro&asked=1"]
    again = twiml(post("/voice/callback-number/technical?lang=ro&asked=1", From="anonymous", Digits="0049301234567"))
    assert "Nu putem suna" in said(again)  # abroad: not called back
    assert [g.get("action") for g in again.iter("Gather")] == ["/voice/callback-number/technical?lang=ro&asked=2"]
    twiml(post("/voice/callback-number/technical?lang=ro&asked=2", From="anonymous", Digits="0722999888#"))
    [(ticket, callback)] = tickets(db)
    assert ticket.caller is None and callback.number == "+40722999888" and ticket.sms_to == "+40722999888"


def test_a_wrong_number_twice_ends_in_the_voicemail(post, db):
    root = twiml(post("/voice/callback-number/technical?lang=ro&asked=2", From="anonymous", Digits="12"))
    assert "Nu putem suna" in said(root)
    assert [g.get("action") for g in root.iter("Gather")] == ["/voice/sms-number/technical?lang=ro&asked=1"]
    assert tickets(db) == []


@pytest.mark.parametrize("digits", ["0900123456#", "0800800800#"], ids=["premium-rate", "toll-free"])
def test_a_number_that_costs_per_call_or_is_nobodys_line_is_not_called_back(post, db, digits):
    """A caller could key in a premium-rate number and have the hotline's operators call it."""
    root = twiml(post("/voice/callback-number/technical?lang=ro&asked=1", From="anonymous", Digits=digits))
    assert "Nu putem suna" in said(root) and tickets(db) == []
    spoofed = twiml(post("/voice/dial-status/technical?lang=ro", From="+40900123456", DialCallStatus="no-answer"))
    assert "apăsați tasta 2" not in said(spoofed)  # its own number is not offered either


def test_a_location_independent_number_is_called_back(post, db):
    twiml(post("/voice/callback-number/technical?lang=ro&asked=1", From="anonymous", Digits="0371123456#"))
    [(_, callback)] = tickets(db)
    assert callback.number == "+40371123456"


def test_a_foreign_caller_is_not_called_back_at_their_own_number(post):
    root = twiml(post("/voice/dial-status/technical?lang=en", From="+4930123456789", DialCallStatus="no-answer"))
    assert "press 2" not in said(root) and "To be called back by an operator, press 1" in said(root)


# -- the console: the list and the call-back button -------------------------------------

def request_callback(post, clock, call_sid: str, at, caller: str = CALLER) -> None:
    clock.now = at
    twiml(post("/voice/callback/technical?lang=ro", CallSid=call_sid, From=caller, Digits="1"))


def test_the_list_shows_waiting_requests_oldest_first_in_romanian_and_english(post, clock, as_user):
    request_callback(post, clock, OTHER_CALL, bucharest(2026, 11, 17, 10, 30), caller="+40733111222")
    request_callback(post, clock, CALL_SID, bucharest(2026, 11, 17, 10, 0))
    clock.now = bucharest(2026, 11, 17, 12, 15)
    html = as_user("ana").get("/console/callbacks").get_data(as_text=True)
    # RC-2026-000002 was asked for at 10:00, RC-2026-000001 at 10:30: the older comes first.
    assert html.index("RC-2026-000002") < html.index("RC-2026-000001")
    assert html.index("17.11.2026 10:00") < html.index("17.11.2026 10:30")
    assert "Apeluri înapoi (2)" in html and "2 clienți așteaptă" in html and "Sună înapoi" in html
    assert "întârziat" in html  # due at 12:00
    english = as_user("ion", "en").get("/console/callbacks").get_data(as_text=True)
    assert "Callbacks (2)" in english and "2 callers wait to be called back" in english and "Call back" in english
    ion = as_user("ion", "en")
    for page in ("/console/", "/console/incidents", "/console/incidents/new"):  # the header count, on every page
        assert "Callbacks (2)" in ion.get(page).get_data(as_text=True), page
    refused = ion.get("/console/tickets/RC-2026-000001/resolve")  # an action's URL opened: the console's error page
    assert refused.status_code == 405 and "Callbacks (2)" in refused.get_data(as_text=True)


def test_call_back_rings_the_operator_then_the_customer_with_a_whisper(post, clock, as_user, twilio, db):
    request_callback(post, clock, CALL_SID, bucharest(2026, 11, 17, 10, 0))
    ana = as_user("ana")
    page = ana.get("/console/callbacks")
    [(_, callback)] = tickets(db)
    reply = ana.post(f"/console/callbacks/{callback.id}/call", data={"csrf_token": csrf(page)})
    assert reply.status_code == 303
    [placed] = twilio.placed_calls
    assert (placed["to"], placed["from"]) == (ANA_PHONE, HOTLINE)
    assert placed["url"] == "http://localhost/voice/callbacks/1/answer"
    assert placed["status_callback"] == "http://localhost/voice/callbacks/1/status"
    assert placed["status_callback_event"] == ["initiated", "ringing", "answered", "completed"]
    assert "Telefonul dumneavoastră +40744000111 sună" in ana.get("/console/callbacks").get_data(as_text=True)
    [(ticket, callback)] = tickets(db)
    assert callback.calls[0].call_sid == placed["sid"] and [e.kind for e in ticket.events][-1] == "callback_placed"

    leg = placed["sid"]
    whisper = twiml(post(urlsplit(placed["url"]).path, CallSid=leg, From=HOTLINE, To=ANA_PHONE))
    [gather] = whisper.iter("Gather")
    assert "Apel înapoi pentru reclamația R C, 2 0 2 6, 0 0 0 0 0 1, Departamentul Tehnic" in said(gather)
    assert gather.get("action") == "/voice/callbacks/1/connect"
    assert whisper.find("Hangup") is not None  # no key (a voicemail answered): the customer is not rung
    dial_root = twiml(post("/voice/callbacks/1/connect", CallSid=leg, From=HOTLINE, To=ANA_PHONE, Digits="1"))
    dial = dial_root.find("Dial")
    assert dial.get("callerId") == HOTLINE and dial.get("action") == "/voice/callbacks/1/dialled"
    number = dial.find("Number")
    assert number.text == CALLER and number.get("statusCallback") == "/voice/callbacks/1/customer-status"

    customer = "CA" + "c" * 32
    assert post("/voice/callbacks/1/customer-status", CallSid=customer, ParentCallSid=leg, CallStatus="completed",
                CallDuration="95").status_code == 204
    assert twiml(post("/voice/callbacks/1/dialled", CallSid=leg, DialCallStatus="completed", DialCallDuration="95")).find("Hangup") is not None
    assert post("/voice/callbacks/1/status", CallSid=leg, CallStatus="completed", CallDuration="120").status_code == 204
    assert events(db) == [("callback_requested", CALLER), ("callback_placed", f"ana {ANA_PHONE}"),
                          ("callback_answered", f"ana {ANA_PHONE} → {CALLER}, 95 s")]
    [(ticket, callback)] = tickets(db)
    assert callback.done_at is not None and callback.calls[0].outcome == "answered"
    assert "Nimeni nu așteaptă" in ana.get("/console/callbacks").get_data(as_text=True)


def test_a_callback_tickets_page_shows_its_request_and_calls_back_from_there(post, clock, as_user, twilio, db):
    request_callback(post, clock, CALL_SID, bucharest(2026, 11, 17, 10, 0))
    clock.now = bucharest(2026, 11, 17, 12, 15)
    ana, page_url = as_user("ana"), "/console/tickets/RC-2026-000001"
    page = ana.get(page_url)
    html = page.get_data(as_text=True)
    assert f'<dd class="ticket-callback">{CALLER}</dd>' in html
    assert "17.11.2026 12:00" in html and "întârziat" in html and "niciuna încă" in html
    assert 'action="/console/callbacks/1/call"' in html and f'name="back" value="{page_url}"' in html

    reply = ana.post("/console/callbacks/1/call", data={"csrf_token": csrf(page), "back": page_url})
    assert reply.status_code == 303 and reply.location.endswith(page_url)
    assert [c["to"] for c in twilio.placed_calls] == [ANA_PHONE]
    html = ana.get(page_url).get_data(as_text=True)
    assert "Telefonul dumneavoastră +40744000111 sună" in html and "ana sună înapoi" in html
    assert 'action="/console/callbacks/1/call"' not in html  # one call at a time

    elsewhere = ana.post("/console/callbacks/1/call", data={"csrf_token": csrf(page), "back": "https://example.com/console/"})
    assert elsewhere.location.endswith("/console/callbacks") and len(twilio.placed_calls) == 1


def test_a_local_trial_says_on_the_tickets_page_why_it_cannot_call_back(post, clock, app_config, users):
    request_callback(post, clock, CALL_SID, bucharest(2026, 11, 17, 10, 0))
    trial = create_app({**app_config, "LOCAL_TRIAL_TOKEN": True})  # the same database, no Twilio account
    client = trial.test_client()
    token = csrf(client.get("/console/login"))
    client.post("/console/login", data={"csrf_token": token, "name": "ana", "password": PASSWORD})
    html = client.get("/console/tickets/RC-2026-000001").get_data(as_text=True)
    assert "ticket-callback" in html and "Nu se pot face apeluri" in html and "/console/callbacks/1/call" not in html


def test_a_voicemail_tickets_page_has_no_callback(post, clock, as_user):
    clock.now = bucharest(2026, 11, 17, 10, 0)
    twiml(post("/voice/recorded/technical?lang=ro&sms=%2B40722123456", RecordingSid="RE" + "1" * 32,
               RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE" + "1" * 32,
               RecordingDuration="20"))
    html = as_user("ana").get("/console/tickets/RC-2026-000001").get_data(as_text=True)
    assert "RC-2026-000001" in html and "ticket-callback" not in html and "/console/callbacks/" not in html


def test_an_operator_without_a_phone_types_one_and_a_second_operator_is_refused(post, clock, as_user, twilio, db):
    request_callback(post, clock, CALL_SID, bucharest(2026, 11, 17, 10, 0))
    ion = as_user("ion", "en")
    [(_, callback)] = tickets(db)
    page = ion.get("/console/callbacks")
    ion.post(f"/console/callbacks/{callback.id}/call", data={"csrf_token": csrf(page)})
    assert "You have no phone" in ion.get("/console/callbacks").get_data(as_text=True) and twilio.placed_calls == []
    ion.post(f"/console/callbacks/{callback.id}/call", data={"csrf_token": csrf(page), "phone": "0744 000 222"})
    assert [c["to"] for c in twilio.placed_calls] == ["+40744000222"]
    html = ion.get("/console/callbacks").get_data(as_text=True)
    assert "ion is calling back" in html and 'name="phone"' not in html
    ana = as_user("ana", "en")
    ana.post(f"/console/callbacks/{callback.id}/call", data={"csrf_token": csrf(ana.get("/console/callbacks"))})
    assert "ion is already calling RC-2026-000001 back" in ana.get("/console/callbacks").get_data(as_text=True)
    assert len(twilio.placed_calls) == 1


def test_twilio_refusing_the_call_is_logged_and_the_button_comes_back(post, clock, as_user, twilio, db):
    request_callback(post, clock, CALL_SID, bucharest(2026, 11, 17, 10, 0))
    ana = as_user("ana", "en")
    [(_, callback)] = tickets(db)
    twilio.fail_next(400, 21215, "Account not authorized to call +40744000111")
    ana.post(f"/console/callbacks/{callback.id}/call", data={"csrf_token": csrf(ana.get("/console/callbacks"))})
    html = ana.get("/console/callbacks").get_data(as_text=True)
    assert "Twilio did not place the call" in html and "21215" in html and "not placed" in html
    assert 'name="phone"' in html  # may be tried again at once
    assert [kind for kind, _ in events(db)] == ["callback_requested", "callback_placed", "callback_not_placed"]


def test_the_console_pages_need_a_signed_in_user_and_the_button_a_csrf_token(client, post, clock, as_user, db):
    request_callback(post, clock, CALL_SID, bucharest(2026, 11, 17, 10, 0))
    assert client.get("/console/callbacks").status_code == 302
    assert as_user("ana").post("/console/callbacks/1/call", data={}).status_code == 400


# -- the callback call's status callbacks ---------------------------------------------------

@pytest.fixture
def placed(post, clock, as_user, twilio, db):
    """A callback request whose call back ana has placed; returns the operator leg's CallSid."""
    request_callback(post, clock, CALL_SID, bucharest(2026, 11, 17, 10, 0))
    ana = as_user("ana")
    ana.post("/console/callbacks/1/call", data={"csrf_token": csrf(ana.get("/console/callbacks"))})
    return twilio.placed_calls[0]["sid"]


def outcome_events(db) -> list[str]:
    return [kind for kind, _ in events(db) if kind not in ("callback_requested", "callback_placed")]


def test_the_operator_not_answering_is_logged_once_and_the_request_stays(placed, post, db):
    for status in ("initiated", "ringing", "no-answer", "no-answer", "ringing"):
        assert post("/voice/callbacks/1/status", CallSid=placed, CallStatus=status).status_code == 204
    assert outcome_events(db) == ["callback_operator_missed"]
    [(_, callback)] = tickets(db)
    assert callback.done_at is None and callback.calls[0].operator_status == "no-answer"


def test_the_customer_not_answering_is_logged_once_from_either_report(placed, post, db):
    twiml(post("/voice/callbacks/1/connect", CallSid=placed, Digits="1"))
    customer = "CA" + "d" * 32
    assert post("/voice/callbacks/1/customer-status", CallSid=customer, CallStatus="no-answer").status_code == 204
    told = twiml(post("/voice/callbacks/1/dialled", CallSid=placed, DialCallStatus="no-answer"))
    assert "Clientul nu a răspuns" in said(told)
    post("/voice/callbacks/1/customer-status", CallSid=customer, CallStatus="no-answer")  # repeated
    post("/voice/callbacks/1/status", CallSid=placed, CallStatus="completed", CallDuration="40")
    assert outcome_events(db) == ["callback_no_answer"]
    [(_, callback)] = tickets(db)
    assert callback.done_at is None and callback.calls[0].customer_status == "no-answer"


def test_out_of_order_the_operators_end_before_the_customers_answer(placed, post, db):
    twiml(post("/voice/callbacks/1/connect", CallSid=placed, Digits="1"))
    post("/voice/callbacks/1/status", CallSid=placed, CallStatus="completed", CallDuration="200")
    assert outcome_events(db) == []  # the customer's report is still to come
    post("/voice/callbacks/1/status", CallSid=placed, CallStatus="in-progress")  # late: changes nothing
    post("/voice/callbacks/1/customer-status", CallSid="CA" + "e" * 32, CallStatus="completed", CallDuration="180")
    assert outcome_events(db) == ["callback_answered"]
    [(_, callback)] = tickets(db)
    assert callback.calls[0].operator_status == "completed" and callback.calls[0].customer_seconds == 180
    assert callback.done_at is not None


def test_a_report_before_calls_create_answered_and_one_for_another_call(post, clock, as_user, db):
    from ivr.callbacks import start_attempt
    from ivr.models import User

    request_callback(post, clock, CALL_SID, bucharest(2026, 11, 17, 10, 0))
    as_user("ana")
    with db.session() as session, session.begin():
        start_attempt(session, 1, session.scalar(select(User).where(User.name == "ana")), ANA_PHONE, clock())
    leg = "CA" + "f" * 32
    post("/voice/callbacks/1/status", CallSid=leg, CallStatus="ringing")  # the SID is learnt from here
    post("/voice/callbacks/1/status", CallSid="CA" + "9" * 32, CallStatus="failed")  # not this attempt's call
    post("/voice/callbacks/2/status", CallSid=leg, CallStatus="failed")  # no such attempt
    [(_, callback)] = tickets(db)
    assert callback.calls[0].call_sid == leg and callback.calls[0].operator_status == "ringing"
    assert outcome_events(db) == []


def test_the_operator_not_pressing_1_never_rings_the_customer(placed, post, db):
    assert twiml(post("/voice/callbacks/1/connect", CallSid=placed, Digits="")).find("Dial") is None
    post("/voice/callbacks/1/status", CallSid=placed, CallStatus="completed", CallDuration="12")
    assert outcome_events(db) == ["callback_operator_missed"]


# -- the alert when nobody called back in time ------------------------------------------

def test_a_request_not_called_back_in_time_alerts_the_departments_supervisors_once(post, clock, users, app, db):
    hotline = app.extensions["ivr.hotline"]
    request_callback(post, clock, CALL_SID, bucharest(2026, 11, 17, 10, 0))
    request_callback(post, clock, OTHER_CALL, bucharest(2026, 11, 17, 10, 5), caller="+40733111222")
    with db.session() as session, session.begin():  # the second was called back
        session.scalar(select(Callback).where(Callback.id == 2)).done_at = bucharest(2026, 11, 17, 10, 30)
    assert run_alerts(db, hotline, bucharest(2026, 11, 17, 11, 59)).callbacks == 0
    assert run_alerts(db, hotline, bucharest(2026, 11, 17, 12, 0)).callbacks == 1
    assert run_alerts(db, hotline, bucharest(2026, 11, 17, 12, 30)).callbacks == 0
    with db.session() as session:
        sms = session.execute(select(SmsMessage.purpose, SmsMessage.to, SmsMessage.body)
                              .where(SmsMessage.purpose.like("alert_%"))).all()
    assert sms == [("alert_callback#0", MARIA_PHONE,
                    "ProNET Solutii IT: reclamatia RC-2026-000001 (Departamentul Tehnic): clientul asteapta din "
                    "17.11.2026 10:00 sa fie sunat inapoi.")]
    with db.session() as session:
        [alerted] = session.scalars(select(TicketEvent.data).where(TicketEvent.kind == "alerted")).all()
    # History as data, rendered in the reader's words ("cerere de apel înapoi din 17.11.2026 10:00, ...").
    assert alerted["told"] == [{"target": "user:maria", "number": MARIA_PHONE}] and alerted["untold"] == []
    assert datetime.fromisoformat(alerted["callback"]) == bucharest(2026, 11, 17, 10, 0)


def test_callback_within_must_be_a_time(config_dir):
    path = config_dir / "routing.yaml"
    path.write_text(path.read_text().replace('callback_within: "2h"', 'callback_within: "soon"'))
    with pytest.raises(ConfigError) as error:
        load_routing(path)
    assert error.value.problems == [f'{path}: hotline.callback_within: "soon" is not a time such as 30m, 2h or 1d']
