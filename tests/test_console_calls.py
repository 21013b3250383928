"""The console's calls over HTTP: the live card of the call an operator is on, a call's page
where the complaint told to the operator is registered (once, even when the form is posted
twice), the "not a complaint" reason, and the call log with its filters."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from ivr.models import CallRecord, Ticket, User
from ivr.users import add_user

from conftest import CALL_SID, bucharest, operator_answers
from console_client import PASSWORD

ANA_PHONE, ION_PHONE = "+40215894141", "+40215894142"
CALLER = "+40722123456"
OTHER_CALL = "CA" + "2" * 32


@pytest.fixture
def database_url(any_database_url):
    """These tests run on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    return any_database_url


@pytest.fixture
def users(db, clock):
    """Operators ana (answers on +40215894141, the shipped routing's operator number) and ion
    (+40215894142), supervisor maria."""
    with db.session() as session, session.begin():
        for name, role, phone in (("ana", "operator", ANA_PHONE), ("ion", "operator", ION_PHONE), ("maria", "supervisor", None)):
            add_user(session, name, PASSWORD, role, clock()).phone = phone


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


@pytest.fixture
def as_user(app, users):
    """A test client signed in as the given user."""

    def signed_in(name: str):
        client = app.test_client()
        token = csrf(client.get("/console/login"))
        assert client.post("/console/login", data={"csrf_token": token, "name": name, "password": PASSWORD}).status_code == 302
        return client

    return signed_in


@pytest.fixture
def answer(app, twilio_post, clock):
    """``answer(operator_phone, call_sid=..., caller=...)``: a caller picks Romanian's technical
    department (10:00, open) and the operator at that phone picks up after 7 seconds; the call
    log is written before it returns."""

    def answered(phone: str, call_sid: str = CALL_SID, caller: str = CALLER) -> None:
        start = clock.now
        assert twilio_post("/voice/incoming", caller, CallSid=call_sid).status_code == 200
        assert twilio_post("/voice/menu?lang=ro&attempt=1", caller, CallSid=call_sid, Digits="1").status_code == 200
        clock.now = start.replace(second=7)
        leg = "CA" + call_sid[2:][::-1]
        assert operator_answers(twilio_post, "technical", leg, call_sid, phone, caller) == 200
        clock.now = start
        assert app.extensions["ivr.call_events"].flush()

    return answered


def hang_up(app, twilio_post, call_sid: str = CALL_SID, duration: str = "95") -> None:
    assert twilio_post("/voice/status", CallSid=call_sid, CallStatus="completed", CallDuration=duration).status_code == 204
    assert app.extensions["ivr.call_events"].flush()


def register(client, call_sid: str = CALL_SID, page=None, **form):
    """Post the call page's complaint form as drawn (its hidden complaint number) with ``form``."""
    page = page or client.get(f"/console/calls/{call_sid}")
    html = page.get_data(as_text=True)
    complaint = re.search(r'name="complaint" value="(\d+)"', html).group(1)
    data = {"csrf_token": csrf(page), "complaint": complaint, "department": "technical",
            "summary": "Internetul cade seara de o săptămână.", "client_code": "", "sms_to": CALLER, **form}
    return client.post(f"/console/calls/{call_sid}/complaint", data=data)


def tickets(db) -> list[Ticket]:
    with db.session() as session:
        found = list(session.scalars(select(Ticket).order_by(Ticket.id)))
        for ticket in found:
            ticket.messages, ticket.assignee, ticket.events
        return found


def test_live_card_shows_the_answering_operators_call_only(app, as_user, answer, twilio_post, db):
    ana, ion = as_user("ana"), as_user("ion")
    assert ana.get("/console/live").get_data(as_text=True) == ""
    answer(ANA_PHONE)
    card = ana.get("/console/live")
    html = card.get_data(as_text=True)
    assert card.status_code == 200 and card.headers["Cache-Control"] == "no-store"
    assert 'id="live-card"' in html and CALLER in html
    assert "Departamentul Tehnic" in html and "Română" in html and "7 s" in html
    assert f"/console/calls/{CALL_SID}" in html
    assert ion.get("/console/live").get_data(as_text=True) == ""  # not ion's call
    hang_up(app, twilio_post)
    assert ana.get("/console/live").get_data(as_text=True) == ""  # the call ended


