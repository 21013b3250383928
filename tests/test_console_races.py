"""Two operators acting on one ticket at the same moment: the ticket row is locked, so one
wins and the other is told in words what happened, with one event and one SMS.

Each race is real: the first operator's transaction holds the ticket's row lock (taken the way
the console takes it) while the second operator's request runs in another thread on its own
connection; the first then commits. On SQLite and, with IVR_TEST_DATABASE_URL, PostgreSQL.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select, text

from ivr.tickets import casework
from ivr.models import SmsMessage, Ticket, TicketEvent, User
from ivr.tickets.queries import get_ticket

from console_client import csrf, sign_in, voicemail

WAIT_SECONDS = 10


@pytest.fixture
def database_url(any_database_url):
    """The console's database: SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    return any_database_url


@pytest.fixture
def db(app):
    """The app's database."""
    yield app.extensions["ivr.db"]
    app.extensions["ivr.db"].engine.dispose()


def _signed_in(app, name: str, number: str):
    """A client signed in as ``name`` and the CSRF token of the ticket's page."""
    client = app.test_client()
    assert sign_in(client, name).status_code == 302
    return client, csrf(client.get(f"/console/tickets/{number}"))


def _wait_until_blocked(session, started: float) -> None:
    """Return once another transaction waits for this one's locks (PostgreSQL), or after a
    moment (SQLite, whose BEGIN IMMEDIATE makes the other request wait for the whole transaction)."""
    if session.get_bind().dialect.name != "postgresql":
        time.sleep(0.5)
        return
    xid = session.execute(text("select pg_current_xact_id()::text")).scalar_one()
    waiting = text("select count(*) from pg_locks where locktype = 'transactionid' "
                   "and transactionid::text = :xid and not granted")
    while not session.execute(waiting, {"xid": xid}).scalar_one():
        assert time.monotonic() - started < WAIT_SECONDS, "the second request never reached the ticket"
        time.sleep(0.05)


def race(app, db, number: str, first, second_client, second_path: str, form: dict):
    """Run ``first(session, ticket)`` in a transaction holding the ticket's row lock while
    ``second_client`` posts ``form`` to ``second_path``; returns the second reply."""
    replies = []
    with db.session() as session, session.begin():
        first(session, get_ticket(session, number, for_update=True))
        session.flush()
        worker = threading.Thread(target=lambda: replies.append(second_client.post(second_path, data=form)))
        worker.start()
        _wait_until_blocked(session, time.monotonic())
        assert worker.is_alive(), "the second operator did not wait for the first"
    worker.join(WAIT_SECONDS)
    assert not worker.is_alive() and replies
    return replies[0]


def _history(db, number: str) -> tuple[list[str], list[str]]:
    with db.session() as session:
        found = session.scalar(select(Ticket).where(Ticket.number == number))
        kinds = session.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == found.id)).all()
        sms = session.scalars(select(SmsMessage.purpose).where(SmsMessage.ticket_id == found.id)).all()
        return kinds, sms


def _user(session, name: str) -> User:
    return session.scalar(select(User).where(User.name == name))


def test_resolve_against_reject_has_one_winner_and_the_loser_is_told(app, db, clock, users):
    [number] = voicemail(app, db, clock)
    ion, token = _signed_in(app, "ion", number)
    hotline = app.extensions["ivr.hotline"]

    def ana_resolves(session, ticket):
        casework.resolve(session, hotline, ticket, _user(session, "ana"), "Rezolvat.", clock())

    reply = race(app, db, number, ana_resolves, ion, f"/console/tickets/{number}/reject",
                 {"csrf_token": token, "text": "Nefondat.", "confirm": "1"})
    assert reply.status_code == 409
    page = reply.get_data(as_text=True)
    assert f"Tichetul {number} a fost deja soluționat de ana." in page and "Nefondat." in page  # the text is kept
    kinds, sms = _history(db, number)
    assert kinds == ["registered", "resolved"]
    assert sms == ["ticket_registered", "ticket_resolved#1"]


def test_resolve_against_resolve_gives_one_sms_and_no_error(app, db, clock, users):
    [number] = voicemail(app, db, clock)
    ion, token = _signed_in(app, "ion", number)
    hotline = app.extensions["ivr.hotline"]

    def ana_resolves(session, ticket):
        casework.resolve(session, hotline, ticket, _user(session, "ana"), "Rezolvat.", clock())

    reply = race(app, db, number, ana_resolves, ion, f"/console/tickets/{number}/resolve",
                 {"csrf_token": token, "text": "Rezolvat și de mine.", "confirm": "1"})
    assert reply.status_code == 409 and "a fost deja soluționat de ana" in reply.get_data(as_text=True)
    assert _history(db, number)[1] == ["ticket_registered", "ticket_resolved#1"]


def test_take_against_take_gives_one_taken_event(app, db, clock, users):
    [number] = voicemail(app, db, clock)
    ion, token = _signed_in(app, "ion", number)

    def ana_takes(session, ticket):
        casework.take(session, ticket, _user(session, "ana"), clock())

    reply = race(app, db, number, ana_takes, ion, f"/console/tickets/{number}/take", {"csrf_token": token})
    assert reply.status_code == 409
    assert f"Tichetul {number} a fost deja preluat de ana." in reply.get_data(as_text=True)
    assert _history(db, number)[0] == ["registered", "taken"]
    with db.session() as session:
        assert session.scalar(select(Ticket).where(Ticket.number == number)).assignee.name == "ana"


def test_an_operator_posting_to_a_ticket_taken_earlier_is_told_so(app, db, clock, users):
    """Not a race, the same answer: words, not a bare 403, and nothing changes."""
    [number] = voicemail(app, db, clock)
    ion, token = _signed_in(app, "ion", number)
    ana, ana_token = _signed_in(app, "ana", number)
    ana.post(f"/console/tickets/{number}/take", data={"csrf_token": ana_token})
    reply = ion.post(f"/console/tickets/{number}/progress", data={"csrf_token": token, "text": "eu"})
    assert reply.status_code == 409
    assert f"Tichetul {number} a fost deja preluat de ana." in reply.get_data(as_text=True)
    assert _history(db, number)[0] == ["registered", "taken"]
