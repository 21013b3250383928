"""A caller's own complaints on the phone: their state in a few words, found by the caller's
number or by the digits they key in, and the messages they add to one of them by voicemail."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Connection, and_, bindparam, case, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..deadlines import Deadline, ticket_deadline
from ..inputs import ascii_int
from ..models import CallerMessage, Ticket
from ..settings import HotlineConfig
from ..sms.outbox import queue_sms
from ..states import TicketStatus
from . import history

# A complaint resolved or rejected this recently is still told to its caller.
RECENTLY_CLOSED = timedelta(days=30)
# The most of a caller's complaints offered one after another ("for the next one, press 3").
MOST_OFFERED = 5
_YEARS = range(2000, 2100)


@dataclass(frozen=True)
class TicketState:
    """What a caller may hear about a ticket, read out of the session."""

    number: str
    sequence: int
    status: str
    deadline: Deadline
    outcome: str | None
    texted: bool = False  # it has an SMS number: what is added to it is confirmed by SMS
    numbers: frozenset[str] = frozenset()  # the caller's and the SMS number, when read (a keyed ticket)

    @property
    def open(self) -> bool:
        return self.status in TicketStatus.OPEN

    def belongs_to(self, number: str | None) -> bool:
        """Whether a call from ``number`` comes from the complaint's own numbers."""
        return number is not None and number in self.numbers


def _state(hotline: HotlineConfig, ticket) -> TicketState:
    """A ticket, or a row of its columns, as its caller may hear of it."""
    deadline = ticket_deadline(hotline.routing, ticket.deadline_on, ticket.deadline_at,
                               ticket.deadline_rule, ticket.deadline_description)
    return TicketState(ticket.number, ticket.sequence, ticket.status, deadline, ticket.outcome, ticket.sms_to is not None)


def callers_tickets(session: Session | Connection, hotline: HotlineConfig, number: str, now: datetime) -> list[TicketState]:
    """The tickets of a caller's number (their caller ID or their SMS number): the open ones,
    nearest deadline first, then those resolved or rejected in the last 30 days, latest first.
    Every mobile caller's arrival asks: one query, built once, on indexed columns."""
    rows = session.execute(_callers_query(), {"number": number, "since": now - RECENTLY_CLOSED}).all()
    return [_state(hotline, row) for row in rows]


@cache
def _callers_query():
    """``callers_tickets``'s query: a Core statement of the columns ``_state`` reads, not tickets."""
    tickets = Ticket.__table__.c
    number, since = bindparam("number"), bindparam("since", type_=tickets.closed_at.type)
    is_open = or_(*(tickets.status == status for status in TicketStatus.OPEN))
    recently_closed = and_(or_(tickets.status == TicketStatus.RESOLVED, tickets.status == TicketStatus.REJECTED),
                           tickets.closed_at >= since)
    return (
        select(tickets.number, tickets.sequence, tickets.status, tickets.deadline_on, tickets.deadline_at,
               tickets.deadline_rule, tickets.deadline_description, tickets.outcome, tickets.sms_to)
        .where(or_(tickets.caller == number, tickets.sms_to == number), or_(is_open, recently_closed))
        .order_by(case((is_open, 0), else_=1), case((is_open, tickets.deadline_at)), case((is_open, tickets.id)),
                  tickets.closed_at.desc(), tickets.id.desc())
        .limit(MOST_OFFERED)
    )


def keyed_ticket(session: Session, hotline: HotlineConfig, digits: str | None) -> TicketState | None:
    """The ticket a caller keyed in: its sequence ("123" or "000123", the latest year's), or
    the year and the sequence ("2026000123"), the digits of its number after the prefix."""
    text = (digits or "").strip().rstrip("#")
    if ascii_int(text, max_digits=12) is None:
        return None
    where = [Ticket.sequence == int(text)]
    if len(text) >= 7 and int(text[:4]) in _YEARS:
        where = [Ticket.year == int(text[:4]), Ticket.sequence == int(text[4:])]
    ticket = session.scalars(select(Ticket).where(*where).order_by(Ticket.year.desc()).limit(1)).first()
    if ticket is None:
        return None
    numbers = frozenset(n for n in (ticket.caller, ticket.sms_to) if n)
    return replace(_state(hotline, ticket), numbers=numbers)


@dataclass(frozen=True)
class MessageReport:
    """What Twilio told us about a caller's message for a ticket (the <Record> action or its callback)."""

    call_sid: str
    ticket_number: str
    caller: str | None
    recording_sid: str | None
    recording_url: str | None
    recording_duration: int | None
    recording_status: str  # completed | absent | failed


def attach_message(
    session: Session, hotline: HotlineConfig, report: MessageReport, now: datetime
) -> CallerMessage | None:
    """The call's message on its ticket, attached on the first report and completed by later
    ones: one row, one history line and one acknowledging SMS per call, however often Twilio
    repeats itself. None when the ticket is unknown or nothing was recorded."""
    message = _message_of(session, report.call_sid)
    if message is None:
        ticket = session.scalar(select(Ticket).where(Ticket.number == report.ticket_number))
        if ticket is None or report.recording_status == "absent":
            return None
        try:
            with session.begin_nested():
                message = _attach(session, hotline, ticket, report, now)
        except IntegrityError:  # the action and the callback raced: the other one attached it
            message = _message_of(session, report.call_sid)
            if message is None:
                raise
    message.recording_sid = message.recording_sid or report.recording_sid
    message.recording_url = message.recording_url or report.recording_url
    message.recording_duration = message.recording_duration or report.recording_duration
    if report.recording_status != "absent":
        message.recording_status = report.recording_status
    return message


def _message_of(session: Session, call_sid: str) -> CallerMessage | None:
    return session.scalar(select(CallerMessage).where(CallerMessage.call_sid == call_sid))


def _attach(session: Session, hotline: HotlineConfig, ticket: Ticket, report: MessageReport, now: datetime) -> CallerMessage:
    message = CallerMessage(
        ticket=ticket, call_sid=report.call_sid, caller=report.caller, recording_sid=report.recording_sid,
        recording_url=report.recording_url, recording_duration=report.recording_duration,
        recording_status=report.recording_status, created_at=now,
    )
    session.add(message)
    history.record(session, ticket, "caller", "caller_message", now, call_sid=report.call_sid,
                   seconds=report.recording_duration)
    sms = hotline.prompt_set(ticket.language).sms["message_added"]
    text = sms.format(company=hotline.routing.hotline.company, ticket=ticket.number)
    queue_sms(session, hotline, ticket, f"message_added#{report.call_sid}", text, now)
    session.flush()
    return message