def test_live_card_lists_the_callers_earlier_tickets(app, as_user, answer, db):
    ana = as_user("ana")
    answer(ANA_PHONE, call_sid=OTHER_CALL)
    assert register(ana, OTHER_CALL).status_code == 303
    answer(ANA_PHONE)  # the same caller calls again
    html = ana.get("/console/live").get_data(as_text=True)
    assert 'data-call="' + CALL_SID in html
    [earlier] = tickets(db)
    assert earlier.number in html and "în lucru" in html
    assert f"Termen {earlier.deadline_on:%d.%m.%Y}" in html


def test_live_card_and_call_pages_need_a_signed_in_user(client):
    for path in ("/console/live", "/console/calls", f"/console/calls/{CALL_SID}"):
        reply = client.get(path)
        assert reply.status_code == 302 and "/console/login" in reply.headers["Location"], path


def test_pages_load_the_poller_for_signed_in_users_only(as_user, client):
    assert "live.js" not in client.get("/console/login").get_data(as_text=True)
    html = as_user("ana").get("/console/").get_data(as_text=True)
    assert 'src="/static/live.js"' in html and 'id="live-call" data-src="/console/live"' in html


def test_live_complaint_posted_twice_makes_one_ticket_with_its_sms(app, as_user, answer, db):
    ana = as_user("ana")
    answer(ANA_PHONE)
    page = ana.get(f"/console/calls/{CALL_SID}")
    html = page.get_data(as_text=True)
    assert '<option value="technical" selected>' in html and f'name="sms_to" type="tel" maxlength="20" value="{CALLER}"' in html
    first = register(ana, page=page, client_code="C-1234")
    second = register(ana, page=page, client_code="C-1234")  # the same form again (a double click)
    assert first.status_code == second.status_code == 303
    [ticket] = tickets(db)
    assert (ticket.source, ticket.status, ticket.assignee.name, ticket.client_code) == ("operator", "in_progress", "ana", "C-1234")
    assert (ticket.call_sid, ticket.call_complaint, ticket.caller, ticket.sms_to) == (CALL_SID, 1, CALLER, CALLER)
    [sms] = ticket.messages
    assert (sms.to, sms.status, sms.purpose) == (CALLER, "queued", "ticket_registered")
    assert ticket.number in sms.body

    shown = ana.get(first.headers["Location"]).get_data(as_text=True)
    spelled = re.search(r'<p class="spelled">(.*?)</p>', shown).group(1)
    assert " ".join(re.sub(r"<[^>]+>", "", spelled).split()) == "R C, 2 0 2 6, 0 0 0 0 0 1"  # to read to the caller
    months = app.extensions["ivr.hotline"].prompt_set("ro").months
    assert f"{ticket.deadline_on.day} {months[ticket.deadline_on.month - 1]} 2026" in shown  # the deadline in words
    assert f"SMS cu numărul și termenul către {CALLER}" in shown and "în așteptare" in shown
    assert f"Reclamația a fost înregistrată cu numărul {ticket.number}." in shown
    # The ticket's page links back to the call it was taken on.
    ticket_page = ana.get(f"/console/tickets/{ticket.number}").get_data(as_text=True)
    assert "<dt>Reclamația</dt>\n    <dd>spusă unui operator" in ticket_page and f'href="/console/calls/{CALL_SID}"' in ticket_page


