"""CSV exports of the call log and of the tickets, for ``ivr export`` and the console alike.

One header row, one row per call or ticket, times in ISO 8601 with the hotline's UTC offset.
A caller's data can reach these cells, and a spreadsheet runs a cell starting with "=" as a
formula: such cells are defused here, in the one place that writes the CSV.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, object_session, selectinload

from .incidents import incident_ids_of, ticket_counts
from .models import CallRecord, Incident, Ticket

CALL_COLUMNS = (
    "call_sid", "started_at", "caller", "language", "department", "outcome", "answered_by",
    "seconds_to_answer", "duration_seconds", "ticket",
)
TICKET_COLUMNS = (
    "number", "registered_at", "department", "caller", "sms_to", "source", "status", "deadline",
    "closed_at", "closed_within_deadline", "transcript", "incident",
)
# OWASP's list of the characters that make a spreadsheet read a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A phone number in E.164 is a plain number to a spreadsheet, never a formula: left readable.
_E164 = re.compile(r"\+[0-9]{1,15}")


@dataclass(frozen=True)
class CallFilter:
    department: str = ""
    outcome: str = ""
    start: datetime | None = None   # calls started from (inclusive) ...
    end: datetime | None = None     # ... to (exclusive)


def csv_cell(value: object) -> str:
    """The text of one cell; a leading apostrophe keeps a formula-looking text inert (OWASP)."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _E164.fullmatch(text):
        return "'" + text
    return text


def write_csv(out: TextIO, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])


def iso(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else ""


# -- calls ----------------------------------------------------------------------------------

def _call_conditions(wanted: CallFilter) -> list[ColumnElement[bool]]:
    conditions = []
    if wanted.department:
        conditions.append(CallRecord.department == wanted.department)
    if wanted.outcome:
        conditions.append(CallRecord.outcome == wanted.outcome)
    if wanted.start is not None:
        conditions.append(CallRecord.started_at >= wanted.start)
    if wanted.end is not None:
        conditions.append(CallRecord.started_at < wanted.end)
    return conditions


def call_rows(session: Session, wanted: CallFilter, tz: ZoneInfo) -> Iterator[list[object]]:
    """The calls of the filter, oldest first, each with the number(s) of the tickets it gave."""
    conditions = _call_conditions(wanted)
    calls = session.scalars(
        select(CallRecord).where(*conditions).options(selectinload(CallRecord.answered_user))
        .order_by(CallRecord.started_at, CallRecord.id)
    ).all()
    tickets = _tickets_of_calls(session, select(CallRecord.call_sid).where(*conditions))
    for call in calls:
        yield [
            call.call_sid, iso(call.started_at, tz), call.caller, call.language, call.department, call.outcome,
            call.answered_user.name if call.answered_user else call.answered_by,
            call.seconds_to_answer, call.duration_seconds, ";".join(tickets.get(call.call_sid, ())),
        ]


def _tickets_of_calls(session: Session, call_sids) -> dict[str, list[str]]:
    numbers: dict[str, list[str]] = defaultdict(list)
    for call_sid, number in session.execute(
        select(Ticket.call_sid, Ticket.number).where(Ticket.call_sid.in_(call_sids))
        .order_by(Ticket.call_complaint, Ticket.id)
    ):
        numbers[call_sid].append(number)
    return numbers


# -- tickets ----------------------------------------------------------------------------------

def ticket_rows(tickets: Iterable[Ticket], tz: ZoneInfo, transcripts: Mapping[str, str] | None = None) -> Iterator[list[object]]:
    """The deadline is the day the customer was told (its ISO date); ``deadline_at`` is the
    instant after it, which would read as the next day. ``transcripts``: the voicemail's
    transcript by CallSid (``ivr.transcripts.transcript_texts``); ``incident``: the outage it joined."""
    transcripts = transcripts or {}
    tickets = list(tickets)
    session = object_session(tickets[0]) if tickets else None
    joined = incident_ids_of(session, [t.id for t in tickets]) if session is not None else {}
    for t in tickets:
        in_time = "" if t.closed_at is None else "yes" if t.closed_at < t.deadline_at else "no"
        yield [
            t.number, iso(t.registered_at, tz), t.department, t.caller, t.sms_to, t.source, t.status,
            t.deadline_on.isoformat(), iso(t.closed_at, tz), in_time, transcripts.get(t.call_sid, ""), joined.get(t.id, ""),
        ]


# -- incidents --------------------------------------------------------------------------------

INCIDENT_COLUMNS = (
    "id", "declared_at", "declared_by", "departments", "area", "starts_at", "ends_at", "closed_at", "closed_by",
    "tickets", "tickets_open", "resolution",
)


def incident_columns(languages: Sequence[str]) -> tuple[str, ...]:
    """The columns, with what callers heard in each of the hotline's languages (message_ro, ...)."""
    return (*INCIDENT_COLUMNS, *(f"message_{lang}" for lang in languages))


def incident_rows(session: Session, languages: Sequence[str], start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[list[object]]:
    """The incidents that started in [start, end), oldest first, with how many tickets joined each."""
    incidents = session.scalars(
        select(Incident).where(Incident.starts_at >= start, Incident.starts_at < end).order_by(Incident.starts_at, Incident.id)
    ).all()
    counted = ticket_counts(session, [i.id for i in incidents])
    for i in incidents:
        total, still_open = counted.get(i.id, (0, 0))
        yield [
            i.id, iso(i.declared_at, tz), i.declared_by, ";".join(i.departments), i.area, iso(i.starts_at, tz),
            iso(i.ends_at, tz), iso(i.closed_at, tz), i.closed_by, total, still_open, i.resolution,
            *(i.messages.get(lang, "") for lang in languages),
        ]
