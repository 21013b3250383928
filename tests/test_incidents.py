"""Outage notices: a supervisor declares an incident; callers to its departments hear its message
and join it with one key (a ticket, its number and SMS, no recording); closing it resolves the
linked tickets with one SMS each, once. The service, the voice webhooks, the console and the
exports; the whole thing in a browser is in test_incidents_browser.py."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ivr import incidents
from ivr.calls.incidents import ActiveIncidents
from ivr.tickets.casework import sms_text
from ivr.db import Database
from ivr.incidents import Declaration, IncidentInvalid
from ivr.models import Incident, IncidentTicket, SmsMessage, Ticket, User
from ivr.states import TicketStatus
from ivr.users import add_user

from conftest import CALL_SID, bucharest, transaction_left_open
from console_client import PASSWORD, csrf

EVERY = ["technical", "payments", "customer_relations"]
CLUJ_RO = "Există o întrerupere în zona Cluj, estimăm remedierea până la ora 18:00."
CLUJ_EN = "There is an outage in the Cluj area; we expect it fixed by 18:00."
OTHER_CALL = "CA" + "2" * 32


@pytest.fixture
def database_url(any_database_url):
    """These tests run on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    return any_database_url


@pytest.fixture
def maria(db, clock) -> int:
    """A supervisor, maria; returns her id."""
    with db.session() as session, session.begin():
        user = session.scalar(select(User).where(User.name == "maria")) or add_user(session, "maria", PASSWORD, "supervisor", clock())
        session.flush()
        return user.id


def declare(app, clock, departments=EVERY, hours: float = 8, starts=None, area="Cluj") -> int:
    """Declare an incident through the service as maria, from now (or ``starts``) for ``hours``;
    the voice webhooks' cache is told at once, as the console does. Returns its id."""
    db, hotline = app.extensions["ivr.db"], app.extensions["ivr.hotline"]
    begin = starts or clock()
    with db.session() as session, session.begin():
        user = session.scalar(select(User).where(User.name == "maria")) or add_user(session, "maria", PASSWORD, "supervisor", clock())
        incident = incidents.declare(session, hotline, Declaration(
            list(departments), area, {"ro": CLUJ_RO, "en": CLUJ_EN}, starts, begin + timedelta(hours=hours),
        ), user, clock())
        incident_id = incident.id
    app.extensions["ivr.incidents"].reload()
    return incident_id


def twiml(reply) -> ET.Element:
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return ET.fromstring(reply.get_data(as_text=True))


def said(document: ET.Element) -> str:
    return " ".join((e.text or "") for e in document.iter("Say"))


def linked(db, incident_id: int) -> list[Ticket]:
    with db.session() as session:
        found = incidents.tickets_of(session, incident_id)
        session.expunge_all()
        return found


def sms_of(db, number: str) -> list[SmsMessage]:
    with db.session() as session:
        return list(session.scalars(
            select(SmsMessage).join(Ticket).where(Ticket.number == number).order_by(SmsMessage.id)
        ))


# -- the voice webhooks ---------------------------------------------------------------------------

def test_an_incident_on_every_department_is_heard_right_after_the_greeting(app, clock, twilio_post):
    incident = declare(app, clock)
    doc = twiml(twilio_post("/voice/incoming"))
    assert [v.tag for v in doc] == ["Say", "Say", "Gather", "Redirect"]
    gather = doc.find("Gather")
    assert gather.get("action") == f"/voice/incident/{incident}?lang=ro" and gather.get("numDigits") == "1"
    message, offer = [s.text for s in gather.findall("Say")]
    assert message == CLUJ_RO and gather.find("Say").get("voice") == "Polly.Carmen"
    assert "apăsați tasta 1" in offer and "rămâneți pe linie" in offer
    assert "Departamentul Tehnic" not in said(doc)  # the menu comes after, for those who stay on the line
    english = twiml(twilio_post("/voice/incoming", caller="+447911123456"))
    assert english.find("Gather/Say").text == CLUJ_EN


def test_an_incident_on_one_department_is_heard_after_choosing_it(app, clock, twilio_post):
    incident = declare(app, clock, departments=["technical"])
    start = twiml(twilio_post("/voice/incoming"))
    assert CLUJ_RO not in said(start) and "Departamentul Tehnic" in said(start.find("Gather"))
    chosen = twiml(twilio_post("/voice/menu?lang=ro&attempt=1", Digits="1"))
    assert chosen.find("Gather").get("action") == f"/voice/incident/{incident}?lang=ro&department=technical"
    assert chosen.find("Gather/Say").text == CLUJ_RO and chosen.find("Dial") is None
    spoken = twiml(twilio_post("/voice/menu?lang=ro&attempt=1", SpeechResult="internet"))
    assert spoken.find("Gather/Say").text == CLUJ_RO