def test_a_second_complaint_needs_the_explicit_choice(app, as_user, answer, db):
    ana = as_user("ana")
    answer(ANA_PHONE)
    assert register(ana).status_code == 303
    page = ana.get(f"/console/calls/{CALL_SID}")
    html = page.get_data(as_text=True)
    assert "Acest apel are deja un tichet." in html and 'name="second" value="1" required' in html
    refused = register(ana, page=page, summary="Factura e greșită.")
    assert refused.status_code == 422 and "bifați că este o a doua reclamație" in refused.get_data(as_text=True)
    assert len(tickets(db)) == 1
    assert register(ana, page=page, summary="Factura e greșită.", department="payments", second="1").status_code == 303
    first, second = tickets(db)
    assert (second.call_complaint, second.department, second.source) == (2, "payments", "operator")
    assert first.number != second.number


def test_a_form_drawn_before_a_colleagues_ticket_is_not_a_second_complaint(app, as_user, answer, db):
    ana, ion = as_user("ana"), as_user("ion")
    answer(ANA_PHONE)
    ana_page, ion_page = ana.get(f"/console/calls/{CALL_SID}"), ion.get(f"/console/calls/{CALL_SID}")
    assert register(ana, page=ana_page).status_code == 303
    assert register(ion, page=ion_page, summary="Altceva").status_code == 303  # finds ana's ticket
    [ticket] = tickets(db)
    assert ticket.assignee.name == "ana"


def test_registration_refusals_keep_what_was_typed(as_user, answer, db):
    ana = as_user("ana")
    answer(ANA_PHONE)
    empty = register(ana, summary="   ")
    assert empty.status_code == 422 and "Scrieți un scurt rezumat" in empty.get_data(as_text=True)
    landline = register(ana, sms_to="0215551234", summary="Nu merge")
    body = landline.get_data(as_text=True)
    assert landline.status_code == 422 and "nu este un mobil" in body and ">Nu merge</textarea>" in body
    forged = register(ana, complaint="7")
    assert forged.status_code == 422 and "Formularul nu mai este actual" in forged.get_data(as_text=True)
    assert 'name="complaint" value="1"' in forged.get_data(as_text=True)  # shown again as the call's next
    assert 'name="complaint" value="1"' in empty.get_data(as_text=True)
    assert tickets(db) == []


def test_no_sms_number_registers_without_sms(as_user, answer, db):
    ana = as_user("ana")
    answer(ANA_PHONE)
    shown = ana.get(register(ana, sms_to="").headers["Location"]).get_data(as_text=True)
    [ticket] = tickets(db)
    assert ticket.sms_to is None and ticket.messages == []
    assert "Clientul nu are număr pentru SMS: anunțați-l telefonic." in shown


def test_no_complaint_reason_is_stored(as_user, answer, db):
    ana = as_user("ana")
    answer(ANA_PHONE)
    page = ana.get(f"/console/calls/{CALL_SID}")
    assert '<option value="Cerere de informații">' in page.get_data(as_text=True)
    reply = ana.post(f"/console/calls/{CALL_SID}/no-complaint", data={"csrf_token": csrf(page), "reason": "Cerere de informații"})
    assert reply.status_code == 303
    with db.session() as session:
        call = session.scalars(select(CallRecord)).one()
        assert call.no_complaint_reason == "Cerere de informații"
        assert session.get(User, call.no_complaint_by_id).name == "ana"
    empty = ana.post(f"/console/calls/{CALL_SID}/no-complaint", data={"csrf_token": csrf(page), "reason": " "})
    assert empty.status_code == 422


def test_forms_need_the_csrf_token(as_user, answer, db):
    ana = as_user("ana")
    answer(ANA_PHONE)
    reply = ana.post(f"/console/calls/{CALL_SID}/complaint", data={"complaint": "1", "department": "technical", "summary": "x"})
    assert reply.status_code == 400 and tickets(db) == []


