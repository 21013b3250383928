"""Status by phone: a caller with a complaint hears its state right after the greeting and may add a
message to it; a caller without a mobile number keys a complaint's number in; a slow database
never makes the menu wait. Whole calls through the softphone, signed like Twilio."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event, func, select, text

from ivr.models import CallerMessage, SmsMessage, Ticket, TicketEvent
from ivr.states import TicketStatus

from conftest import sign, transaction_left_open

MOBILE = "+40722123456"
LANDLINE = "+40215551234"
GREETING = ["Bună ziua, ați sunat la ProNET Soluții IT.", "Apelul este înregistrat."]
MENU_FIRST = "Pentru Departamentul Tehnic, apăsați 1."
CHOICES = "Ca să adăugați un mesaj la această reclamație, apăsați 1. Pentru o reclamație nouă, apăsați 2."
NEXT = "Pentru următoarea reclamație, apăsați 3."


@pytest.fixture
def database_url(any_database_url):
    """This feature reads and writes tickets: SQLite, and PostgreSQL when configured."""
    return any_database_url


@pytest.fixture
def db(app):
    """A session on the app's database, for setting tickets up and reading what the calls did."""
    with app.extensions["ivr.db"].session() as session:
        yield session


def tickets(db) -> list[Ticket]:
    """Every ticket, read fresh; the transaction is ended so that the calls are not kept waiting
    (SQLite's sessions take the write lock up front)."""
    db.expire_all()
    found = list(db.scalars(select(Ticket).order_by(Ticket.id)))
    db.commit()
    return found


def spoken_date(app, day) -> str:
    return app.extensions["ivr.hotline"].prompt_set("ro").spoken_date(day)


def test_a_caller_without_complaints_goes_straight_to_the_menu(place_call):
    caller, _ = place_call(caller=MOBILE, keys=["1"], dials=["completed"])
    assert caller.heard[:3] == [*GREETING, MENU_FIRST]


def test_one_open_complaint_is_told_right_after_the_greeting(app, place_call, db):
    place_call(caller=MOBILE, keys=["2"], records=[30])  # payments: 30 calendar days
    [ticket] = tickets(db)
    assert ticket.number == "RC-2026-000001"
    caller, log = place_call(caller=MOBILE, keys=[None], dials=["completed"])
    assert caller.heard[:4] == [
        *GREETING, f"Reclamația numărul 1 este în lucru. Termenul de soluționare este {spoken_date(app, ticket.deadline_on)}.",
        CHOICES,
    ]
    assert NEXT not in caller.heard  # only one
    assert caller.heard[4] == MENU_FIRST  # keyed nothing: the menu
    assert len(tickets(db)) == 1


@pytest.mark.parametrize("status", [TicketStatus.RESOLVED, TicketStatus.REJECTED])
def test_a_closed_complaint_is_told_without_the_offer_to_add_a_message(place_call, db, clock, status):
    """A message on a closed complaint was attached, acknowledged by SMS, and read by nobody:
    the caller hears the outcome, then the menu, which takes a new complaint."""
    place_call(caller=MOBILE, keys=["2"], records=[30])
    [ticket] = tickets(db)
    ticket.status, ticket.outcome, ticket.closed_at = status, "Factura a fost corectată.", clock.now
    db.commit()
    caller, log = place_call(caller=MOBILE, keys=["1"], dials=["completed"])
    assert any("Factura a fost corectată." in line for line in caller.heard)
    assert CHOICES not in caller.heard and "Vă facem legătura cu Departamentul Tehnic." in caller.heard
    assert db.scalars(select(CallerMessage)).all() == [] and not any("/voice/message" in url for url, _, _ in log.requests)
    # A rejected complaint's customer hears where to contest it, as its SMS told them.
    contest = "Puteți contesta decizia la ANCOM sau la ANPC."
    assert any(contest in line for line in caller.heard) == (status == TicketStatus.REJECTED)


