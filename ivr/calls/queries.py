"""Finding calls for the console: the call an operator is on, the call log with its filters,
one call, and a caller's earlier tickets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session, selectinload

from ..models import CallRecord, Ticket

PER_PAGE = 25
# Twilio ends every call after 4 hours: an answered call older than that whose status
# callback never came is not the one the operator is on.
LONGEST_CALL = timedelta(hours=4)
EARLIER_TICKETS = 10


@dataclass(frozen=True)
class CallFilter:
    department: str = ""
    outcome: str = ""          # "" = all, a CallOutcome, or "open" for calls not ended yet
    since: date | None = None  # local dates, both included
    until: date | None = None
    no_ticket: bool = False
    page: int = 1


@dataclass
class CallPage:
    calls: list[CallRecord]
    tickets: dict[str, list[Ticket]]  # call_sid -> its tickets
    total: int
    page: int
    pages: int


def current_call(session: Session, user_id: int, now: datetime) -> CallRecord | None:
    """The call ``user_id`` answered last and that has not ended yet."""
    return session.scalar(
        select(CallRecord).where(
            CallRecord.answered_user_id == user_id, CallRecord.ended_at.is_(None),
            CallRecord.answered_at >= now - LONGEST_CALL,
        ).order_by(CallRecord.answered_at.desc(), CallRecord.id.desc()).limit(1)
    )


def get_call(session: Session, call_sid: str) -> CallRecord | None:
    return session.scalar(
        select(CallRecord).where(CallRecord.call_sid == call_sid).options(selectinload(CallRecord.answered_user))
    )


def tickets_of_caller(session: Session, caller: str | None, limit: int = EARLIER_TICKETS) -> list[Ticket]:
    """The caller's tickets, newest first (none for a withheld number)."""
    if not caller:
        return []
    return list(session.scalars(
        select(Ticket).where(Ticket.caller == caller).order_by(Ticket.registered_at.desc(), Ticket.id.desc()).limit(limit)
    ))


def _has_ticket() -> ColumnElement[bool]:
    return exists().where(Ticket.call_sid == CallRecord.call_sid)


def _conditions(wanted: CallFilter, timezone: ZoneInfo) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.department:
        conditions.append(CallRecord.department == wanted.department)
    if wanted.outcome == "open":
        conditions.append(CallRecord.ended_at.is_(None))
    elif wanted.outcome:
        conditions.append(CallRecord.outcome == wanted.outcome)
    if wanted.since:
        conditions.append(CallRecord.started_at >= datetime.combine(wanted.since, datetime.min.time(), timezone))
    if wanted.until:
        next_day = datetime.combine(wanted.until + timedelta(days=1), datetime.min.time(), timezone)
        conditions.append(CallRecord.started_at < next_day)
    if wanted.no_ticket:
        conditions.append(~_has_ticket())
    return conditions


def list_calls(session: Session, wanted: CallFilter, timezone: ZoneInfo) -> CallPage:
    """The newest calls first, with the tickets each produced."""
    conditions = _conditions(wanted, timezone)
    total = session.scalar(select(func.count()).select_from(CallRecord).where(*conditions)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(wanted.page, 1), pages)
    calls = list(session.scalars(
        select(CallRecord).where(*conditions).options(selectinload(CallRecord.answered_user))
        .order_by(CallRecord.started_at.desc(), CallRecord.id.desc()).offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ))
    tickets: dict[str, list[Ticket]] = {}
    if calls:
        for ticket in session.scalars(
            select(Ticket).where(Ticket.call_sid.in_([c.call_sid for c in calls])).order_by(Ticket.call_complaint)
        ):
            tickets.setdefault(ticket.call_sid, []).append(ticket)
    return CallPage(calls, tickets, total, page, pages)