def test_call_log_lists_newest_first_and_filters(app, as_user, answer, twilio_post, clock, db):
    ana = as_user("ana")
    answer(ANA_PHONE, call_sid=OTHER_CALL, caller="+40733555111")
    hang_up(app, twilio_post, OTHER_CALL)
    clock.now = bucharest(2026, 11, 18, 11, 0)
    answer(ANA_PHONE)
    html = ana.get("/console/calls").get_data(as_text=True)
    assert html.index(CALL_SID) < html.index(OTHER_CALL)
    assert "preluat" in html and "în curs" in html and "95 s" in html
    only_today = ana.get("/console/calls?from=2026-11-18&to=2026-11-18").get_data(as_text=True)
    assert CALL_SID in only_today and OTHER_CALL not in only_today
    answered = ana.get("/console/calls?outcome=answered").get_data(as_text=True)
    assert OTHER_CALL in answered and CALL_SID not in answered
    assert CALL_SID not in ana.get("/console/calls?department=payments").get_data(as_text=True)
    assert register(ana, OTHER_CALL).status_code == 303
    no_ticket = ana.get("/console/calls?no_ticket=1").get_data(as_text=True)
    assert CALL_SID in no_ticket and OTHER_CALL not in no_ticket
    assert ana.get("/console/calls?from=2026-02-31&page=x&outcome=<b>").status_code == 200


def test_a_past_call_gets_its_complaint_from_the_log(app, as_user, answer, twilio_post, clock, db):
    """A caller whose call dropped: the next day another operator registers the complaint."""
    answer(ANA_PHONE)
    hang_up(app, twilio_post)
    clock.now = bucharest(2026, 11, 18, 9, 30)
    ion = as_user("ion")
    listing = ion.get("/console/calls?no_ticket=1").get_data(as_text=True)
    assert f'href="/console/calls/{CALL_SID}"' in listing
    assert register(ion).status_code == 303
    [ticket] = tickets(db)
    assert (ticket.assignee.name, ticket.source, ticket.call_sid) == ("ion", "operator", CALL_SID)
    assert ticket.registered_at == bucharest(2026, 11, 18, 9, 30)


def test_unknown_call_is_404(as_user):
    assert as_user("ana").get("/console/calls/CA" + "9" * 32).status_code == 404


@pytest.fixture
def with_twilio(app_config, twilio):
    """The app's Twilio account is the local stand-in (so the console can fetch recordings);
    ask for it before ``app``."""
    app_config.update(TWILIO_ACCOUNT_SID=twilio.account_sid, TWILIO_API_BASE_URL=twilio.base_url, LOCAL_TRIAL_TOKEN=False)
    return twilio


def test_call_page_plays_the_conversation_through_the_console(with_twilio, app, as_user, answer, twilio_post, db):
    ana = as_user("ana")
    answer(ANA_PHONE)
    assert ana.get(f"/console/calls/{CALL_SID}/recording").status_code == 404  # nothing recorded yet
    sid = "RE" + "c" * 32
    audio = with_twilio.add_recording(sid)
    url = f"https://api.twilio.com/2010-04-01/Accounts/{with_twilio.account_sid}/Recordings/{sid}"
    assert twilio_post("/voice/conversation-recording", RecordingSid=sid, RecordingUrl=url,
                       RecordingStatus="completed").status_code == 204
    assert app.extensions["ivr.call_events"].flush()
    assert f'<audio controls preload="metadata" src="/console/calls/{CALL_SID}/recording">' in ana.get(f"/console/calls/{CALL_SID}").get_data(as_text=True)
    reply = ana.get(f"/console/calls/{CALL_SID}/recording")
    assert reply.status_code == 200 and reply.mimetype.startswith("audio/") and reply.data == audio
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_call_pages_speak_the_consoles_language(as_user, answer, app):
    ana = as_user("ana")
    ana.get("/console/language/en")
    answer(ANA_PHONE)
    assert "On the line" in ana.get("/console/live").get_data(as_text=True)
    shown = ana.get(register(ana).headers["Location"]).get_data(as_text=True)
    assert "Read the number to the caller" in shown and "November 2026" in shown
    assert "hung up in the menu" in ana.get("/console/calls").get_data(as_text=True)