def test_a_complaint_past_its_deadline_is_told_so_with_an_apology(app, place_call, db, clock):
    place_call(caller=MOBILE, keys=["2"], records=[30])  # payments: 30 calendar days
    [ticket] = tickets(db)
    clock.now += timedelta(days=35)
    caller, _ = place_call(caller=MOBILE, keys=[None], dials=["completed"])
    assert caller.heard[2] == (f"Reclamația numărul 1 este în lucru. Termenul de soluționare, "
                               f"{spoken_date(app, ticket.deadline_on)}, a fost depășit; ne cerem scuze pentru întârziere.")


def test_several_complaints_nearest_deadline_first_then_the_next_and_a_recently_closed_one(app, place_call, db, clock):
    place_call(caller=MOBILE, keys=["2"], records=[30])              # 1: payments, 30 days
    place_call(caller=MOBILE, keys=["2", "1"], records=[30])         # 2: technical, 3 working days
    place_call(caller=MOBILE, keys=["2", "3"], records=[30])         # 3: customer relations, 30 days
    first, second, third = tickets(db)
    assert second.deadline_at < first.deadline_at
    third.status, third.outcome, third.closed_at = TicketStatus.RESOLVED, "Am corectat factura.", clock.now
    db.commit()
    caller, _ = place_call(caller=MOBILE, keys=["3", "3", None])
    told = [line for line in caller.heard if line.startswith("Reclamația numărul")]
    assert told == [
        f"Reclamația numărul 2 este în lucru. Termenul de soluționare este {spoken_date(app, second.deadline_on)}.",
        f"Reclamația numărul 1 este în lucru. Termenul de soluționare este {spoken_date(app, first.deadline_on)}.",
        "Reclamația numărul 3 a fost soluționată. Am corectat factura.",
    ]
    assert caller.heard.count(NEXT) == 2  # not offered after the last one
    assert MENU_FIRST in caller.heard


def test_a_complaint_closed_more_than_30_days_ago_is_not_told(place_call, db, clock):
    place_call(caller=MOBILE, keys=["2"], records=[30])
    [ticket] = tickets(db)
    ticket.status, ticket.outcome, ticket.closed_at = TicketStatus.REJECTED, "Neîntemeiată.", clock.now - timedelta(days=31)
    db.commit()
    caller, _ = place_call(caller=MOBILE, keys=["1"], dials=["completed"])
    assert caller.heard[:3] == [*GREETING, MENU_FIRST]


def test_a_message_is_attached_with_one_sms_and_no_new_ticket_even_when_twilio_repeats(app, client, place_call, db):
    place_call(caller=MOBILE, keys=["2"], records=[30])
    caller, log = place_call(caller=MOBILE, keys=["1"], records=[20])
    assert "După semnal, spuneți mesajul pentru reclamația 1, apoi apăsați diez." in caller.heard
    assert "Mesajul a fost adăugat la reclamația 1." in caller.heard
    # Twilio repeats the recording callback and the action: nothing doubles.
    for url, data, _ in [r for r in log.requests if "/voice/message-" in r[0]] * 2:
        assert client.post(urlsplit(url).path + "?" + urlsplit(url).query, data=data, headers=sign(url, data)).status_code in (200, 204)
    db.expire_all()
    [ticket] = tickets(db)
    [message] = db.scalars(select(CallerMessage)).all()
    assert message.ticket_id == ticket.id and message.call_sid == log.call_sid
    assert message.recording_url == log.recordings[0]["RecordingUrl"] and message.recording_duration == 20
    acknowledgements = db.scalars(select(SmsMessage).where(SmsMessage.purpose.like("message_added%"))).all()
    assert [m.body for m in acknowledgements] == ["ProNET Solutii IT: am primit mesajul dvs. pentru reclamatia RC-2026-000001."]
    assert db.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.kind == "caller_message")) == 1


