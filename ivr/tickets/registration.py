"""Complaint tickets: registering a voicemail exactly once, with its number, deadline and SMS.

Every new ticket of a year waits for the year's counter row (its lock keeps the numbers
gapless), so a voicemail's ticket is worked out in Python first (``NewTicket``) and then
written with its number by one statement on PostgreSQL: the counter is locked from that
statement to the commit right after it, never while Python works (see ``_write``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..deadlines import Deadline, milestones_for_department, ticket_deadline
from ..models import Ticket, TicketMilestone, TicketSequence
from ..settings import HotlineConfig
from ..sms.outbox import queue_sms, queued_sms_values
from ..sms.text import sms_due
from ..sms.wakeup import announce_sms
from ..states import TicketSource, TicketStatus
from . import history
from .statements import Shape, postgresql_statement, sqlite_statements, statement_values

RECORDING_STATUSES = {"completed", "absent", "failed"}
# Stands for the ticket's number in the registration SMS, worked out before the number exists.
_NUMBER_MARK = "\x00"


@dataclass(frozen=True)
class VoicemailReport:
    """What Twilio told us about a voicemail, from the <Record> action or the recordingStatusCallback."""

    call_sid: str
    department: str
    language: str
    caller: str | None
    sms_to: str | None
    recording_sid: str | None
    recording_url: str | None
    recording_duration: int | None
    recording_status: str  # completed | absent | failed
    source: str            # "record action" | "recording callback" | "reconcile"
    # What the report could not know, for the operators: written as a "recovered" event when
    # this report creates the ticket (a reconcile from Twilio's recordings guesses the department).
    # Its data (``ivr.tickets.history``): recording, at, department, language, sms. Defaulted, so that
    # journal lines written before it existed still read back.
    recovered: dict[str, Any] | None = None
    # The same as a sentence, as journal lines written before ``recovered`` carry it.
    recovered_note: str | None = None
    # The client code the caller keyed in (routing.yaml's ask_client_code). Defaulted, so that
    # journal lines written before it existed still read back.
    client_code: str | None = None


@dataclass(frozen=True)
class Registration:
    """A voicemail's ticket as its caller is told of it."""

    ticket_id: int
    number: str
    deadline: Deadline               # the legal term
    milestones: dict[str, Deadline]  # every milestone, by name, for prompts that name one


@dataclass(frozen=True)
class NewTicket:
    """A ticket about to be written: all of its rows, worked out before the transaction writes
    anything, except its number (the year's counter plus one, read when it is written)."""

    year: int
    number_prefix: str                # "RC-2026-": the sequence follows, zero-padded to 6 digits
    ticket: dict[str, Any]            # the tickets row, without id, year, sequence and number
    milestones: list[dict[str, Any]]  # its ticket_milestones rows, without ticket_id
    events: list[dict[str, Any]]      # its first history events, in order, without ticket_id
    sms: dict[str, Any] | None        # its registration SMS's outbox row, without ticket_id and body
    sms_text: list[str]               # that SMS's text, split where the ticket's number goes
    deadline: Deadline                # the legal term
    due: dict[str, Deadline]          # every milestone, by name

    def number(self, sequence: int) -> str:
        return f"{self.number_prefix}{sequence:06d}"  # format_number's; in SQL: _zero_padded


def find_by_call(session: Session, call_sid: str, complaint: int = 1) -> Ticket | None:
    """The ticket of a call's first complaint (or of its ``complaint``-th, taken live)."""
    return session.scalar(select(Ticket).where(Ticket.call_sid == call_sid, Ticket.call_complaint == complaint))


def once_per_call(session: Session, call_sid: str, create: Callable[[], Ticket], complaint: int = 1) -> Ticket:
    """The ticket ``create`` makes for a call that has none yet (the caller checked), in a
    savepoint: when a twin request made it at the same moment (the unique CallSid and complaint
    refuse the second), the twin's ticket instead."""
    try:
        with session.begin_nested():
            return create()
    except IntegrityError:
        existing = find_by_call(session, call_sid, complaint)
        if existing is None:
            raise
        return existing


