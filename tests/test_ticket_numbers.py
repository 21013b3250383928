"""Ticket numbers stay unique and gapless when several server processes register at once."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from ivr.db import Database
from ivr.models import SmsMessage, Ticket, TicketSequence
from ivr.settings import load_hotline
from ivr.tickets.registration import VoicemailReport, register_voicemail

from conftest import ROOT

PER_PROCESS = 200


def _register_many(url: str, worker: int, start, results) -> None:
    """One server process: registers PER_PROCESS voicemails, each in its own transaction."""
    hotline = load_hotline(ROOT / "tests" / "routing.yaml", ROOT / "prompts")
    database = Database.connect(url)
    now = datetime(2026, 11, 24, 20, 0, tzinfo=timezone.utc)
    start.wait()
    for i in range(PER_PROCESS):
        report = VoicemailReport(f"CA{worker:02d}{i:030d}", "payments", "ro", "+40722123456", "+40722123456",
                                 None, None, None, "completed", "record action")
        with database.session() as session, session.begin():
            register_voicemail(session, hotline, report, now)
    results.put(worker)


@pytest.mark.slow
def test_two_processes_creating_200_tickets_each(upgraded_database):
    database = upgraded_database
    url = database.engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    processes = [context.Process(target=_register_many, args=(url, w, start, results)) for w in (1, 2)]
    for process in processes:
        process.start()
    start.set()
    for process in processes:
        process.join(timeout=240)
    assert [p.exitcode for p in processes] == [0, 0]
    with database.session() as session:
        sequences = session.scalars(select(Ticket.sequence).order_by(Ticket.sequence)).all()
        numbers = session.scalars(select(Ticket.number)).all()
        sms = session.scalars(select(SmsMessage.ticket_id)).all()
    assert sequences == list(range(1, 2 * PER_PROCESS + 1))
    assert len(set(numbers)) == 2 * PER_PROCESS and "RC-2026-000400" in numbers
    assert len(sms) == len(set(sms)) == 2 * PER_PROCESS


def test_a_number_past_six_digits_keeps_all_its_digits_in_the_ticket_and_its_sms(upgraded_database):
    """The number is made by the database from the counter (``f"{n:06d}"`` in SQL): 000042 and
    999999 are padded, 1000000 is not cut to six digits."""
    hotline = load_hotline(ROOT / "routing.yaml", ROOT / "prompts")
    now = datetime(2026, 11, 24, 20, 0, tzinfo=timezone.utc)
    numbers = []
    for i, last in enumerate((41, 999_998, 999_999)):
        with upgraded_database.session() as session, session.begin():
            session.merge(TicketSequence(year=2026, last=last))
        report = VoicemailReport(f"CA{i:032d}", "payments", "ro", "+40722123456", "+40722123456",
                                 None, None, None, "completed", "record action")
        with upgraded_database.session() as session, session.begin():
            ticket = register_voicemail(session, hotline, report, now)
            numbers.append((ticket.number, ticket.sequence, ticket.messages[0].body))
    assert [(number, sequence) for number, sequence, _ in numbers] == [
        ("RC-2026-000042", 42), ("RC-2026-999999", 999_999), ("RC-2026-1000000", 1_000_000)]
    assert all(f"nr. {number}." in body for number, _, body in numbers)