def test_a_message_not_heard_is_asked_for_once_more(place_call, db):
    place_call(caller=MOBILE, keys=["2"], records=[30])
    caller, _ = place_call(caller=MOBILE, keys=["1"], records=[0, 20])
    assert caller.heard.count("După semnal, spuneți mesajul pentru reclamația 1, apoi apăsați diez.") == 2
    assert caller.heard.count("Nu am auzit niciun mesaj.") == 1
    assert "Mesajul a fost adăugat la reclamația 1." in caller.heard
    assert len(db.scalars(select(CallerMessage)).all()) == 1


def test_a_message_not_heard_twice_ends_with_a_goodbye(place_call, db):
    place_call(caller=MOBILE, keys=["2"], records=[30])
    caller, log = place_call(caller=MOBILE, keys=["1"], records=[0, 0])
    assert caller.heard.count("Nu am auzit niciun mesaj.") == 2
    assert caller.heard[-1] == "Vă mulțumim că ați sunat la ProNET Soluții IT. La revedere."
    assert log.ended_by == "hangup" and db.scalars(select(CallerMessage)).all() == []


def test_a_new_complaint_from_the_status_goes_through_the_menu(place_call, db):
    place_call(caller=MOBILE, keys=["2"], records=[30])
    caller, _ = place_call(caller=MOBILE, keys=["2", "1"], records=[30])
    assert MENU_FIRST in caller.heard
    assert [t.number for t in tickets(db)] == ["RC-2026-000001", "RC-2026-000002"]
    assert db.scalars(select(CallerMessage)).all() == []


@pytest.mark.parametrize("keyed", ["1#", "000001#", "2026000001#"])
def test_a_landline_keys_its_complaint_in_from_the_menu(app, place_call, db, keyed, clock):
    place_call(caller=LANDLINE, keys=["2", "0722123456#"], records=[30])
    [ticket] = tickets(db)
    ticket.status, ticket.outcome, ticket.closed_at = TicketStatus.RESOLVED, "Date personale ale clientului.", clock.now
    db.commit()
    caller, _ = place_call(caller=LANDLINE, keys=["0", keyed, None])
    assert caller.heard[:2] == GREETING and caller.heard[2] == MENU_FIRST  # a landline is not looked up by itself
    assert "Pentru stadiul unei reclamații, apăsați 0." in caller.heard
    # The outcome goes only to the number it was told to: a keyed number may be anyone's.
    assert "Reclamația numărul 1 a fost soluționată." in caller.heard
    assert "Date personale" not in caller.transcript


def test_a_landline_adds_a_message_to_its_own_complaint_keyed_in(place_call, db):
    place_call(caller=LANDLINE, keys=["2", "0722123456#"], records=[30])
    caller, _ = place_call(caller=LANDLINE, keys=["0", "1#", "1"], records=[15])
    assert CHOICES in caller.heard and "Mesajul a fost adăugat la reclamația 1." in caller.heard
    assert [m.caller for m in db.scalars(select(CallerMessage))] == [LANDLINE]


def test_another_number_keying_a_complaint_in_hears_its_state_but_cannot_add_to_it(place_call, db):
    """Complaints' numbers are short and consecutive: anyone may key one in. They hear its
    state without the outcome, then the menu; adding a message (and texting its customer) is
    for the complaint's own numbers."""
    place_call(caller=MOBILE, keys=["2"], records=[30])
    for stranger in ("+40215550000", "anonymous"):
        caller, _ = place_call(caller=stranger, keys=["0", "1#", "1"], dials=["completed"])
        assert any(line.startswith("Reclamația numărul 1 este în lucru.") for line in caller.heard)
        assert CHOICES not in caller.heard and "Vă facem legătura cu Departamentul Tehnic." in caller.heard
    assert db.scalars(select(CallerMessage)).all() == []


