"""When a complaint must be answered: the terms of routing.yaml ``deadlines:``.

Pure date arithmetic: the caller passes the registration instant, the work
calendar and the hotline's timezone; nothing here reads a clock or a database.

* ``{days: N, count: calendar}``: the registration day plus N days.
* ``{days: N, count: working}``: N working days counted from the day after
  registration (weekends, public holidays and decreed days off skipped; decreed
  working Saturdays counted).
* Either day term whose last day is not a working day ends on the next working day.
* ``{hours: N, within: "09:00-21:00", days: mon-sun}``: N hours of the daily
  window, wall clock in the hotline's timezone; see ``_add_business_hours``.
  ``holidays: pause`` stops that clock on public holidays.

``Deadline.due_at`` is the first instant *after* the term: for day rules the
start (local midnight) of the day after ``due_on``, so "overdue" is simply
``now >= due_at``. In every case ``due_on`` is the local date of the last
moment before ``due_at``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .schedule import parse_span
from .terms import DeadlineRule
from .workdays import WorkCalendar

if TYPE_CHECKING:
    from .config import Routing

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Deadline:
    due_on: date  # last day of the term, in the hotline's timezone
    due_at: datetime  # aware UTC instant at which the term has expired (exclusive end)
    rule: str  # the rule's name in routing.yaml, e.g. "fault"
    description: str  # e.g. "3 working days"
    timed: bool = False  # an hours rule: due at a time of day, not at the end of a day

    def local_due(self, tz: ZoneInfo) -> datetime:
        """The moment a person is told: the due instant for a timed term, else the last day's start."""
        return self.due_at.astimezone(tz) if self.timed else datetime.combine(self.due_on, time(), tzinfo=tz)

    def text(self, tz: ZoneInfo) -> str:
        """As written in an SMS or on a page: "04.12.2026", or "23.11.2026 10:30" for a timed term."""
        return self.local_due(tz).strftime("%d.%m.%Y %H:%M" if self.timed else "%d.%m.%Y")

    def machine_text(self, tz: ZoneInfo) -> str:
        """As ``ivr deadline`` prints it first: "2026-12-04", or "2026-11-23T10:30"."""
        return self.local_due(tz).strftime("%Y-%m-%dT%H:%M" if self.timed else "%Y-%m-%d")


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("registered_at must be a timezone-aware datetime")


def registration_day(registered_at: datetime, tz: ZoneInfo) -> date:
    """The calendar day of ``registered_at`` on the hotline's wall clock."""
    _require_aware(registered_at)
    return registered_at.astimezone(tz).date()


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def _next_working_day_from(day: date, calendar: WorkCalendar) -> date:
    """``day`` itself if it is a working day, otherwise the first working day after it."""
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return day


def _last_day(rule: DeadlineRule, start: date, calendar: WorkCalendar) -> date:
    """The last day of a day rule for a term that starts running on ``start``."""
    assert isinstance(rule.days, int)
    if rule.count == "calendar":
        day = start + timedelta(days=rule.days)
    else:
        # Working days are counted from the day after registration.
        day, counted = start, 0
        while counted < rule.days:
            day += timedelta(days=1)
            counted += calendar.is_working_day(day)
    return _next_working_day_from(day, calendar)