def test_an_incident_for_another_department_is_not_heard(app, clock, twilio_post):
    declare(app, clock, departments=["technical"])
    doc = twiml(twilio_post("/voice/menu?lang=ro&attempt=1", Digits="2"))
    assert CLUJ_RO not in said(doc)
    assert doc.find("Dial").get("action") == "/voice/dial-status/payments?lang=ro"


def test_an_expired_upcoming_or_closed_incident_is_not_heard(app, clock, twilio_post, db, maria):
    declare(app, clock, hours=2)
    declare(app, clock, starts=clock() + timedelta(hours=5), hours=1)
    clock.now += timedelta(hours=2)  # the first is over, the second not started
    doc = twiml(twilio_post("/voice/incoming"))
    assert CLUJ_RO not in said(doc) and doc.find("Gather").get("action") == "/voice/menu?lang=ro&attempt=1"
    clock.now += timedelta(hours=3, minutes=30)  # the second is on
    assert CLUJ_RO in said(twiml(twilio_post("/voice/incoming")))
    with db.session() as session, session.begin():
        second = session.scalar(select(Incident).where(Incident.starts_at > bucharest(2026, 11, 17, 12, 0)))
        incidents.close(session, app.extensions["ivr.hotline"], second.id, session.get(User, maria), "", clock())
    app.extensions["ivr.incidents"].reload()
    assert CLUJ_RO not in said(twiml(twilio_post("/voice/incoming")))


def test_the_caller_who_does_not_press_the_key_goes_the_usual_way(app, clock, twilio_post):
    everywhere = declare(app, clock)
    # Before the menu: silence brings the menu; a department's key is taken as the menu's.
    silence = twiml(twilio_post(f"/voice/incident/{everywhere}?lang=ro"))
    assert silence.find("Gather").get("action") == "/voice/menu?lang=ro&attempt=1"
    assert "Departamentul Tehnic" in said(silence) and CLUJ_RO not in said(silence)
    keyed = twiml(twilio_post(f"/voice/incident/{everywhere}?lang=ro", Digits="2"))
    assert keyed.find("Dial").get("action") == "/voice/dial-status/payments?lang=ro"
    # After choosing a department: on to its operators, without hearing the notice again.
    one = declare(app, clock, departments=["technical"])
    after = twiml(twilio_post(f"/voice/incident/{one}?lang=ro&department=technical"))
    assert after.find("Dial").get("action") == "/voice/dial-status/technical?lang=ro" and CLUJ_RO not in said(after)
    with app.extensions["ivr.db"].session() as session:
        assert session.scalar(select(func.count(Ticket.id))) == 0


def test_one_key_joins_the_incident_with_a_ticket_a_number_and_the_sms(app, clock, twilio_post, db):
    incident = declare(app, clock, departments=["technical"])
    doc = twiml(twilio_post(f"/voice/incident/{incident}?lang=ro&department=technical", Digits="1"))
    [ticket] = linked(db, incident)
    assert (ticket.source, ticket.department, ticket.caller, ticket.sms_to, ticket.recording_sid) == (
        "incident", "technical", "+40722123456", "+40722123456", None)
    words = said(doc)
    assert "V-am adăugat la lista clienților afectați" in words
    assert f"numărul {' '.join(ticket.number.split('-')[0])}" in words  # the number, spelled
    assert doc[-1].tag == "Hangup" and doc.find("Record") is None
    [sms] = sms_of(db, ticket.number)
    assert sms.purpose == "ticket_registered" and ticket.number in sms.body and sms.to == "+40722123456"
    # Twilio repeats the request: the same ticket, number and SMS, nothing doubled.
    again = twiml(twilio_post(f"/voice/incident/{incident}?lang=ro&department=technical", Digits="1"))
    assert [t.number for t in linked(db, incident)] == [ticket.number]
    assert said(again) == words and len(sms_of(db, ticket.number)) == 1
    with db.session() as session:
        assert session.scalar(select(func.count(Ticket.id))) == 1
        assert session.scalar(select(func.count(IncidentTicket.id))) == 1