def test_a_wrong_number_is_asked_once_more_then_the_menu(place_call, db):
    place_call(caller=MOBILE, keys=["2"], records=[30])
    caller, _ = place_call(caller=LANDLINE, keys=["0", "42#", "abc", "1"], dials=["completed"])
    assert caller.heard.count("Nu am găsit o reclamație cu acest număr.") == 2
    assert not any(line.startswith("Reclamația numărul") for line in caller.heard)
    assert caller.heard.count(MENU_FIRST) == 2  # the menu again after the second miss


def test_a_withheld_number_hears_nothing_without_the_complaints_number(place_call, db):
    place_call(caller="anonymous", keys=["2", None], records=[30])  # a ticket with no caller number
    caller, _ = place_call(caller="anonymous", keys=["1"], dials=["completed"])
    assert caller.heard[:3] == [*GREETING, MENU_FIRST]
    assert not any(line.startswith("Reclamația numărul") for line in caller.heard)
    caller, _ = place_call(caller="anonymous", keys=["0", "1#", None])
    assert any(line.startswith("Reclamația numărul 1 este în lucru.") for line in caller.heard)


@contextmanager
def _tickets_unanswered(app) -> Iterator[None]:
    """Within the block, the status lookup gets no answer. On PostgreSQL a transaction locks
    the table; SQLite's lookup reads past a writer (WAL), so there its statements on the
    tickets table wait here instead, as on a disk that stalls."""
    database = app.extensions["ivr.db"]
    if database.engine.dialect.name != "sqlite":
        with transaction_left_open(database, lambda s: s.execute(text("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE"))):
            yield
        return
    release = threading.Event()

    def stall(_connection, _cursor, statement, *_args) -> None:
        if "FROM tickets" in statement:
            release.wait(20)

    # Left on the engine once released (it then waits for nothing): removing it while a
    # statement it stalled is still being dispatched would fail that statement.
    event.listen(database.engine, "before_cursor_execute", stall)
    try:
        yield
    finally:
        release.set()


def test_a_slow_database_goes_straight_to_the_menu(app, twilio_post, place_call, db):
    place_call(caller=MOBILE, keys=["2"], records=[30])
    app.config["STATUS_LOOKUP_SECONDS"] = 0.5
    with _tickets_unanswered(app):
        started = time.monotonic()
        reply = twilio_post("/voice/incoming", caller=MOBILE)
        took = time.monotonic() - started
    body = reply.get_data(as_text=True)
    assert reply.status_code == 200 and took < 2.5
    assert "Reclamația numărul" not in body and MENU_FIRST in body


@pytest.mark.parametrize("sms_keys, told", [
    (["0722123456#"], "Dacă nu primiți SMS-ul de confirmare în câteva minute, vă rugăm să sunați din nou."),
    ([None], "Ca să fiți sigur că ajunge la noi, vă rugăm să sunați din nou mai târziu și să îl lăsați încă o dată."),
], ids=["confirmed by SMS", "no SMS number"])
def test_a_message_the_database_is_late_with_is_not_told_lost_and_lands_once(app, twilio_post, place_call, db, sms_keys, told):
    """The database answers past WEBHOOK_DATABASE_SECONDS: the caller is not told the message is
    lost (the late transaction commits it), nor asked to trust it. An SMS is promised only to a
    complaint that has an SMS number."""
    place_call(caller=LANDLINE, keys=["2", *sms_keys], records=[30])
    # Nothing said at first: the second take's URL carries what the message's action gets.
    _, log = place_call(caller=LANDLINE, keys=["0", "1#", "1"], records=[0])
    [second_take] = [urlsplit(url).query for url, _, _ in log.requests if "/voice/message-record?" in url]
    app.config["WEBHOOK_DATABASE_SECONDS"] = 0.5
    recording = {"RecordingSid": "RE" + "b" * 32, "RecordingDuration": "20",
                 "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC00/Recordings/RE" + "b" * 32}
    with _tickets_unanswered(app):
        reply = twilio_post("/voice/message-recorded?" + second_take, caller=LANDLINE, **recording)
    body = reply.get_data(as_text=True)
    assert "Nu am putut confirma încă salvarea mesajului." in body and told in body and "nu a putut fi salvat" not in body
    deadline = time.monotonic() + 10
    while not db.scalars(select(CallerMessage)).all() and time.monotonic() < deadline:
        db.commit()
        time.sleep(0.1)
    assert len(db.scalars(select(CallerMessage)).all()) == 1


