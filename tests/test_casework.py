"""The ticket service behind the console: state rules, rights and the history, without HTTP."""

from __future__ import annotations

import pytest

from ivr.tickets import casework
from ivr.errors import TicketError
from ivr.settings import load_hotline
from ivr.tickets.registration import VoicemailReport, register_voicemail
from ivr.users import add_user

from conftest import ROOT, bucharest

NOW = bucharest(2026, 11, 27, 10, 0)


@pytest.fixture
def work(upgraded_database):
    """(session, hotline, ticket, ana, ion, maria): one fresh technical ticket and three users,
    on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    database = upgraded_database
    hotline = load_hotline(ROOT / "tests" / "routing.yaml", ROOT / "prompts")
    with database.session() as session:
        ana = add_user(session, "ana", "password-1", "operator", NOW)
        ion = add_user(session, "ion", "password-2", "operator", NOW)
        maria = add_user(session, "maria", "password-3", "supervisor", NOW)
        report = VoicemailReport("CA" + "5" * 32, "technical", "ro", "+40722123456", "+40722123456",
                                 None, None, None, "completed", "record action")
        ticket = register_voicemail(session, hotline, report, NOW)
        session.flush()
        yield session, hotline, ticket, ana, ion, maria
        session.rollback()


def test_take_then_only_the_taker_or_a_supervisor_acts(work):
    session, hotline, ticket, ana, ion, maria = work
    casework.take(session, ticket, ana, NOW)
    assert ticket.assignee is ana and ticket.status == "in_progress"
    with pytest.raises(casework.NotYourTicket):
        casework.progress(session, hotline, ticket, ion, "mine now", NOW)
    casework.add_note(session, ticket, ion, "a colleague's note is welcome", NOW)  # a note changes nothing
    with pytest.raises(casework.NotYourTicket):
        casework.take(session, ticket, ion, NOW)
    casework.take(session, ticket, maria, NOW)
    assert ticket.assignee is maria and ticket.events[-1].data == {"previous": "ana"}


def test_resolve_and_reject_need_text_and_an_open_ticket(work):
    session, hotline, ticket, ana, *_ = work
    with pytest.raises(TicketError, match="empty"):
        casework.resolve(session, hotline, ticket, ana, "   ", NOW)
    casework.resolve(session, hotline, ticket, ana, "Gata.", NOW)
    assert ticket.status == "resolved" and ticket.closed_at == NOW
    with pytest.raises(TicketError, match="re-open it first"):
        casework.reject(session, hotline, ticket, ana, "Nefondat.", NOW)
    casework.reopen(session, ticket, ana, NOW)
    casework.reject(session, hotline, ticket, ana, "Nefondat.", NOW)
    assert ticket.status == "rejected"
    purposes = [m.purpose for m in ticket.messages]
    assert purposes == ["ticket_registered", "ticket_resolved#1", "ticket_rejected#1"]
    assert [e.kind for e in ticket.events] == ["registered", "resolved", "reopened", "rejected"]


def test_resolving_twice_after_reopening_sends_a_second_sms(work):
    session, hotline, ticket, ana, *_ = work
    casework.resolve(session, hotline, ticket, ana, "Prima.", NOW)
    casework.reopen(session, ticket, ana, NOW)
    casework.resolve(session, hotline, ticket, ana, "A doua.", NOW)
    session.flush()
    assert [m.purpose for m in ticket.messages][-2:] == ["ticket_resolved#1", "ticket_resolved#2"]


def test_sms_preview_counts_parts(work):
    session, hotline, ticket, *_ = work
    short = casework.sms_text(hotline, ticket, "ticket_resolved", message="Rezolvat.")
    long = casework.sms_text(hotline, ticket, "ticket_resolved", message="Înlocuit echipamentul. " * 10)
    assert short.parts == 1 and long.parts == 2 and "Inlocuit" in long.text