def test_joining_before_the_menu_files_the_ticket_under_the_first_department(app, clock, db, place_call):
    incident = declare(app, clock)
    ui, _ = place_call(keys=["1"])
    assert CLUJ_RO in ui.transcript and "V-am adăugat" in ui.transcript
    [ticket] = linked(db, incident)
    assert ticket.department == "technical" and ticket.number.replace("-", "") in ui.transcript.replace(" ", "").replace(",", "")


def test_a_caller_told_their_complaint_first_hears_the_notice_before_the_menu(app, clock, db, place_call, twilio_post):
    """A caller with a complaint hears its state right after the greeting, before the notice:
    whatever they do next, the notice comes before the menu (they are the likeliest to call
    about the outage), and once only: keyed in from the menu, a state is told after it."""
    place_call(keys=["2"], records=[30])  # an earlier complaint of this mobile
    incident = declare(app, clock)
    ui, _ = place_call(keys=["2", "1"])  # a new complaint, then the key that joins
    assert ui.transcript.index("Reclamația numărul 1 este în lucru") < ui.transcript.index(CLUJ_RO)
    assert "V-am adăugat" in ui.transcript and len(linked(db, incident)) == 1
    waited = twiml(twilio_post("/voice/menu-start?lang=ro&notice=1"))
    assert waited.find("Gather/Say").text == CLUJ_RO
    keyed = twiml(twilio_post("/voice/menu-start?lang=ro"))
    assert CLUJ_RO not in said(keyed) and "Departamentul Tehnic" in said(keyed)


def test_a_withheld_caller_joins_without_an_sms(app, clock, twilio_post, db):
    incident = declare(app, clock)
    doc = twiml(twilio_post(f"/voice/incident/{incident}?lang=ro", caller="anonymous", Digits="1"))
    [ticket] = linked(db, incident)
    assert ticket.caller is None and ticket.sms_to is None and sms_of(db, ticket.number) == []
    assert "V-am adăugat la lista clienților afectați." in said(doc) and "prin SMS" not in said(doc)


def test_a_closed_incident_takes_the_keypress_as_the_usual_complaint(app, clock, twilio_post, db, maria):
    incident = declare(app, clock, departments=["technical"])
    with db.session() as session, session.begin():
        incidents.close(session, app.extensions["ivr.hotline"], incident, session.get(User, maria), "", clock())
    doc = twiml(twilio_post(f"/voice/incident/{incident}?lang=ro&department=technical", Digits="1"))
    assert doc.find("Record") is not None and linked(db, incident) == []


def test_the_notice_fails_open_when_the_database_is_away(app, clock, twilio_post, tmp_path):
    declare(app, clock)
    away = Database.connect(f"sqlite:///{tmp_path / 'no-such-dir' / 'ivr.sqlite3'}")
    app.extensions["ivr.incidents"] = ActiveIncidents(away, clock, ttl=15, first_wait=0.5)
    started = time.monotonic()
    doc = twiml(twilio_post("/voice/incoming"))
    assert time.monotonic() - started < 3
    assert CLUJ_RO not in said(doc) and doc.find("Gather").get("action") == "/voice/menu?lang=ro&attempt=1"


def test_the_notices_are_read_from_memory_within_their_ttl(app, clock, db):
    cache = ActiveIncidents(db, clock, ttl=60)
    assert cache.active(clock()) == []  # the first read
    incident = declare(app, clock)
    assert cache.active(clock()) == []  # not read again within the minute
    cache.reload()
    assert [n.id for n in cache.active(clock())] == [incident]
    clock.now += timedelta(hours=9)  # over: decided at each call, from the times
    assert cache.active(clock()) == []


# -- the service ----------------------------------------------------------------------------------

def test_a_declaration_names_every_field_that_is_wrong(app, clock, hotline):
    now = clock()
    problems = incidents.check_declaration(hotline, Declaration([], "x" * 201, {"ro": " ", "en": "y" * 501}, None, None), now)
    assert {(p.field, p.reason) for p in problems} == {
        ("departments", "required"), ("area", "too_long"), ("message_ro", "required"),
        ("message_en", "too_long"), ("ends", "required"),
    }
    problems = incidents.check_declaration(
        hotline, Declaration(["technical", "billing"], "", {"ro": "a", "en": "b"}, now, now - timedelta(minutes=1)), now)
    assert {(p.field, p.reason) for p in problems} == {("departments", "unknown_department"), ("ends", "not_after_start")}
    with pytest.raises(IncidentInvalid):
        with app.extensions["ivr.db"].session() as session:
            incidents.declare(session, hotline, Declaration([], "", {}, None, None), User(name="maria"), now)


