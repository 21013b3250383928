"""ivr.deadlines against the real RO calendar of the `holidays` package.

Every expected date below was counted by hand on a 2026/2027 calendar; the
comment on each case shows the count so a reviewer can check it.
RO public holidays used: 2026-01-01/02, 01-06/07, 04-10 (Good Friday),
04-12/13 (Easter), 05-01, 05-31/06-01 (Pentecost, Children's Day), 08-15,
11-30, 12-01, 12-25/26; 2027-01-01/02, 01-06/07, 04-30, 05-01, 05-02/03
(Easter), 06-01, 06-20/21 (Pentecost).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.config import Routing, load_routing, parse_routing
from ivr.yaml_files import read_yaml
from ivr.terms import DeadlineRule
from ivr.deadlines import (
    Deadline,
    compute_deadline,
    deadline_for_department,
    extend_deadline,
    registration_day,
)
from ivr.workdays import WorkCalendar

ROUTING_YAML = Path(__file__).resolve().parent / "routing.yaml"
TZ = ZoneInfo("Europe/Bucharest")
RO = WorkCalendar("RO")

COMPLAINT = DeadlineRule(days=30, count="calendar")
FAULT = DeadlineRule(days=3, count="working")
EXTENSION = DeadlineRule(days=30, count="working")
HOURS_24 = DeadlineRule(hours=24, within="09:00-21:00", days="mon-sun")


@pytest.fixture(scope="module")
def routing() -> Routing:
    """The shipped routing.yaml (complaint 30 calendar, fault 3 working, extension 30 working)."""
    return load_routing(ROUTING_YAML)


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """A wall-clock instant in Bucharest."""
    return datetime(y, m, d, hh, mm, tzinfo=TZ)


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=UTC)


# --- day rules -------------------------------------------------------------

CALENDAR_CASES = [
    # registered, due_on, why
    (local(2026, 3, 2), date(2026, 4, 1), "plain: Mon 2 Mar + 30 = Wed 1 Apr"),
    (local(2026, 1, 31), date(2026, 3, 2), "end of month: 31 Jan + 30 = Mon 2 Mar (28-day February)"),
    (local(2026, 10, 31), date(2026, 12, 2), "+30 = Mon 30 Nov (St Andrew), Tue 1 Dec -> Wed 2 Dec"),
    (local(2026, 11, 1), date(2026, 12, 2), "+30 = Tue 1 Dec (National Day) -> Wed 2 Dec"),
    (local(2026, 11, 25), date(2026, 12, 28), "+30 = Fri 25 Dec, Sat 26, Sun 27 -> Mon 28 Dec"),
    (local(2026, 12, 2), date(2027, 1, 4), "+30 = Fri 1 Jan 2027, Sat 2, Sun 3 -> Mon 4 Jan"),
    (local(2026, 3, 11), date(2026, 4, 14), "+30 = Fri 10 Apr (Good Friday) .. Mon 13 (Easter) -> Tue 14"),
    (local(2026, 3, 13), date(2026, 4, 14), "+30 = Sun 12 Apr (Easter), Mon 13 -> Tue 14 Apr"),
    (local(2026, 5, 1), date(2026, 6, 2), "+30 = Sun 31 May (Pentecost), Mon 1 Jun -> Tue 2 Jun"),
    (local(2025, 12, 11), date(2026, 1, 12), "+30 = Sat 10 Jan -> Mon 12 Jan"),
]

WORKING_CASES = [
    (local(2026, 11, 27), date(2026, 12, 4), "Fri: 30 Nov, 1 Dec off; Wed 2 (1), Thu 3 (2), Fri 4 (3)"),
    (utc(2026, 11, 26, 23, 30), date(2026, 12, 4), "01:30 on 27 Nov in Bucharest, so as above"),
    (utc(2026, 11, 26, 21, 30), date(2026, 12, 3), "23:30 on Thu 26 Nov: Fri 27 (1), Wed 2 (2), Thu 3 (3)"),
    (local(2026, 12, 23), date(2026, 12, 29), "Thu 24 (1), Fri 25 off, Mon 28 (2), Tue 29 (3)"),
    (local(2026, 12, 31), date(2027, 1, 8), "Fri 1 Jan off, Mon 4 (1), Tue 5 (2), 6-7 Jan off, Fri 8 (3)"),
    (local(2026, 4, 9), date(2026, 4, 16), "Fri 10 .. Mon 13 off, Tue 14 (1), Wed 15 (2), Thu 16 (3)"),
    (local(2027, 4, 29), date(2027, 5, 6), "Fri 30 Apr .. Mon 3 May off, Tue 4 (1), Wed 5 (2), Thu 6 (3)"),
    (local(2026, 5, 29), date(2026, 6, 4), "Mon 1 Jun off, Tue 2 (1), Wed 3 (2), Thu 4 (3)"),
    (local(2027, 6, 18), date(2027, 6, 24), "Mon 21 Jun (Pentecost) off, Tue 22 (1), Wed 23 (2), Thu 24 (3)"),
    (local(2026, 9, 29), date(2026, 10, 2), "end of month: Wed 30 Sep (1), Thu 1 Oct (2), Fri 2 Oct (3)"),
    (local(2026, 8, 15), date(2026, 8, 19), "registered on a holiday Saturday: Mon 17 (1) .. Wed 19 (3)"),
    (local(2026, 4, 30), date(2026, 5, 6), "Fri 1 May off, Mon 4 (1), Tue 5 (2), Wed 6 (3)"),
]


@pytest.mark.parametrize(("registered", "due_on", "why"), CALENDAR_CASES)
def test_calendar_days(registered: datetime, due_on: date, why: str) -> None:
    assert compute_deadline("complaint", COMPLAINT, registered, RO, TZ).due_on == due_on, why


@pytest.mark.parametrize(("registered", "due_on", "why"), WORKING_CASES)
def test_working_days(registered: datetime, due_on: date, why: str) -> None:
    assert compute_deadline("fault", FAULT, registered, RO, TZ).due_on == due_on, why


def test_registration_day_is_taken_in_the_hotline_timezone() -> None:
    assert registration_day(utc(2026, 11, 26, 23, 30), TZ) == date(2026, 11, 27)
    assert registration_day(utc(2026, 11, 26, 21, 59), TZ) == date(2026, 11, 26)


def test_naive_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_deadline("fault", FAULT, datetime(2026, 11, 27, 10), RO, TZ)


def test_day_rule_expires_at_the_next_local_midnight() -> None:
    winter = compute_deadline("fault", FAULT, local(2026, 11, 27), RO, TZ)
    assert winter == Deadline(date(2026, 12, 4), utc(2026, 12, 4, 22), "fault", "3 working days")
    summer = compute_deadline("fault", FAULT, local(2026, 4, 9), RO, TZ)
    assert summer.due_at == utc(2026, 4, 16, 21)  # EEST, UTC+3


def test_technical_department_uses_fault_from_routing_yaml(routing: Routing) -> None:
    deadline = deadline_for_department(routing, "technical", local(2026, 11, 27, 10))
    assert (deadline.due_on, deadline.rule, deadline.description) == (
        date(2026, 12, 4), "fault", "3 working days",
    )


def test_payments_department_uses_complaint_from_routing_yaml(routing: Routing) -> None:
    deadline = deadline_for_department(routing, "payments", local(2026, 11, 25))
    assert (deadline.due_on, deadline.rule) == (date(2026, 12, 28), "complaint")


# --- decreed days ----------------------------------------------------------

EXTRA_CASES = [
    # extra_non_working, extra_working, rule, registered, due_on, why
    ((), (), FAULT, local(2026, 1, 2), date(2026, 1, 9), "Mon 5 (1), 6-7 off, Thu 8 (2), Fri 9 (3)"),
    ((date(2026, 1, 5),), (), FAULT, local(2026, 1, 2), date(2026, 1, 12),
     "Mon 5 decreed off: Thu 8 (1), Fri 9 (2), Mon 12 (3)"),
    ((), (), FAULT, local(2026, 1, 8), date(2026, 1, 13), "Fri 9 (1), Mon 12 (2), Tue 13 (3)"),
    ((), (date(2026, 1, 10),), FAULT, local(2026, 1, 8), date(2026, 1, 12),
     "Sat 10 decreed working: Fri 9 (1), Sat 10 (2), Mon 12 (3)"),
    ((), (date(2026, 1, 10),), COMPLAINT, local(2025, 12, 11), date(2026, 1, 10),
     "+30 = Sat 10 Jan, decreed working, so the term ends that day"),
    ((date(2026, 4, 1),), (), COMPLAINT, local(2026, 3, 2), date(2026, 4, 2),
     "+30 = Wed 1 Apr, decreed off -> Thu 2 Apr"),
]


@pytest.mark.parametrize(("off", "on", "rule", "registered", "due_on", "why"), EXTRA_CASES)
def test_decreed_days(off, on, rule, registered, due_on, why) -> None:
    calendar = WorkCalendar("RO", frozenset(off), frozenset(on))
    assert compute_deadline("r", rule, registered, calendar, TZ).due_on == due_on, why


def test_decreed_days_flow_from_routing_yaml() -> None:
    data = read_yaml(ROUTING_YAML)
    data["hotline"]["extra_non_working_days"] = ["2026-12-02"]
    routing = parse_routing(data, "test")
    # Fri 27 Nov: 30 Nov, 1 Dec, 2 Dec off; Thu 3 (1), Fri 4 (2), Mon 7 (3).
    assert deadline_for_department(routing, "technical", local(2026, 11, 27)).due_on == date(2026, 12, 7)


# --- business hours --------------------------------------------------------

HOURS_CASES = [
    # rule, registered, due_at, why
    (HOURS_24, local(2026, 3, 28, 15), utc(2026, 3, 30, 12),
     "DST spring: Sat 15-21 (6) + Sun (12) + Mon 09-15 EEST (6) = 12:00 UTC, not 13:00"),
    (DeadlineRule(hours=2, within="09:00-21:00"), local(2026, 10, 24, 20), utc(2026, 10, 25, 8),
     "DST autumn: Sat 20-21 EEST (1) + Sun 09-10 EET (1) = 08:00 UTC"),
    (DeadlineRule(hours=48, within="00:00-24:00"), local(2026, 3, 28, 12), utc(2026, 3, 30, 10),
     "always-open window: 48 real hours across the 23-hour Sunday"),
    (DeadlineRule(hours=4, within="09:00-21:00"), local(2026, 11, 27, 23, 30), utc(2026, 11, 28, 11),
     "registered at night: counts from Sat 09:00, due 13:00 local"),
    (DeadlineRule(hours=3, within="09:00-21:00"), local(2026, 12, 1, 6), utc(2026, 12, 1, 10),
     "registered before opening: 09:00 + 3 = 12:00 local"),
    (DeadlineRule(hours=12, within="09:00-21:00"), local(2026, 12, 2, 9), utc(2026, 12, 2, 19),
     "exactly one window: due at closing, 21:00 local"),
    (DeadlineRule(hours=12, within="09:00-21:00"), local(2026, 11, 29, 20), utc(2026, 11, 30, 18),
     "holidays do not pause: Sun 20-21 (1) + Mon 30 Nov 09-20 (11)"),
    (DeadlineRule(hours=4, within="09:00-21:00", days="mon-fri"), local(2026, 11, 27, 19), utc(2026, 11, 30, 9),
     "weekend skipped: Fri 19-21 (2) + Mon 09-11 (2)"),
    (DeadlineRule(hours=10, within="22:00-06:00"), local(2026, 12, 2, 23), utc(2026, 12, 3, 23),
     "overnight window: Wed 23-06 (7) + Thu 22:00-01:00 (3) = Fri 01:00 local"),
    (DeadlineRule(hours=2, within="22:00-06:00"), local(2026, 12, 3, 3), utc(2026, 12, 3, 3),
     "inside the window opened the evening before: 03:00 + 2 = 05:00 local"),
]


@pytest.mark.parametrize(("rule", "registered", "due_at", "why"), HOURS_CASES)
def test_business_hours(rule: DeadlineRule, registered: datetime, due_at: datetime, why: str) -> None:
    deadline = compute_deadline("urgent", rule, registered, RO, TZ)
    assert deadline.due_at == due_at, why
    assert deadline.due_at.tzinfo is UTC
    assert deadline.due_on == (due_at.astimezone(TZ)).date()


def test_hours_description() -> None:
    assert compute_deadline("urgent", HOURS_24, local(2026, 12, 2), RO, TZ).description == (
        "24 business hours (09:00-21:00, mon-sun)"
    )


# --- extension -------------------------------------------------------------

def test_extension_of_fault_counts_from_the_due_date(routing: Routing) -> None:
    fault = deadline_for_department(routing, "technical", local(2026, 11, 27))
    extended = extend_deadline(fault, "extension", routing.deadlines["extension"], routing.calendar, routing.timezone)
    # From Sat 5 Dec: 7-11 (5), 14-18 (10), 21-24 (14), 25 off, 28-31 (18), 1-2 Jan off,
    # 4-5 (20), 6-7 off, 8 (21), 11-15 (26), 18-21 (30).
    assert extended.due_on == date(2027, 1, 21)
    assert extended.due_at == utc(2027, 1, 21, 22)
    assert extended.rule == "extension"
    assert extended.description == "3 working days + 30 working days"


def test_extension_of_complaint_across_easter() -> None:
    complaint = compute_deadline("complaint", COMPLAINT, local(2026, 3, 2), RO, TZ)
    assert complaint.due_on == date(2026, 4, 1)
    extended = extend_deadline(complaint, "extension", EXTENSION, RO, TZ)
    # From Thu 2 Apr: 2-3 (2), 6-9 (6), 10 and 13 off, 14-17 (10), 20-24 (15),
    # 27-30 (19), 1 May off, 4-8 (24), 11-15 (29), Mon 18 May (30).
    assert extended.due_on == date(2026, 5, 18)


def test_extension_of_an_hours_deadline_starts_from_its_due_day() -> None:
    urgent = compute_deadline("urgent", DeadlineRule(hours=12, within="09:00-21:00"), local(2026, 11, 29, 20), RO, TZ)
    assert urgent.due_on == date(2026, 11, 30)
    extended = extend_deadline(urgent, "short", FAULT, RO, TZ)
    assert extended.due_on == date(2026, 12, 4)  # 1 Dec off; Wed 2 (1), Thu 3 (2), Fri 4 (3)