def test_a_complaint_being_written_does_not_hold_up_the_status(app, twilio_post, place_call):
    """A caller's lookup reads past a transaction that writes (on SQLite it takes no write lock)."""
    place_call(caller=MOBILE, keys=["2"], records=[30])
    app.config["STATUS_LOOKUP_SECONDS"] = 0.5
    with transaction_left_open(app.extensions["ivr.db"], lambda s: s.execute(text("UPDATE tickets SET outcome = NULL"))):
        reply = twilio_post("/voice/incoming", caller=MOBILE)
    assert "Reclamația numărul 1 este în lucru" in reply.get_data(as_text=True)


def test_the_ticket_page_shows_the_added_message_in_its_history_and_recordings(app, place_call, db, clock):
    import re

    from ivr.users import add_user

    place_call(caller=MOBILE, keys=["2"], records=[30])
    place_call(caller=MOBILE, keys=["1"], records=[20])
    with app.extensions["ivr.db"].session() as session, session.begin():
        add_user(session, "maria", "a long enough password 1", "supervisor", clock())
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").get_data(as_text=True)).group(1)
    client.post("/console/login", data={"csrf_token": token, "name": "maria", "password": "a long enough password 1"})
    page = client.get("/console/tickets/RC-2026-000001").get_data(as_text=True)
    assert "mesaj vocal adăugat de client" in page
    assert "Mesaje adăugate de client" in page and "· 20 s" in page


@pytest.mark.parametrize("path", [
    "/voice/menu-start?lang=ro", "/voice/status-choice?lang=ro&ticket=RC-2026-000001&index=0",
    "/voice/status-number?lang=ro&asked=1", "/voice/message-recorded?lang=ro&ticket=RC-2026-000001",
    "/voice/message-status?lang=ro&ticket=RC-2026-000001",
])
def test_the_status_webhooks_refuse_unsigned_requests(client, path):
    assert client.post(path, data={"CallSid": "CA" + "1" * 32, "From": MOBILE, "Digits": "1"}).status_code == 403


def plan(app, look_up) -> str:
    """The database's plan for the one query ``look_up(session)`` sends."""
    from sqlalchemy import event

    database, sent = app.extensions["ivr.db"], []
    capture = lambda conn, cursor, statement, parameters, context, many: sent.append((statement, parameters))  # noqa: E731
    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.session() as session:
            look_up(session)
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    [(statement, parameters)] = sent
    with database.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            return " ".join(str(row[-1]) for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
        connection.exec_driver_sql("SET enable_seqscan = off")  # a tiny table is read whole anyway: could indexes serve?
        return " ".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters))


def test_a_callers_complaints_are_found_by_indexes_not_by_reading_every_ticket(app):
    """Every mobile caller's arrival asks, and a landline keys a number in: both lookups must stay
    cheap however many tickets a year makes."""
    from ivr.tickets.callers import callers_tickets, keyed_ticket

    hotline, now = app.extensions["ivr.hotline"], app.config["CLOCK"]()
    by_number = plan(app, lambda session: callers_tickets(session, hotline, MOBILE, now))
    assert "ix_tickets_caller" in by_number and "ix_tickets_sms_to" in by_number, by_number
    keyed = plan(app, lambda session: keyed_ticket(session, hotline, "123"))
    assert "ix_tickets_sequence" in keyed, keyed
