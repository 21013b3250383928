"""Complaint tickets: registering a voicemail exactly once, with its number, deadline and SMS."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import history
from .deadlines import milestones_for_department
from .models import Ticket, TicketMilestone, TicketSequence, TicketSource
from .outbox import queue_sms
from .settings import HotlineConfig
from .smstext import sms_due

RECORDING_STATUSES = {"completed", "absent", "failed"}


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
    # Its data (``ivr.history``): recording, at, department, language, sms. Defaulted, so that
    # journal lines written before it existed still read back.
    recovered: dict[str, Any] | None = None
    # The same as a sentence, as journal lines written before ``recovered`` carry it.
    recovered_note: str | None = None
    # The client code the caller keyed in (routing.yaml's ask_client_code). Defaulted, so that
    # journal lines written before it existed still read back.
    client_code: str | None = None


def find_by_call(session: Session, call_sid: str, complaint: int = 1) -> Ticket | None:
    """The ticket of a call's first complaint (or of its ``complaint``-th, taken live)."""
    return session.scalar(select(Ticket).where(Ticket.call_sid == call_sid, Ticket.call_complaint == complaint))


def register_voicemail(
    session: Session, hotline: HotlineConfig, report: VoicemailReport, now: datetime
) -> Ticket | None:
    """The ticket for this call, created on the first report and completed by later ones.

    Safe against repeats and against the action and the callback arriving together: the
    CallSid is unique, and a loser of that race rolls back its savepoint (number included)
    and reads the winner's ticket. An ``absent`` recording alone creates nothing.
    """
    ticket = find_by_call(session, report.call_sid)
    if ticket is None and report.recording_status == "absent":
        return None
    if ticket is None:
        try:
            with session.begin_nested():
                ticket = _create(session, hotline, report, now)
        except IntegrityError:
            ticket = find_by_call(session, report.call_sid)
            if ticket is None:
                raise
    _merge_recording(session, ticket, report, now)
    return ticket


def format_number(prefix: str, year: int, sequence: int) -> str:
    return f"{prefix}-{year}-{sequence:06d}"


def _next_sequence(session: Session, year: int) -> int:
    """Increment the year's counter; its row lock serialises writers, and a rollback undoes it."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(TicketSequence).values(year=year, last=0).on_conflict_do_nothing())
    bump = (
        update(TicketSequence).where(TicketSequence.year == year)
        .values(last=TicketSequence.last + 1).returning(TicketSequence.last)
    )
    return session.execute(bump).scalar_one()


def open_ticket(
    session: Session, hotline: HotlineConfig, *, call_sid: str, department: str, caller: str | None,
    sms_to: str | None, language: str, source: str, now: datetime, complaint: int = 1,
    client_code: str | None = None,
) -> Ticket:
    """A new ticket with the year's next number and the department's deadline, its
    registration SMS queued in the same transaction. The caller records who registered it."""
    routing = hotline.routing
    year = now.astimezone(routing.timezone).year
    sequence = _next_sequence(session, year)
    milestones = milestones_for_department(routing, department, now)
    deadline = next(m.deadline for m in milestones if m.final)
    ticket = Ticket(
        number=format_number(routing.hotline.ticket_prefix, year, sequence), year=year, sequence=sequence,
        department=department, caller=caller, sms_to=sms_to, client_code=client_code, language=language, source=source,
        call_sid=call_sid, call_complaint=complaint, registered_at=now, deadline_on=deadline.due_on,
        deadline_at=deadline.due_at, deadline_rule=deadline.rule, deadline_description=deadline.description,
    )
    session.add(ticket)
    ticket.milestones = [
        TicketMilestone(
            name=m.name, rule=m.deadline.rule, description=m.deadline.description, met_by=m.met_by, final=m.final,
            timed=m.deadline.timed, due_on=m.deadline.due_on, due_at=m.deadline.due_at,
        )
        for m in milestones
    ]
    prompts = hotline.prompt_set(language)
    today = now.astimezone(routing.timezone).date()
    text = prompts.sms["ticket_registered"].format(
        **{m.name: sms_due(m.deadline, routing.timezone, today, prompts.sms) for m in milestones},
        ticket=ticket.number, deadline=deadline.text(routing.timezone),
        company=routing.hotline.company, department=routing.departments[department].name[prompts.lang],
    )
    if queue_sms(session, hotline, ticket, "ticket_registered", text, now) is not None:
        meet_milestones(ticket, "registration_sms", now)
    return ticket


def final_due(ticket: Ticket) -> str:
    """The ticket's legal term as history data (``ivr.history.due``)."""
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


def _create(session: Session, hotline: HotlineConfig, report: VoicemailReport, now: datetime) -> Ticket:
    ticket = open_ticket(
        session, hotline, call_sid=report.call_sid, department=report.department, caller=report.caller,
        sms_to=report.sms_to, language=report.language, source=TicketSource.VOICEMAIL, now=now,
        client_code=report.client_code,
    )
    history.record(session, ticket, "caller", "registered", now, via="voicemail",
                   report=report.source.replace(" ", "_"), deadline=final_due(ticket))
    if report.recovered:
        history.record(session, ticket, "system", "recovered", now, **report.recovered)
    elif report.recovered_note:
        history.record(session, ticket, "system", "recovered", now, report.recovered_note)
    session.flush()
    return ticket


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