def test_declaring_keeps_the_departments_in_menu_order_and_the_messages(app, clock, db):
    incident = declare(app, clock, departments=["customer_relations", "technical", "technical"], area="  Cluj  ")
    with db.session() as session:
        found = session.get(Incident, incident)
        assert found.departments == ["technical", "customer_relations"] and found.area == "Cluj"
        assert found.messages == {"ro": CLUJ_RO, "en": CLUJ_EN} and found.declared_by == "maria"
        assert found.starts_at == clock() and found.active(clock())


def test_the_list_shows_active_incidents_first(app, clock, db, maria):
    ended = declare(app, clock, hours=1)
    later = declare(app, clock, starts=clock() + timedelta(days=1))
    clock.now += timedelta(hours=2)
    active = declare(app, clock)
    with db.session() as session:
        assert [i.id for i in incidents.list_incidents(session, clock())] == [active, later, ended]


def join(app, clock, incident: int, call_sid: str, caller: str | None = "+40722123456", language: str = "ro") -> str:
    db, hotline = app.extensions["ivr.db"], app.extensions["ivr.hotline"]
    with db.session() as session, session.begin():
        return incidents.join(session, hotline, incident, call_sid=call_sid, department="technical", caller=caller,
                              sms_to=caller, language=language, now=clock()).number


def test_a_caller_who_joined_before_finds_their_ticket_when_joining_again(app, clock, db):
    """Called again while the outage lasts, a caller hears the notice again: a second keypress
    must not make a second ticket, SMS and, at the close, a second resolution SMS."""
    incident = declare(app, clock, departments=["technical"])
    first = join(app, clock, incident, CALL_SID)
    assert join(app, clock, incident, OTHER_CALL) == first
    assert [t.number for t in linked(db, incident)] == [first] and len(sms_of(db, first)) == 1
    assert join(app, clock, incident, "CA" + "3" * 32, caller=None) != join(app, clock, incident, "CA" + "4" * 32, caller=None)


def test_a_caller_joining_while_a_supervisor_closes_is_not_left_on_the_closed_incident(app, clock, db, hotline, maria):
    """On PostgreSQL the join read the incident open, waited for the closing's lock, then
    committed after it: an open ticket on a closed incident, its promised SMS never sent."""
    incident = declare(app, clock, departments=["technical"])
    joined = {}

    def close(session) -> None:
        incidents.close(session, hotline, incident, session.get(User, maria), "Remediat.", clock())
        session.flush()

    def join_now() -> None:
        with db.session() as session, session.begin():
            joined["ticket"] = incidents.join(session, hotline, incident, call_sid=CALL_SID, department="technical",
                                              caller="+40722123456", sms_to="+40722123456", language="ro", now=clock())

    with transaction_left_open(db, close):
        joiner = threading.Thread(target=join_now)
        joiner.start()
        time.sleep(0.5)  # the join waits on the closing supervisor's transaction
    joiner.join(10)
    assert joined == {"ticket": None} and linked(db, incident) == []


def test_closing_resolves_each_linked_ticket_once_with_one_sms(app, clock, db, hotline, maria):
    incident = declare(app, clock, departments=["technical"])
    first = join(app, clock, incident, CALL_SID)
    second = join(app, clock, incident, OTHER_CALL, caller="+40733555111", language="en")
    withheld = join(app, clock, incident, "CA" + "3" * 32, caller=None)
    assert join(app, clock, incident, CALL_SID) == first  # a repeated keypress finds its ticket
    clock.now += timedelta(hours=3)
    message = "Conexiunea a fost restabilită la ora 13:00."
    with db.session() as session:
        preview = incidents.preview_close(session, hotline, session.get(Incident, incident), message, clock())
        tickets = {t.number: t for t in incidents.tickets_of(session, incident)}
        assert (preview.resolved, preview.sms, preview.left_open) == (3, 2, [])
        assert preview.samples == [(first, sms_text(hotline, tickets[first], "ticket_resolved", message=message)),
                                   (second, sms_text(hotline, tickets[second], "ticket_resolved", message=message))]
    for _ in range(2):  # a double click
        with db.session() as session, session.begin():
            closed = incidents.close(session, hotline, incident, session.get(User, maria), message, clock())
    assert closed.already and closed.resolved == []
    assert {t.number: t.status for t in linked(db, incident)} == dict.fromkeys([first, second, withheld], TicketStatus.RESOLVED)
    for number in (first, second):
        purposes = [m.purpose for m in sms_of(db, number)]
        assert purposes == ["ticket_registered", "ticket_resolved#1"]
    assert "Conexiunea a fost restabilita la ora 13:00." in sms_of(db, first)[-1].body
    assert sms_of(db, withheld) == []
    with db.session() as session:
        found = session.get(Incident, incident)
        assert (found.closed_by, found.resolution, found.closed_at) == ("maria", message, clock())


