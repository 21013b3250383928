"""A complaint survives the database: the journal takes what the database cannot, and its
replay (background thread, ``ivr worker``, ``ivr recover``) turns it into one ticket."""

from __future__ import annotations

import json
import multiprocessing
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from ivr import create_app
from ivr.cli import main
from ivr.db import Database
from ivr.models import SmsMessage, Ticket
from ivr.recovery.journal import Journal, JournalEntry
from ivr.recovery.replay import replay_journal
from ivr.tickets.registration import VoicemailReport

from conftest import BASE_URL, CALL_SID, bucharest, sign, tickets_locked

RECORDING = {
    "RecordingSid": "RE" + "a" * 32,
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC00/Recordings/RE" + "a" * 32,
    "RecordingDuration": "31",
}
ACTION = "/voice/recorded/technical?lang=ro&sms=%2B40722123456"
CALLBACK = "/voice/recording-status/technical?lang=ro&sms=%2B40722123456"


@pytest.fixture
def database_url(any_database_url):
    """These tests run on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    return any_database_url


@pytest.fixture
def down_app(app_config, empty_database_url):
    """The hotline on a database that has no tables yet: every write fails, as when it is down.
    ``upgrade_database(app)`` brings it back. Replays are run by the tests: a background one
    would keep failing on the dropped database long after the test."""
    app_config.update(DATABASE_URL=empty_database_url, DATABASE_AUTO_UPGRADE=False, JOURNAL_REPLAY_SECONDS=3600)
    return create_app(app_config)


def upgrade_database(app) -> Database:
    database = app.extensions["ivr.db"]
    database.upgrade()
    return database


def post(app, path: str, call_sid: str = CALL_SID, caller: str = "+40722123456", **fields: str):
    data = {"CallSid": call_sid, "From": caller, "To": "+40215894141", **RECORDING, **fields}
    return app.test_client().post(path, data=data, headers=sign(BASE_URL + path, data))


def journal_of(app) -> Journal:
    return app.extensions["ivr.intake"].journal


def journal_lines(app) -> list[dict]:
    path = journal_of(app).path
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def tickets(database: Database) -> list[Ticket]:
    with database.session() as session:
        found = session.scalars(select(Ticket).order_by(Ticket.id)).all()
        for ticket in found:
            ticket.messages, ticket.events  # load while the session is open
        return found


def test_database_down_the_journal_keeps_the_complaint_and_the_caller_is_told_so(down_app):
    reply = post(down_app, ACTION, Digits="#")
    body = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert "Reclamația dumneavoastră a fost înregistrată. Termenul de soluționare este 20 noiembrie 2026." in body
    assert "Numărul de înregistrare vă va fi trimis prin SMS." in body
    assert [line["report"]["call_sid"] for line in journal_lines(down_app)] == [CALL_SID]
    # Twilio's recording callback is kept too, and answered as taken.
    assert post(down_app, CALLBACK, RecordingStatus="completed").status_code == 204
    assert len(journal_lines(down_app)) == 2


def test_replay_registers_once_at_the_time_the_caller_spoke(down_app, clock):
    spoke = bucharest(2026, 11, 27, 22, 30)
    clock.now = spoke
    post(down_app, ACTION, Digits="#")
    post(down_app, CALLBACK, RecordingStatus="completed")
    clock.now = bucharest(2026, 12, 2, 9, 0)  # the database is back days later
    database = upgrade_database(down_app)

    result = replay_journal(journal_of(down_app), database, down_app.extensions["ivr.hotline"])
    assert (result.registered, result.pending) == (2, False)
    [ticket] = tickets(database)
    assert ticket.number == "RC-2026-000001"
    assert ticket.registered_at == spoke.astimezone(timezone.utc)
    assert ticket.deadline_on.isoformat() == "2026-12-04"  # counted from the call, not the replay
    assert ticket.recording_sid == RECORDING["RecordingSid"]
    assert [m.purpose for m in ticket.messages] == ["ticket_registered"]
    assert "RC-2026-000001" in ticket.messages[0].body
    assert not journal_of(down_app).has_entries()
    # A second replay finds nothing, and a report journaled again for the same call makes no second ticket.
    assert replay_journal(journal_of(down_app), database, down_app.extensions["ivr.hotline"]).registered == 0
    journal_of(down_app).append(JournalEntry(spoke, _report()))
    replay_journal(journal_of(down_app), database, down_app.extensions["ivr.hotline"])
    assert len(tickets(database)) == 1
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(SmsMessage)) == 1


def _report(call_sid: str = CALL_SID, department: str = "technical") -> VoicemailReport:
    return VoicemailReport(
        call_sid=call_sid, department=department, language="ro", caller="+40722123456", sms_to="+40722123456",
        recording_sid=None, recording_url=None, recording_duration=None, recording_status="completed",
        source="record action",
    )


def test_a_caller_without_an_sms_number_is_not_promised_one(down_app):
    body = post(down_app, "/voice/recorded/technical?lang=ro", caller="anonymous", Digits="#").get_data(as_text=True)
    assert "Numărul de înregistrare îl puteți afla de la operatorii noștri." in body
    assert "SMS" not in body


def test_when_even_the_journal_fails_the_caller_hears_the_honest_version(app_config, empty_database_url, tmp_path):
    app_config.update(DATABASE_URL=empty_database_url, DATABASE_AUTO_UPGRADE=False)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    app_config["JOURNAL_DIR"] = str(blocker / "journal")  # cannot be created: its parent is a file
    app = create_app(app_config)
    body = post(app, ACTION, Digits="#").get_data(as_text=True)
    assert "reclamația nu a putut fi înregistrată" in body
    assert "a fost înregistrată" not in body
    assert post(app, CALLBACK, RecordingStatus="completed").status_code == 503


def test_a_database_that_hangs_is_given_up_on_and_a_late_commit_is_not_doubled(app_config, tmp_path):
    """A table locked by another transaction stands in for a hung server here; the PostgreSQL
    outage test stops a real one."""
    app_config["WEBHOOK_DATABASE_SECONDS"] = 1.0
    app = create_app(app_config)
    database = app.extensions["ivr.db"]
    with tickets_locked(database):
        started = time.monotonic()
        body = post(app, ACTION, Digits="#").get_data(as_text=True)
        assert time.monotonic() - started < 5
        assert "Numărul de înregistrare vă va fi trimis prin SMS." in body
    # The late registration commits once the lock is free; the replay then adds nothing.
    deadline = time.monotonic() + 10
    while not tickets(database) and time.monotonic() < deadline:
        time.sleep(0.1)
    replay_journal(journal_of(app), database, app.extensions["ivr.hotline"])
    assert [t.call_sid for t in tickets(database)] == [CALL_SID]


def test_the_web_process_replays_by_itself_once_the_database_is_back(app_config, empty_database_url):
    app_config.update(DATABASE_URL=empty_database_url, DATABASE_AUTO_UPGRADE=False, JOURNAL_REPLAY_SECONDS=0.2)
    app = create_app(app_config)
    post(app, ACTION, Digits="#")
    time.sleep(0.5)  # a replay pass fails while the database is still down
    database = upgrade_database(app)
    deadline = time.monotonic() + 10
    while not tickets(database) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [t.call_sid for t in tickets(database)] == [CALL_SID]


def test_ivr_recover_and_ivr_worker_replay_the_journal(down_app, runner, monkeypatch, app_config):
    post(down_app, ACTION, Digits="#")
    post(down_app, ACTION.replace("technical", "payments"), call_sid="CA" + "2" * 32, Digits="#")
    database = upgrade_database(down_app)
    _cli_environment(monkeypatch, app_config)

    result = runner.invoke(main, ["recover"])
    assert result.exit_code == 0, result.output
    assert "2 journaled report(s) registered" in result.output
    assert sorted(t.department for t in tickets(database)) == ["payments", "technical"]
    assert "nothing to recover" in runner.invoke(main, ["recover"]).output

    post(down_app, ACTION, call_sid="CA" + "3" * 32, Digits="#")  # journaled again: say the disk was slow
    journal_of(down_app).append(JournalEntry(datetime.now(timezone.utc), _report("CA" + "4" * 32)))
    result = runner.invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert len(tickets(database)) == 4


def _cli_environment(monkeypatch, app_config: dict) -> None:
    monkeypatch.setenv("IVR_DATABASE_URL", app_config["DATABASE_URL"])
    monkeypatch.setenv("IVR_ROUTING_FILE", app_config["ROUTING_FILE"])
    monkeypatch.setenv("IVR_PROMPTS_DIR", app_config["PROMPTS_DIR"])
    monkeypatch.setenv("IVR_INSTANCE_DIR", app_config["JOURNAL_DIR"])
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", app_config["TWILIO_AUTH_TOKEN"])


def test_an_unreadable_line_is_kept_aside_and_the_rest_replayed(down_app):
    post(down_app, ACTION, Digits="#")
    journal = journal_of(down_app)
    with open(journal.path, "a") as out:
        out.write('{"v": 1, "received_at": "2026-11-1\n')  # a line cut short by a crash
    journal.append(JournalEntry(datetime.now(timezone.utc), _report("CA" + "5" * 32, department="gone")))
    database = upgrade_database(down_app)
    result = replay_journal(journal, database, down_app.extensions["ivr.hotline"])
    assert (result.registered, result.rejected) == (2, 1)
    assert "2026-11-1" in journal.rejected_path.read_text()
    # A department removed from routing.yaml since the call falls back.
    assert sorted(t.department for t in tickets(database)) == ["customer_relations", "technical"]


def test_a_replay_interrupted_by_the_database_keeps_what_is_left(down_app):
    journal = journal_of(down_app)
    for n in range(3):
        journal.append(JournalEntry(datetime.now(timezone.utc), _report(f"CA{n:032d}")))
    hotline = down_app.extensions["ivr.hotline"]
    assert replay_journal(journal, down_app.extensions["ivr.db"], hotline).pending  # still down
    assert journal.has_entries()
    database = upgrade_database(down_app)
    assert replay_journal(journal, database, hotline).registered == 3
    assert not journal.has_entries()


def _append_many(folder: str, worker: int, count: int) -> None:
    journal = Journal(folder)
    for n in range(count):
        journal.append(JournalEntry(datetime.now(timezone.utc), _report(f"CA{worker:02d}{n:030d}")))


@pytest.mark.slow
def test_appends_from_many_processes_are_whole_lines(tmp_path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(tmp_path), w, 50)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
    entries = list(Journal(tmp_path).read(Journal(tmp_path).path))
    assert len(entries) == 200
    assert all(isinstance(e, JournalEntry) for e in entries)
    assert len({e.report.call_sid for e in entries}) == 200