def _ticket_id(session: Session, call_sid: str) -> int | None:
    """``find_by_call``'s id alone: cheaper, and all a new voicemail needs to know."""
    tickets = Ticket.__table__
    return session.scalar(select(tickets.c.id).where(tickets.c.call_sid == call_sid, tickets.c.call_complaint == 1))


def register_voicemail(
    session: Session, hotline: HotlineConfig, report: VoicemailReport, now: datetime
) -> Ticket | None:
    """``voicemail_registration``, as the ticket itself (one more query when it is new)."""
    registration = voicemail_registration(session, hotline, report, now)
    return None if registration is None else session.get(Ticket, registration.ticket_id)


def voicemail_registration(
    session: Session, hotline: HotlineConfig, report: VoicemailReport, now: datetime
) -> Registration | None:
    """The ticket for this call, created on the first report and completed by later ones.

    Safe against repeats and against the action and the callback arriving together: the
    CallSid is unique, and the loser of that race writes nothing (number included) and
    completes the winner's ticket. An ``absent`` recording alone creates nothing.
    """
    # Worked out before the first query: on SQLite that query takes the write lock.
    new = None if report.recording_status == "absent" else _voicemail_ticket(hotline, report, now)
    # The <Record> action usually comes first: it writes at once, and looks only if nothing was
    # written. Other reports look first. Either way is safe: the write skips a call that has its ticket.
    first = new is not None and report.source == "record action"
    ticket_id = None if first else _ticket_id(session, report.call_sid)
    if ticket_id is None and new is not None:
        written = _write_with_number(session, new)
        if written is not None:
            ticket_id, number = written
            history.log_written(session, number, new.events)
            return Registration(ticket_id, number, new.deadline, new.due)
        ticket_id = _ticket_id(session, report.call_sid)  # an earlier or a racing report wrote it
        if ticket_id is None:
            raise RuntimeError(f"no ticket written for CallSid {report.call_sid}, and none found")
    if ticket_id is None:
        return None
    ticket = session.get_one(Ticket, ticket_id)
    _merge_recording(session, ticket, report, now)
    deadline = ticket_deadline(hotline.routing, ticket.deadline_on, ticket.deadline_at, ticket.deadline_rule,
                               ticket.deadline_description)
    return Registration(ticket.id, ticket.number, deadline, {m.name: m.deadline for m in ticket.milestones})


def terms_told(ticket: Ticket) -> tuple[Deadline, dict[str, Deadline]]:
    """A new ticket's legal term and every milestone by name, as its caller is told them."""
    final = next(m.deadline for m in ticket.milestones if m.final)
    return final, {m.name: m.deadline for m in ticket.milestones}


def format_number(prefix: str, year: int, sequence: int) -> str:
    return f"{prefix}-{year}-{sequence:06d}"


def _next_sequence(session: Session, year: int) -> int:
    """Increment the year's counter; its row lock serialises writers, and a rollback undoes it."""
    _start_year(session, year)
    bump = (
        update(TicketSequence).where(TicketSequence.year == year)
        .values(last=TicketSequence.last + 1).returning(TicketSequence.last)
    )
    return session.execute(bump).scalar_one()


def _start_year(session: Session, year: int) -> None:
    """The year's counter row, at 0, unless it is there already."""
    session.execute(_dialect_insert(session)(TicketSequence).values(year=year, last=0).on_conflict_do_nothing())