def test_closing_without_a_message_leaves_the_tickets_open(app, clock, db, hotline, maria):
    incident = declare(app, clock, departments=["technical"])
    first, second = join(app, clock, incident, CALL_SID), join(app, clock, incident, OTHER_CALL, caller="+40733555111")
    with db.session() as session, session.begin():
        closed = incidents.close(session, hotline, incident, session.get(User, maria), "  ", clock())
    assert closed.resolved == [] and not closed.already
    assert {t.status for t in linked(db, incident)} == {TicketStatus.REGISTERED}
    assert len(sms_of(db, first)) == len(sms_of(db, second)) == 1


# -- the console ----------------------------------------------------------------------------------

def form(client, path: str, **fields):
    token = csrf(client.get(path))
    return client.post(path if not path.endswith("/new") else "/console/incidents", data={"csrf_token": token, **fields})


def test_only_supervisors_declare_and_close(app, clock, as_user):
    incident = declare(app, clock)
    ana = as_user("ana")
    assert ana.get("/console/incidents").status_code == 200  # an operator on the phone needs to know
    assert ana.get(f"/console/incidents/{incident}").status_code == 200
    token = csrf(ana.get("/console/incidents"))
    assert ana.get("/console/incidents/new").status_code == 403
    assert ana.post("/console/incidents", data={"csrf_token": token, "departments": "technical"}).status_code == 403
    assert ana.post(f"/console/incidents/{incident}/close", data={"csrf_token": token}).status_code == 403
    assert "Declară o întrerupere" not in ana.get("/console/incidents").get_data(as_text=True)
    assert app.test_client().get("/console/incidents").status_code == 302  # signed out: to the sign-in


def test_a_supervisor_declares_and_callers_hear_it_at_once(app, clock, as_user, twilio_post):
    maria = as_user("maria")
    twiml(twilio_post("/voice/incoming"))  # the cache has read "no incident"
    reply = form(maria, "/console/incidents/new", departments=EVERY, area="Cluj", message_ro=CLUJ_RO,
                 message_en=CLUJ_EN, ends="2026-11-17T18:00")
    assert reply.status_code == 303
    page = maria.get(reply.location).get_data(as_text=True)
    assert "Întreruperea #1 a fost declarată" in page and "activă" in page and "Cluj" in page and CLUJ_RO in page
    assert "17.11.2026 18:00" in page and "maria" in page
    assert CLUJ_RO in said(twiml(twilio_post("/voice/incoming")))
    listing = maria.get("/console/incidents").get_data(as_text=True)
    assert "Întreruperi" in listing and "Departamentul Tehnic, Departamentul Plăți" in listing and "0 reclamații" in listing
    maria.get("/console/language/en")
    listing = maria.get("/console/incidents").get_data(as_text=True)
    assert "Outages" in listing and "active" in listing and "0 complaints" in listing and "Technical support" in listing


@pytest.mark.parametrize("lang, expected", [
    ("ro", ["Departamente afectate: câmpul este obligatoriu.", "Mesajul pentru apelanți (Română): câmpul este obligatoriu.",
            "Remediere estimată la: nu este o dată și o oră."]),
    ("en", ["Departments affected: this field is required.", "Message for callers (English): this field is required.",
            "Expected fix at: not a date and time."]),
])
def test_declaring_says_which_field_is_wrong(app, as_user, lang, expected):
    maria = as_user("maria")
    maria.get(f"/console/language/{lang}")
    reply = form(maria, "/console/incidents/new", message_ro=CLUJ_RO if lang == "en" else "", message_en="" if lang == "en" else CLUJ_EN,
                 ends="mâine seară")
    page = reply.get_data(as_text=True)
    assert reply.status_code == 422
    for text in expected:
        assert text in page
    assert (CLUJ_RO if lang == "en" else CLUJ_EN) in page  # what was typed stays
    with app.extensions["ivr.db"].session() as session:
        assert session.scalar(select(func.count(Incident.id))) == 0


