"""Operator hours: parsing the ``hours:`` of routing.yaml and telling whether a
department is staffed at a given instant.

Hours are wall-clock times in the hotline's timezone, so a department open
09:00-21:00 stays open 09:00-21:00 on both sides of a daylight-saving change.
A span whose end is not after its start runs past midnight ("22:00-06:00").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from .workdays import WorkCalendar

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# A hyphen, or the en or em dash a word processor puts there ("09:00 – 17:30").
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013\u2014]\s*(\d{1,2}):(\d{2})\s*$")


def parse_days(text: str) -> tuple[int, ...]:
    """``"mon-fri"`` -> (0, 1, 2, 3, 4); ``"sat"`` -> (5,); ``"fri-mon"`` wraps the weekend."""
    parts = [p.strip().lower() for p in str(text).split("-")]
    if len(parts) > 2 or any(p not in DAYS for p in parts):
        raise ValueError(f'"{text}" is not a day or day range such as mon-fri, sat or mon-sun')
    first, last = DAYS.index(parts[0]), DAYS.index(parts[-1])
    return tuple((first + i) % 7 for i in range((last - first) % 7 + 1))


def parse_minutes(hours: str, minutes: str, *, allow_24: bool) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and (m or not allow_24)):
        raise ValueError(f'"{hours}:{minutes}" is not a time of day')
    return h * 60 + m


def parse_span(text: str) -> tuple[int, int]:
    """``"09:00-17:30"`` -> (540, 1050) minutes after midnight; the end may be 24:00."""
    match = _SPAN.match(str(text))
    if not match:
        raise ValueError(f'"{text}" is not a span of hours such as "09:00-17:30"')
    start = parse_minutes(match[1], match[2], allow_24=False)
    end = parse_minutes(match[3], match[4], allow_24=True)
    if start == end:
        raise ValueError(f'"{text}" is empty: it starts and ends at the same time')
    return start, end


def format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Span:
    """Open from ``start`` to ``end`` (minutes after midnight) on each of ``days``."""

    days_label: str
    days: tuple[int, ...]
    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class WeeklyHours:
    spans: tuple[Span, ...]

    @classmethod
    def parse(cls, mapping: Mapping[str, str | list[str]]) -> WeeklyHours:
        """Parse ``{mon-fri: "09:00-17:30", sat: ["09:00-12:00", "13:00-15:00"]}``.

        Raises ValueError whose first argument is the offending key.
        """
        spans = []
        for label, value in mapping.items():
            try:
                days = parse_days(label)
                texts = value if isinstance(value, list) else str(value).split(",")
                spans += [Span(str(label), days, *parse_span(t)) for t in texts]
            except ValueError as exc:
                raise ValueError(str(label), str(exc)) from None
        return cls(tuple(spans))

    @property
    def never_staffed(self) -> bool:
        return not self.spans


@dataclass(frozen=True)
class DepartmentSchedule:
    """When a department's operators answer, in the hotline's timezone."""

    hours: WeeklyHours
    closed_on_holidays: bool
    calendar: WorkCalendar
    timezone: ZoneInfo

    def is_open(self, at: datetime) -> bool:
        """True when ``at`` (timezone-aware) falls in the department's hours."""
        if at.tzinfo is None:
            raise ValueError("is_open needs a timezone-aware datetime")
        local = at.astimezone(self.timezone)
        today = local.date()
        yesterday = today - timedelta(days=1)
        minute = local.hour * 60 + local.minute
        for span in self.hours.spans:
            # An overnight span started yesterday still covers the small hours of today.
            if span.overnight and yesterday.weekday() in span.days and minute < span.end:
                if self._staffed_on(yesterday):
                    return True
            end = 24 * 60 if span.overnight else span.end
            if today.weekday() in span.days and span.start <= minute < end:
                if self._staffed_on(today):
                    return True
        return False

    def closed_for_holiday(self, at: datetime) -> bool:
        """True when ``at`` falls on a public holiday the department is closed for (it may
        still be outside its hours too: the caller is told of the holiday first)."""
        return not self._staffed_on(at.astimezone(self.timezone).date())

    def _staffed_on(self, day) -> bool:
        return not (self.closed_on_holidays and self.calendar.is_holiday(day))
