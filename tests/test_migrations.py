"""``ivr db upgrade`` on a database with data from the first release keeps every ticket, its
history and its SMS, and fills in what later releases added (milestones, extension counts)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select, text

from conftest import ROOT, database_url_for
from ivr.cli import main
from ivr.db import Database, upgrade_schema
from ivr.models import SmsMessage, Ticket, TicketEvent, TicketMilestone


FIRST_RELEASE = "0001"
TICKETS = [
    # number, department, call, deadline day, rule, description, extended, status
    ("RC-2026-000001", "technical", "CA" + "1" * 32, "2026-12-04", "fault", "3 working days", False, "registered"),
    ("RC-2026-000002", "payments", "CA" + "2" * 32, "2027-01-21", "extension", "3 working days + 30 working days", True, "in_progress"),
    ("RC-2026-000003", "customer_relations", "CA" + "3" * 32, "2026-12-28", "complaint", "30 calendar days", False, "resolved"),
]


def _first_release_data(engine) -> None:
    with engine.begin() as db:
        db.execute(text("INSERT INTO ticket_sequences (year, last) VALUES (2026, 3)"))
        for i, (number, department, call, due, rule, description, extended, status) in enumerate(TICKETS, 1):
            db.execute(text(
                "INSERT INTO tickets (id, number, year, sequence, department, caller, sms_to, language, call_sid, "
                "registered_at, deadline_on, deadline_at, deadline_rule, deadline_description, extended, status) "
                "VALUES (:id, :number, 2026, :id, :department, '+40722123456', '+40722123456', 'ro', :call, "
                "'2026-11-27 08:00:00+00:00', :due, :due_at, :rule, :description, :extended, :status)"),
                dict(id=i, number=number, department=department, call=call, due=due, due_at=f"{due} 22:00:00+00:00",
                     rule=rule, description=description, extended=extended, status=status))
            db.execute(text(
                "INSERT INTO ticket_events (ticket_id, at, actor, kind, detail) "
                "VALUES (:id, '2026-11-27 08:00:00+00:00', 'caller', 'registered', 'voicemail (record action)')"), dict(id=i))
            db.execute(text(
                "INSERT INTO sms_messages (ticket_id, purpose, \"to\", body, status, attempts, next_attempt_at, created_at, updated_at) "
                "VALUES (:id, 'ticket_registered', '+40722123456', :body, 'delivered', 1, '2026-11-27 08:00:00+00:00', "
                "'2026-11-27 08:00:00+00:00', '2026-11-27 08:00:05+00:00')"), dict(id=i, body=f"Reclamatia {number}"))


def test_upgrading_a_first_release_database_keeps_every_ticket(any_empty_database_url, monkeypatch):
    database = Database.connect(any_empty_database_url)
    upgrade_schema(database.engine, FIRST_RELEASE)
    _first_release_data(database.engine)
    monkeypatch.setenv("IVR_DATABASE_URL", any_empty_database_url)
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with database.session() as session:
        tickets = session.scalars(select(Ticket).order_by(Ticket.id)).all()
        assert [(t.number, t.department, t.call_sid, t.deadline_on.isoformat(), t.deadline_rule, t.extended, t.status)
                for t in tickets] == [row[:4] + row[4:5] + row[6:] for row in TICKETS]
        assert [t.extension_count for t in tickets] == [0, 1, 0]
        assert all(t.registered_at == datetime(2026, 11, 27, 8, tzinfo=timezone.utc) for t in tickets)
        # Each ticket's one deadline became its final milestone.
        milestones = session.scalars(select(TicketMilestone).order_by(TicketMilestone.ticket_id)).all()
        assert [(m.name, m.final, m.due_on) for m in milestones] == [
            ("resolve", True, date(2026, 12, 4)), ("resolve", True, date(2027, 1, 21)), ("resolve", True, date(2026, 12, 28))]
        events = session.scalars(select(TicketEvent)).all()
        assert [(e.kind, e.detail, e.data) for e in events] == [("registered", "voicemail (record action)", None)] * 3
        assert [m.body for m in session.scalars(select(SmsMessage).order_by(SmsMessage.id))] == [f"Reclamatia {t[0]}" for t in TICKETS]
    database.engine.dispose()


def test_the_heads_read_from_the_scripts_are_alembics():
    from alembic.script import ScriptDirectory

    from ivr.db import alembic_config, script_heads

    alembics = ScriptDirectory.from_config(alembic_config(None)).get_heads()
    assert script_heads() == frozenset(alembics) and len(alembics) == 1


def test_the_latest_schema_is_told_without_alembic_and_an_older_one_is_not(any_empty_database_url):
    database = Database.connect(any_empty_database_url)
    assert not database.at_latest_schema()  # no alembic_version table yet
    upgrade_schema(database.engine, FIRST_RELEASE)
    assert not database.at_latest_schema()
    database.upgrade()
    assert database.at_latest_schema()
    database.engine.dispose()


_START_ON_SQLITE = """
import sys
from ivr import create_app
app = create_app({"DATABASE_URL": sys.argv[1], "TWILIO_AUTH_TOKEN": "t"})
with app.extensions["ivr.db"].engine.connect() as connection:
    print(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar(), "alembic" in sys.modules)
"""


@pytest.mark.slow
def test_the_embedded_sqlite_is_upgraded_at_start_and_then_started_without_alembic(tmp_path):
    """A start on an upgraded SQLite skips importing alembic (~0.25 s); one on an older schema still upgrades."""
    from ivr.db import script_heads

    url = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    upgrade_schema(Database.connect(url).engine, FIRST_RELEASE)
    env = {**os.environ, "IVR_INSTANCE_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    starts = [subprocess.run([sys.executable, "-c", _START_ON_SQLITE, url], capture_output=True, text=True, env=env,
                             check=True).stdout.split() for _ in range(2)]
    (latest,) = script_heads()
    assert starts == [[latest, "True"], [latest, "False"]]


def _schema(database: Database) -> dict:
    """Everything a migration decides about the tables, and the revision it leaves."""
    found = inspect(database.engine)
    tables = {
        table: (
            [(c["name"], str(c["type"]), c["nullable"], c["default"]) for c in found.get_columns(table)],
            found.get_pk_constraint(table),
            sorted(found.get_foreign_keys(table), key=repr),
            sorted(found.get_indexes(table), key=repr),
            sorted(found.get_unique_constraints(table), key=repr),
            sorted(found.get_check_constraints(table), key=repr),
        )
        for table in found.get_table_names()
    }
    with database.engine.connect() as connection:
        revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
    return {"tables": tables, "revision": revision}


def test_the_tests_copy_of_the_latest_schema_is_what_the_migrations_make(any_empty_database_url, tmp_path):
    """conftest copies one upgrade into every test's database (databases.SchemaTemplate): the copy must
    be what ``ivr db upgrade`` makes, or the tests would run on tables no hotline has."""
    migrated = Database.connect(any_empty_database_url)
    migrated.upgrade()
    kind = "sqlite" if any_empty_database_url.startswith("sqlite") else "postgresql"
    for copy_url in database_url_for(kind, tmp_path / "copy", upgraded=True):
        copy = Database.connect(copy_url)
        try:
            assert _schema(copy) == _schema(migrated)
            assert len(_schema(copy)["tables"]) > 10 and _schema(copy)["revision"]
        finally:
            copy.engine.dispose()
            migrated.engine.dispose()