def _dialect_insert(session: Session):
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def new_ticket(
    hotline: HotlineConfig, *, call_sid: str, department: str, caller: str | None, sms_to: str | None,
    language: str, source: str, now: datetime, complaint: int = 1, client_code: str | None = None,
) -> NewTicket:
    """A new ticket with the department's milestones and, when there is a number for it, its
    registration SMS; no history yet. Pure: nothing is read or written."""
    routing = hotline.routing
    tz = routing.timezone
    year = now.astimezone(tz).year
    milestones = milestones_for_department(routing, department, now)
    deadline = next(m.deadline for m in milestones if m.final)
    prompts = hotline.prompt_set(language)
    today = now.astimezone(tz).date()
    text = prompts.sms["ticket_registered"].format(
        **{m.name: sms_due(m.deadline, tz, today, prompts.sms) for m in milestones},
        ticket=_NUMBER_MARK, deadline=deadline.text(tz),
        company=routing.hotline.company, department=routing.departments[department].name[prompts.lang],
    )
    sms = queued_sms_values(hotline, sms_to, "ticket_registered", now) if sms_to else None
    return NewTicket(
        year=year, number_prefix=f"{routing.hotline.ticket_prefix}-{year}-",  # as format_number writes it
        ticket={
            "department": department, "caller": caller, "sms_to": sms_to, "client_code": client_code,
            "language": language, "source": source, "call_sid": call_sid, "call_complaint": complaint,
            "registered_at": now, "deadline_on": deadline.due_on, "deadline_at": deadline.due_at,
            "deadline_rule": deadline.rule, "deadline_description": deadline.description,
            "status": TicketStatus.REGISTERED, "extended": False, "extension_count": 0,
        },
        milestones=[
            {
                "name": m.name, "rule": m.deadline.rule, "description": m.deadline.description, "met_by": m.met_by,
                "final": m.final, "timed": m.deadline.timed, "due_on": m.deadline.due_on, "due_at": m.deadline.due_at,
                # The registration SMS meets its milestones as it is queued, with the ticket.
                "met_at": now if sms and m.met_by == "registration_sms" else None,
            }
            for m in milestones
        ],
        events=[], sms=sms, sms_text=text.split(_NUMBER_MARK),
        deadline=deadline, due={m.name: m.deadline for m in milestones},
    )


def open_ticket(
    session: Session, hotline: HotlineConfig, *, call_sid: str, department: str, caller: str | None,
    sms_to: str | None, language: str, source: str, now: datetime, complaint: int = 1,
    client_code: str | None = None,
) -> Ticket:
    """A new ticket with the year's next number and the department's deadline, its
    registration SMS queued in the same transaction. The caller records who registered it.
    (An operator's, a callback's or an incident's: rare enough for the ORM, which takes the
    counter first; a voicemail's is written by ``_write``.)"""
    new = new_ticket(
        hotline, call_sid=call_sid, department=department, caller=caller, sms_to=sms_to, language=language,
        source=source, now=now, complaint=complaint, client_code=client_code,
    )
    sequence = _next_sequence(session, new.year)
    ticket = Ticket(**new.ticket, year=new.year, sequence=sequence, number=new.number(sequence))
    ticket.milestones = [TicketMilestone(**row) for row in new.milestones]
    session.add(ticket)
    if new.sms is not None:
        queue_sms(session, hotline, ticket, "ticket_registered", ticket.number.join(new.sms_text), now)
    return ticket


def final_due(ticket: Ticket) -> str:
    """The ticket's legal term as history data (``ivr.tickets.history.due``)."""
    return history.due(next(m for m in ticket.milestones if m.final).deadline)


def meet_milestones(ticket: Ticket, met_by: str, now: datetime) -> None:
    """Mark the ticket's milestones that ``met_by`` meets (and that are not met yet) as met now.
    The resolution meets them all: a customer told the outcome needs no acknowledgement or
    progress message any more."""
    for milestone in ticket.milestones:
        if (met_by == "resolution" or milestone.met_by == met_by) and milestone.met_at is None:
            milestone.met_at = now


def unmeet_milestones(ticket: Ticket, met_by: str) -> None:
    """A re-opened ticket is no longer resolved: its resolution milestones are open again."""
    for milestone in ticket.milestones:
        if milestone.met_by == met_by:
            milestone.met_at = None


