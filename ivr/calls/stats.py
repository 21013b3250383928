"""The supervisor's call statistics: per day, per department and per hour of day.

The rows of the range are selected and tallied in Python rather than grouped in SQL: a
complaint line takes hundreds of calls a day, not millions, and this way the local day and
hour (the hotline's timezone, daylight saving included) and the percentiles are computed the
same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import CallRecord, Ticket
from .figures import Tally, total

# A longer range is cut to this many days (ending on its last day), to bound the query.
MAX_DAYS = 92
HOURLY_DAYS = 7


@dataclass
class CallStats:
    days: list[date]
    per_day: dict[date, Tally]
    per_department: dict[str | None, Tally]   # None: the caller chose no department

    @property
    def total(self) -> Tally:
        return total(self.per_day.values())


def local_range(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """From the start of ``first`` to the start of the day after ``last``, in the hotline's timezone."""
    return datetime.combine(first, time(), tz), datetime.combine(last + timedelta(days=1), time(), tz)


def days_between(first: date, last: date) -> list[date]:
    if last < first:
        first, last = last, first
    first = max(first, last - timedelta(days=MAX_DAYS - 1))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def call_stats(session: Session, first: date, last: date, tz: ZoneInfo) -> CallStats:
    """Calls started and complaints registered from ``first`` to ``last`` (local days, inclusive)."""
    days = days_between(first, last)
    start, end = local_range(days[0], days[-1], tz)
    per_day = {day: Tally() for day in days}
    per_department: dict[str | None, Tally] = defaultdict(Tally)
    for call in _calls(session, start, end):
        for tally in (per_day[call.started_at.astimezone(tz).date()], per_department[call.department]):
            tally.add_call(call.outcome, call.offered_at is not None, call.seconds_to_answer)
    for department, source, at in _complaints(session, start, end):
        per_day[at.astimezone(tz).date()].add_complaint(source)
        per_department[department].add_complaint(source)
    return CallStats(days, per_day, dict(per_department))


def hourly_stats(session: Session, now: datetime, tz: ZoneInfo, days: int = HOURLY_DAYS) -> dict[int, Tally]:
    """Calls per local hour of day (0..23) over the last ``days`` days, today included."""
    today = now.astimezone(tz).date()
    start, end = local_range(today - timedelta(days=days - 1), today, tz)
    per_hour = {hour: Tally() for hour in range(24)}
    for call in _calls(session, start, end):
        per_hour[call.started_at.astimezone(tz).hour].add_call(
            call.outcome, call.offered_at is not None, call.seconds_to_answer)
    for _, source, at in _complaints(session, start, end):
        per_hour[at.astimezone(tz).hour].add_complaint(source)
    return per_hour


def _calls(session: Session, start: datetime, end: datetime) -> list[CallRecord]:
    return list(session.scalars(
        select(CallRecord).where(CallRecord.started_at >= start, CallRecord.started_at < end)
    ))


def _complaints(session: Session, start: datetime, end: datetime):
    return session.execute(
        select(Ticket.department, Ticket.source, Ticket.registered_at)
        .where(Ticket.registered_at >= start, Ticket.registered_at < end)
    ).all()
