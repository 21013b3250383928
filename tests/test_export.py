"""CSV exports of calls and tickets: ``ivr export`` and the console's downloads, parsed back with
Python's csv module, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from ivr.cli import main
from ivr.exports import CALL_COLUMNS, TICKET_COLUMNS, csv_cell
from ivr.models import CallRecord, User
from ivr.states import TicketSource, TicketStatus
from ivr.tickets.registration import open_ticket
from ivr.users import add_user

from conftest import bucharest
from console_client import PASSWORD

ANSWERED, VOICEMAIL, MENU, LATER = ("CA" + str(n) * 32 for n in range(1, 5))
FORMULA = "=cmd|' /C calc'!A0"


@pytest.fixture
def database_url(any_database_url):
    """These tests run on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    return any_database_url


@pytest.fixture
def records(app, clock):
    """Users ana, ion (operators) and maria (supervisor); on 16 November 2026 a call answered by
    ana after 8 s that gave two complaints, a voicemail after hours, a caller who hung up in the
    menu (a formula for a caller id); on 20 November one more answered call. Returns the tickets' numbers."""
    db, hotline = app.extensions["ivr.db"], app.extensions["ivr.hotline"]
    with db.session() as s, s.begin():
        for name, role in (("ana", "operator"), ("ion", "operator"), ("maria", "supervisor")):
            add_user(s, name, PASSWORD, role, clock())
        ana = s.query(User).filter_by(name="ana").one()
        ion = s.query(User).filter_by(name="ion").one()
        start = bucharest(2026, 11, 16, 10, 0)
        s.add_all([
            CallRecord(call_sid=ANSWERED, caller="+40722123456", language="ro", department="payments", started_at=start,
                       offered_at=start + timedelta(seconds=12), answered_at=start + timedelta(seconds=20),
                       answered_by="+40215894141", answered_user=ana, ended_at=start + timedelta(minutes=5),
                       duration_seconds=300, outcome="answered", voicemail=False, errored=False),
            CallRecord(call_sid=VOICEMAIL, caller="+40733555111", language="en", department="technical",
                       started_at=bucharest(2026, 11, 16, 22, 30), voicemail=True, errored=False,
                       ended_at=bucharest(2026, 11, 16, 22, 32), duration_seconds=95, outcome="voicemail"),
            CallRecord(call_sid=MENU, caller=FORMULA, started_at=bucharest(2026, 11, 16, 23, 59), voicemail=False,
                       errored=False, ended_at=bucharest(2026, 11, 17, 0, 0), duration_seconds=40, outcome="abandoned_menu"),
            CallRecord(call_sid=LATER, caller="+40722123456", language="ro", department="technical",
                       started_at=bucharest(2026, 11, 20, 9, 0), voicemail=False, errored=False, outcome=None),
        ])
        s.flush()
        first, second, by_voicemail = (
            open_ticket(s, hotline, call_sid=sid, department=dept, caller=caller, sms_to=caller, language="ro",
                        source=source, now=at, complaint=n)
            for sid, dept, caller, source, at, n in (
                (ANSWERED, "payments", "+40722123456", TicketSource.OPERATOR, bucharest(2026, 11, 16, 10, 3), 1),
                (ANSWERED, "payments", "+40722123456", TicketSource.OPERATOR, bucharest(2026, 11, 16, 10, 4), 2),
                (VOICEMAIL, "technical", "+40733555111", TicketSource.VOICEMAIL, bucharest(2026, 11, 16, 22, 32), 1),
            )
        )
        first.status, first.closed_at, first.assignee = TicketStatus.RESOLVED, bucharest(2026, 11, 18, 12, 0), ana
        by_voicemail.assignee, by_voicemail.status = ion, TicketStatus.IN_PROGRESS
        return first.number, second.number, by_voicemail.number