def _voicemail_ticket(hotline: HotlineConfig, report: VoicemailReport, now: datetime) -> NewTicket:
    """The ticket a voicemail report makes when it is the call's first: with the recording as
    the report knows it, and its history from "registered" on."""
    new = new_ticket(
        hotline, call_sid=report.call_sid, department=report.department, caller=report.caller,
        sms_to=report.sms_to, language=report.language, source=TicketSource.VOICEMAIL, now=now,
        client_code=report.client_code,
    )
    events = [history.event_values("caller", "registered", now, via="voicemail",
                                   report=report.source.replace(" ", "_"), deadline=history.due(new.deadline))]
    if report.recovered:
        events.append(history.event_values("system", "recovered", now, **report.recovered))
    elif report.recovered_note:
        events.append(history.event_values("system", "recovered", now, report.recovered_note))
    recording_status = "completed" if report.recording_url else None
    if report.source == "recording callback":  # Twilio's word on the recording, noted as later ones are
        recording_status = report.recording_status
        events.append(history.event_values("twilio", "recording", now,
                                           recording=report.recording_sid, status=report.recording_status))
    recording = {
        "recording_sid": report.recording_sid, "recording_url": report.recording_url,
        "recording_duration": report.recording_duration, "recording_status": recording_status,
    }
    return replace(new, ticket={**new.ticket, **recording}, events=events)


def _write_with_number(session: Session, new: NewTicket) -> tuple[int, str] | None:
    """``_write``, starting the year's counter when this is the year's first ticket."""
    written = _write(session, new)
    if written is None and _ticket_id(session, new.ticket["call_sid"]) is None:
        _start_year(session, new.year)  # nothing written, and not for a racing report: no counter yet
        written = _write(session, new)
    return written


def _write(session: Session, new: NewTicket) -> tuple[int, str] | None:
    """Write ``new`` with the year's next number: its id and number. None, with nothing
    written, when the call has its ticket already (a racing report wrote it) or the year has
    no counter row yet.

    The ticket's INSERT reads the counter (locking its row on PostgreSQL), and the counter's
    UPDATE comes from the ticket written, so a ticket not written takes no number. On
    PostgreSQL one statement writes every row (the others as CTEs on the ticket's), so the
    counter stays locked for that statement and the commit only. SQLite runs the same
    statements one after the other: it has one writer at a time anyway.
    """
    values = statement_values(new)
    shape = Shape.of(new)
    if new.sms is not None:
        announce_sms(session)  # heard at the commit (for nothing if a racing report wrote the ticket)
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(postgresql_statement(shape), values).first()
        return None if row is None else (row.id, row.number)
    insert_ticket, rest = sqlite_statements(shape)
    row = session.execute(insert_ticket, values).first()
    if row is None:
        return None
    for statement in rest:
        session.execute(statement, {**values, "ticket_id": row.id})
    return row.id, row.number


def _merge_recording(session: Session, ticket: Ticket, report: VoicemailReport, now: datetime) -> None:
    """Fill in what this report knows that the ticket does not; note a recording that failed."""
    if ticket.recording_sid not in (None, report.recording_sid) and report.recording_status == "absent":
        return  # the empty first take of a caller who spoke at the second
    ticket.recording_sid = ticket.recording_sid or report.recording_sid
    ticket.recording_url = ticket.recording_url or report.recording_url
    ticket.recording_duration = ticket.recording_duration or report.recording_duration
    ticket.client_code = ticket.client_code or report.client_code
    if report.source == "recording callback" and report.recording_status != ticket.recording_status:
        ticket.recording_status = report.recording_status
        history.record(session, ticket, "twilio", "recording", now,
                       recording=report.recording_sid, status=report.recording_status)
    elif ticket.recording_status is None and report.recording_url:
        ticket.recording_status = "completed"