def test_declaring_an_end_in_the_past_is_refused(as_user):
    maria = as_user("maria")
    reply = form(maria, "/console/incidents/new", departments="technical", message_ro="a", message_en="b",
                 ends="2026-11-17T09:00")
    assert reply.status_code == 422
    assert "Remediere estimată la: trebuie să fie după începutul întreruperii" in reply.get_data(as_text=True)


def test_closing_previews_the_sms_once_then_resolves_and_a_second_click_sends_nothing(app, clock, as_user, db, hotline):
    incident = declare(app, clock, departments=["technical"])
    first, second = join(app, clock, incident, CALL_SID), join(app, clock, incident, OTHER_CALL, caller="+40733555111")
    maria = as_user("maria")
    message = "Conexiunea a fost restabilită."
    path = f"/console/incidents/{incident}"
    token = csrf(maria.get(path))
    preview = maria.post(f"{path}/close", data={"csrf_token": token, "text": message})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Se trimit 2 SMS-uri." in page and "Se soluționează 2 reclamații." in page
    with db.session() as session:
        expected = sms_text(hotline, incidents.tickets_of(session, incident)[0], "ticket_resolved", message=message)
    assert expected.text in page and linked(db, incident)[0].status == TicketStatus.REGISTERED  # nothing sent yet
    confirm = {"csrf_token": token, "text": message, "confirm": "1"}
    done = maria.post(f"{path}/close", data=confirm)
    assert done.status_code == 303
    assert "Întreruperea a fost închisă; 2 reclamații soluționate." in maria.get(done.location).get_data(as_text=True)
    again = maria.post(f"{path}/close", data=confirm)
    assert "era deja închisă; nu s-a trimis nimic" in maria.get(again.location).get_data(as_text=True)
    for number in (first, second):
        assert [m.purpose for m in sms_of(db, number)] == ["ticket_registered", "ticket_resolved#1"]
    page = maria.get(path).get_data(as_text=True)
    assert "închisă" in page and message in page and "Închide întreruperea" not in page


def test_the_ticket_page_shows_its_incident(app, clock, as_user):
    incident = declare(app, clock, departments=["technical"])
    number = join(app, clock, incident, CALL_SID)
    page = as_user("maria").get(f"/console/tickets/{number}").get_data(as_text=True)
    assert f'href="/console/incidents/{incident}"' in page and f"Întreruperea #{incident}" in page
    assert "adăugată la o întrerupere, cu o tastă" in page
    listed = as_user("maria").get(f"/console/incidents/{incident}").get_data(as_text=True)
    assert f'href="/console/tickets/{number}"' in listed and "+40722123456" in listed


# -- ivr export -----------------------------------------------------------------------------------

def test_ivr_export_lists_incidents_and_the_incident_of_each_ticket(app, clock, db, hotline, maria, cli_env, runner):
    from test_export import export

    incident = declare(app, clock, departments=["technical", "payments"])
    number = join(app, clock, incident, CALL_SID)
    with db.session() as session, session.begin():
        incidents.close(session, hotline, incident, session.get(User, maria), "=Rezolvat.", clock() + timedelta(hours=1))
    header, rows = export(runner, "incidents", "--from", "2026-11-17", "--to", "2026-11-17")
    assert header == [*incidents_columns(), "message_ro", "message_en"]
    assert rows == [{
        "id": str(incident), "declared_at": "2026-11-17T10:00:00+02:00", "declared_by": "maria",
        "departments": "technical;payments", "area": "Cluj", "starts_at": "2026-11-17T10:00:00+02:00",
        "ends_at": "2026-11-17T18:00:00+02:00", "closed_at": "2026-11-17T11:00:00+02:00", "closed_by": "maria",
        "tickets": "1", "tickets_open": "0", "resolution": "'=Rezolvat.", "message_ro": CLUJ_RO, "message_en": CLUJ_EN,
    }]
    assert export(runner, "incidents", "--from", "2026-11-18", "--to", "2026-11-18")[1] == []
    _, tickets = export(runner, "tickets", "--from", "2026-11-17", "--to", "2026-11-17")
    assert [(t["number"], t["source"], t["incident"]) for t in tickets] == [(number, "incident", str(incident))]


def incidents_columns() -> list[str]:
    from ivr.exports import INCIDENT_COLUMNS

    return list(INCIDENT_COLUMNS)