def parse(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


def export(runner, *args: str) -> tuple[list[str], list[dict[str, str]]]:
    result = runner.invoke(main, ["export", *args])
    assert result.exit_code == 0, result.output
    return parse(result.stdout)


# -- ivr export ------------------------------------------------------------------------------------

def test_export_calls(records, cli_env, runner):
    first, second, by_voicemail = records
    header, rows = export(runner, "calls", "--from", "2026-11-16", "--to", "2026-11-16")
    assert header == list(CALL_COLUMNS) == [
        "call_sid", "started_at", "caller", "language", "department", "outcome", "answered_by",
        "seconds_to_answer", "duration_seconds", "ticket"]
    assert rows == [
        {"call_sid": ANSWERED, "started_at": "2026-11-16T10:00:00+02:00", "caller": "+40722123456", "language": "ro",
         "department": "payments", "outcome": "answered", "answered_by": "ana", "seconds_to_answer": "8",
         "duration_seconds": "300", "ticket": f"{first};{second}"},
        {"call_sid": VOICEMAIL, "started_at": "2026-11-16T22:30:00+02:00", "caller": "+40733555111", "language": "en",
         "department": "technical", "outcome": "voicemail", "answered_by": "", "seconds_to_answer": "",
         "duration_seconds": "95", "ticket": by_voicemail},
        {"call_sid": MENU, "started_at": "2026-11-16T23:59:00+02:00", "caller": "'" + FORMULA, "language": "",
         "department": "", "outcome": "abandoned_menu", "answered_by": "", "seconds_to_answer": "",
         "duration_seconds": "40", "ticket": ""},
    ]
    _, rows = export(runner, "calls", "--from", "2026-11-17", "--to", "2026-11-20")
    assert [(row["call_sid"], row["outcome"]) for row in rows] == [(LATER, "")]  # still ongoing


def test_export_tickets(records, cli_env, runner):
    first, second, by_voicemail = records
    header, rows = export(runner, "tickets", "--from", "2026-11-16", "--to", "2026-11-17")
    assert header == list(TICKET_COLUMNS) == [
        "number", "registered_at", "department", "caller", "sms_to", "source", "status", "deadline",
        "closed_at", "closed_within_deadline", "transcript", "incident"]
    assert [row["number"] for row in rows] == [first, second, by_voicemail]
    assert rows[0] == {
        "number": first, "registered_at": "2026-11-16T10:03:00+02:00", "department": "payments",
        "caller": "+40722123456", "sms_to": "+40722123456", "source": "operator", "status": "resolved",
        "deadline": "2026-12-16", "closed_at": "2026-11-18T12:00:00+02:00", "closed_within_deadline": "yes",
        "transcript": "", "incident": "",
    }
    assert (rows[2]["source"], rows[2]["status"], rows[2]["closed_at"], rows[2]["closed_within_deadline"]) == (
        "voicemail", "in_progress", "", "")
    assert export(runner, "tickets", "--from", "2026-11-17", "--to", "2026-11-30")[1] == []


@pytest.mark.parametrize("args, message", [
    (["--from", "2026-13-01"], "a date such as 2026-12-04"),
    (["--from", "2026-11-20", "--to", "2026-11-16"], "is before --from"),
])
def test_export_refuses_bad_dates_in_a_line(cli_env, runner, args, message):
    result = runner.invoke(main, ["export", "calls", *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_a_formula_never_reaches_a_spreadsheet():
    assert [csv_cell(v) for v in ("=1+1", "+1+1", "-2+3", "@SUM(A1)", "\tx", "+40722123456", "ana", None, 8)] == [
        "'=1+1", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "+40722123456", "ana", "", "8"]


# -- the console's downloads -------------------------------------------------------------------------

def signed_in(app, name: str):
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").get_data(as_text=True)).group(1)
    assert client.post("/console/login", data={"csrf_token": token, "name": name, "password": PASSWORD}).status_code == 302
    return client


def download(client, path: str, **query) -> tuple[list[str], list[dict[str, str]]]:
    reply = client.get(path, query_string=query)
    assert reply.status_code == 200 and reply.mimetype == "text/csv", reply.status
    assert reply.headers["Content-Disposition"].startswith("attachment;")
    return parse(reply.get_data(as_text=True))


def test_console_calls_csv_for_a_supervisor_with_the_call_log_filters(app, records):
    maria = signed_in(app, "maria")
    header, rows = download(maria, "/console/calls.csv")
    assert header == list(CALL_COLUMNS) and len(rows) == 4
    _, rows = download(maria, "/console/calls.csv", **{"from": "2026-11-16", "to": "2026-11-16", "outcome": "voicemail"})
    assert [row["call_sid"] for row in rows] == [VOICEMAIL]
    _, rows = download(maria, "/console/calls.csv", department="technical")
    assert [row["call_sid"] for row in rows] == [VOICEMAIL, LATER]
    _, rows = download(maria, "/console/calls.csv", **{"from": "2026-11-17"})
    assert [row["call_sid"] for row in rows] == [LATER]
    _, rows = download(maria, "/console/calls.csv", department="nonsense", outcome="x", **{"from": "17.11.2026"})
    assert len(rows) == 4  # what is not a filter value filters nothing


def test_console_calls_csv_is_for_supervisors(app, records):
    assert signed_in(app, "ana").get("/console/calls.csv").status_code == 403
    reply = app.test_client().get("/console/calls.csv")
    assert reply.status_code == 302 and "/console/login" in reply.location


def test_console_tickets_csv_shows_what_the_list_shows(app, records):
    first, second, by_voicemail = records
    header, rows = download(signed_in(app, "maria"), "/console/tickets.csv")
    assert header == list(TICKET_COLUMNS) and [row["number"] for row in rows] == [first, second, by_voicemail]
    # Everyone reads every ticket: ana's export holds ion's too.
    _, rows = download(signed_in(app, "ana"), "/console/tickets.csv")
    assert [row["number"] for row in rows] == [first, second, by_voicemail]
    _, rows = download(signed_in(app, "ana"), "/console/tickets.csv", status="open", department="payments")
    assert [row["number"] for row in rows] == [second]
    reply = app.test_client().get("/console/tickets.csv")
    assert reply.status_code == 302 and "/console/login" in reply.location


def test_ticket_list_links_its_csv_with_its_filters(app, records):
    page = signed_in(app, "ana").get("/console/?status=open&department=payments").get_data(as_text=True)
    assert '/console/tickets.csv?department=payments&amp;status=open"' in page
