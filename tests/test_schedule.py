"""When a department's operators answer: days, midnight, DST in Bucharest, holidays."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from ivr.schedule import DepartmentSchedule, WeeklyHours, parse_days, parse_span
from ivr.workdays import WorkCalendar

from conftest import BUCHAREST, bucharest

RO = WorkCalendar("RO")


def schedule(hours: dict, closed_on_holidays: bool = False, calendar: WorkCalendar = RO) -> DepartmentSchedule:
    return DepartmentSchedule(WeeklyHours.parse(hours), closed_on_holidays, calendar, BUCHAREST)


def test_day_ranges():
    assert parse_days("mon-fri") == (0, 1, 2, 3, 4)
    assert parse_days("sat") == (5,)
    assert parse_days("mon-sun") == tuple(range(7))
    assert parse_days("fri-mon") == (4, 5, 6, 0)
    with pytest.raises(ValueError):
        parse_days("monday-friday")


@pytest.mark.parametrize("text", ["09:00-17:30", "09:00 – 17:30", "09:00—17:30"])
def test_hours_may_be_separated_by_the_dash_a_word_processor_writes(text):
    assert parse_span(text) == (540, 1050)


@pytest.mark.parametrize("text", ["25:00-26:00", "09:00-25:00", "9-17", "09:60-10:00", "10:00-10:00", "24:00-01:00"])
def test_bad_spans_are_refused(text):
    with pytest.raises(ValueError):
        parse_span(text)


@pytest.mark.parametrize(
    "at, is_open",
    [
        (bucharest(2026, 11, 27, 8, 59), False),   # Friday, a minute before opening
        (bucharest(2026, 11, 27, 9, 0), True),
        (bucharest(2026, 11, 27, 17, 29), True),
        (bucharest(2026, 11, 27, 17, 30), False),  # closing time is exclusive
        (bucharest(2026, 11, 28, 12, 0), False),   # Saturday
        (bucharest(2026, 11, 29, 12, 0), False),   # Sunday
    ],
)
def test_payments_weekdays(at, is_open):
    assert schedule({"mon-fri": "09:00-17:30"}).is_open(at) is is_open


def test_several_spans_and_day_ranges():
    hours = schedule({"mon-fri": ["09:00-12:00", "13:00-17:00"], "sat": "10:00-14:00"})
    assert hours.is_open(bucharest(2026, 11, 24, 11, 0))
    assert not hours.is_open(bucharest(2026, 11, 24, 12, 30))  # lunch
    assert hours.is_open(bucharest(2026, 11, 28, 13, 59))
    assert not hours.is_open(bucharest(2026, 11, 29, 11, 0))


def test_span_across_midnight_belongs_to_the_day_it_starts():
    night = schedule({"fri": "22:00-06:00"})
    assert night.is_open(bucharest(2026, 11, 27, 23, 0))   # Friday night
    assert night.is_open(bucharest(2026, 11, 28, 5, 59))   # Saturday small hours
    assert not night.is_open(bucharest(2026, 11, 28, 6, 0))
    assert not night.is_open(bucharest(2026, 11, 27, 5, 0))  # Friday small hours: Thursday is closed


def test_always_and_never():
    assert schedule({"mon-sun": "00:00-24:00"}).is_open(bucharest(2026, 11, 24, 3, 0))
    assert schedule({"mon-sun": "00:00-24:00"}).is_open(bucharest(2026, 11, 24, 23, 59))
    assert not schedule({}).is_open(bucharest(2026, 11, 24, 12, 0))


def test_hours_are_bucharest_wall_clock_across_dst():
    technical = schedule({"mon-sun": "09:00-21:00"})
    # 06:30 UTC is 08:30 in winter (EET, UTC+2) but 09:30 in summer (EEST, UTC+3).
    assert not technical.is_open(datetime(2026, 3, 28, 6, 30, tzinfo=timezone.utc))
    assert technical.is_open(datetime(2026, 3, 29, 6, 30, tzinfo=timezone.utc))  # DST began at 04:00
    # Autumn: 18:30 UTC is 21:30 the day before the change and 20:30 the day after.
    assert not technical.is_open(datetime(2026, 10, 24, 18, 30, tzinfo=timezone.utc))
    assert technical.is_open(datetime(2026, 10, 25, 18, 30, tzinfo=timezone.utc))


def test_instant_is_converted_to_bucharest():
    technical = schedule({"mon-sun": "09:00-21:00"})
    assert technical.is_open(datetime(2026, 11, 24, 18, 59, tzinfo=timezone.utc))  # 20:59 local
    assert not technical.is_open(datetime(2026, 11, 24, 19, 0, tzinfo=timezone.utc))
    with pytest.raises(ValueError):
        technical.is_open(datetime(2026, 11, 24, 12, 0))


@pytest.mark.parametrize(
    "day",
    [(2026, 12, 1), (2026, 12, 25), (2026, 4, 13), (2026, 6, 1), (2027, 1, 1)],
    ids=["national-day", "christmas", "easter-monday", "pentecost-monday", "new-year"],
)
def test_public_holidays(day):
    hours = {"mon-sun": "09:00-21:00"}
    at = bucharest(*day, 12, 0)
    assert schedule(hours, closed_on_holidays=False).is_open(at)
    assert not schedule(hours, closed_on_holidays=True).is_open(at)


def test_decreed_day_off_closes_like_a_holiday():
    decreed = WorkCalendar("RO", extra_non_working=frozenset({bucharest(2026, 12, 24).date()}))
    hours = {"mon-fri": "09:00-17:30"}
    assert schedule(hours, True, RO).is_open(bucharest(2026, 12, 24, 10, 0))
    assert not schedule(hours, True, decreed).is_open(bucharest(2026, 12, 24, 10, 0))
