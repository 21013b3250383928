"""Ticket numbers stay unique and gapless when several server processes register at once."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timezone

from sqlalchemy import select

from ivr.db import Database
from ivr.models import SmsMessage, Ticket
from ivr.settings import load_hotline
from ivr.tickets import VoicemailReport, register_voicemail

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