def _windows(rule: DeadlineRule, first_day: date, tz: ZoneInfo,
             calendar: WorkCalendar) -> Iterator[tuple[datetime, datetime]]:
    """The rule's daily windows as (open, close) UTC instants, in order, from ``first_day``;
    with ``holidays: pause``, none on a public holiday or decreed day off."""
    start, end = parse_span(str(rule.within))
    weekdays = rule.hours_days
    day = first_day
    while True:
        paused = rule.holidays == "pause" and calendar.is_holiday(day)
        if day.weekday() in weekdays and not paused:
            # Build each edge from the local wall clock so DST moves the UTC instant, not the hour.
            close_day = day + timedelta(days=1) if end <= start or end == 24 * 60 else day
            opens = datetime.combine(day, time(start // 60, start % 60), tzinfo=tz)
            closes = datetime.combine(close_day, time((end // 60) % 24, end % 60), tzinfo=tz)
            yield opens.astimezone(UTC), closes.astimezone(UTC)
        day += timedelta(days=1)


def _add_business_hours(rule: DeadlineRule, since: datetime, tz: ZoneInfo, calendar: WorkCalendar) -> datetime:
    """``since`` plus ``rule.hours`` hours counted only inside the open windows.

    Time outside the window (or on weekdays not listed) does not count, so a
    registration at night starts counting at the next opening. Public holidays
    stop the clock only with ``holidays: pause``.
    Hours are real elapsed hours, so a window spanning a DST change is an hour
    shorter or longer that day.
    """
    remaining = timedelta(hours=rule.hours or 0)
    since = since.astimezone(UTC)
    # Start a day early: an overnight window opened yesterday may still be open.
    for opens, closes in _windows(rule, since.astimezone(tz).date() - timedelta(days=1), tz, calendar):
        if closes <= since:
            continue
        begin = max(opens, since)
        if remaining <= closes - begin:
            return begin + remaining
        remaining -= closes - begin
    raise AssertionError("unreachable: _windows is endless")


def _term(rule_name: str, rule: DeadlineRule, start: date, since: datetime,
          calendar: WorkCalendar, tz: ZoneInfo, description: str) -> Deadline:
    """A day rule runs from the date ``start``; an hours rule from the instant ``since``."""
    if rule.hours is not None:
        due_at = _add_business_hours(rule, since, tz, calendar)
        due_on = (due_at - _TICK).astimezone(tz).date()
        return Deadline(due_on, due_at, rule_name, description, timed=True)
    due_on = _last_day(rule, start, calendar)
    due_at = _local_midnight(due_on + timedelta(days=1), tz)
    return Deadline(due_on, due_at, rule_name, description)


def compute_deadline(rule_name: str, rule: DeadlineRule, registered_at: datetime,
                     calendar: WorkCalendar, tz: ZoneInfo) -> Deadline:
    """The deadline of a complaint registered at ``registered_at`` (timezone-aware)."""
    start = registration_day(registered_at, tz)
    return _term(rule_name, rule, start, registered_at, calendar, tz, rule.describe())


def extend_deadline(current: Deadline, rule_name: str, rule: DeadlineRule,
                    calendar: WorkCalendar, tz: ZoneInfo) -> Deadline:
    """``current`` extended by ``rule``, counted as if registered when it fell due. How many
    times a ticket may be extended is the ticket's business (``ivr.tickets.terms``)."""
    description = f"{current.description} + {rule.describe()}"
    return _term(rule_name, rule, current.due_on, current.due_at, calendar, tz, description)


def ticket_deadline(routing: Routing, due_on: date, due_at: datetime, rule: str, description: str) -> Deadline:
    """A stored deadline (a ticket's columns) as a ``Deadline``, timed when its rule counts hours."""
    known = routing.deadlines.get(rule)
    return Deadline(due_on, due_at, rule, description, timed=known is not None and known.hours is not None)


@dataclass(frozen=True)
class MilestoneDue:
    """One milestone of a complaint: when it is due, what meets it, and what it counts from."""

    name: str
    deadline: Deadline
    met_by: str
    after: str | None
    final: bool


def milestones_for_department(routing: Routing, department: str, registered_at: datetime) -> list[MilestoneDue]:
    """Every milestone of a complaint for ``department`` registered at ``registered_at``, each
    after the one it counts from (routing.yaml's order otherwise)."""
    registration_day(registered_at, routing.timezone)  # refuses a naive time
    milestones = routing.departments[department].milestones
    due: dict[str, MilestoneDue] = {}
    while len(due) < len(milestones):
        for name, milestone in milestones.items():
            if name in due or (milestone.after is not None and milestone.after not in due):
                continue
            due[name] = MilestoneDue(name, _milestone_deadline(routing, milestone, registered_at, due),
                                     milestone.met_by, milestone.after, milestone.final)
    return list(due.values())


def _milestone_deadline(routing: Routing, milestone, registered_at: datetime, due: dict[str, MilestoneDue]) -> Deadline:
    rule = routing.deadlines[milestone.rule]
    if milestone.after is None:
        return compute_deadline(milestone.rule, rule, registered_at, routing.calendar, routing.timezone)
    # Counted as if registered when the earlier milestone fell due.
    earlier = due[milestone.after].deadline
    description = f"{rule.describe()} after {milestone.after}"
    return _term(milestone.rule, rule, earlier.due_on, earlier.due_at, routing.calendar, routing.timezone, description)


def deadline_for_department(routing: Routing, department: str, registered_at: datetime) -> Deadline:
    """The legal (final) deadline of a complaint for ``department`` under the routing.yaml rules."""
    return next(m.deadline for m in milestones_for_department(routing, department, registered_at) if m.final)


# Registrations through one ordinary week, morning and evening: a legal term that falls due
# before another milestone the resolution meets, at every one of them, was listed in the wrong place.
_SAMPLE_WEEK = [datetime.combine(date(2026, 3, 9) + timedelta(days=d), time(h)) for d in range(7) for h in (10, 20)]


def final_milestone_problems(routing: Routing) -> list[str]:
    """Departments whose final (legal) milestone is always due before another milestone the
    resolution meets: the last one listed is taken as final unless one says ``final: true``,
    so swapping two lines would make a 2-hour promise the legal term."""
    problems = []
    for key, dept in routing.departments.items():
        final = dept.final_milestone
        others = [name for name, m in dept.milestones.items() if m.met_by == "resolution" and name != final]
        for other in others:
            if all(_due(routing, key, at, final) < _due(routing, key, at, other) for at in _SAMPLE_WEEK):
                problems.append(
                    f"departments.{key}.deadline.{final}: taken as the final (legal) term, it falls due before "
                    f"{other}, which the resolution meets too: list the legal term last, or mark it final: true"
                )
    return problems


def _due(routing: Routing, department: str, local: datetime, milestone: str) -> datetime:
    registered_at = local.replace(tzinfo=routing.timezone)
    return next(m.deadline.due_at for m in milestones_for_department(routing, department, registered_at) if m.name == milestone)
