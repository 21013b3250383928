"""The supervisor's call statistics: tallies per local day, department and hour, on SQLite and
PostgreSQL, and the pure figures behind them (percentiles, chart scales)."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

import pytest

from ivr.calls.figures import Segment, Tally, percentile, scale_top, stacked
from ivr.calls.stats import MAX_DAYS, call_stats, days_between, hourly_stats
from ivr.models import CallRecord
from ivr.states import TicketSource
from ivr.settings import load_hotline
from ivr.tickets.registration import open_ticket

from conftest import BUCHAREST, ROOT, bucharest

SIDS = itertools.count(1)


@pytest.fixture(scope="module")
def hotline():
    """The shipped configuration (Bucharest time, departments technical, payments, customer_relations)."""
    return load_hotline(ROOT / "tests" / "routing.yaml", ROOT / "prompts")


def add_call(session, started: datetime, department: str | None, outcome: str | None, *,
             offered_after: int | None = None, answered_after: int | None = None) -> str:
    """A call-log row as the webhooks leave it: offered and answered so many seconds after it started."""
    sid = f"CA{next(SIDS):032d}"
    offered_at = started + timedelta(seconds=offered_after) if offered_after is not None else None
    answered_at = offered_at + timedelta(seconds=answered_after) if answered_after is not None else None
    session.add(CallRecord(
        call_sid=sid, caller="+40722123456", language="ro", department=department, started_at=started,
        offered_at=offered_at, answered_at=answered_at, voicemail=outcome == "voicemail", errored=False,
        ended_at=None if outcome is None else started + timedelta(minutes=3), outcome=outcome,
    ))
    return sid


def add_ticket(session, hotline, call_sid: str, department: str, source: str, at: datetime) -> None:
    open_ticket(session, hotline, call_sid=call_sid, department=department, caller="+40722123456",
                sms_to="+40722123456", language="ro", source=source, now=at)


@pytest.fixture
def calls(upgraded_database, hotline):
    """Calls on Monday 16 and Tuesday 17 November 2026 (Bucharest), and some just outside."""
    with upgraded_database.session() as s, s.begin():
        add_call(s, bucharest(2026, 11, 16, 9, 59, 30), "technical", "answered", offered_after=20, answered_after=5)
        add_call(s, bucharest(2026, 11, 16, 10, 15), "technical", "answered", offered_after=15, answered_after=30)
        add_call(s, bucharest(2026, 11, 16, 10, 40), "payments", "abandoned_ringing", offered_after=10)
        add_call(s, bucharest(2026, 11, 16, 14, 0), None, "abandoned_menu")
        # 00:30 in Bucharest is still Monday 16 in UTC: it belongs to Tuesday.
        late = add_call(s, bucharest(2026, 11, 17, 0, 30), "technical", "voicemail")
        answered = add_call(s, bucharest(2026, 11, 17, 10, 0), "payments", "answered", offered_after=12, answered_after=12)
        add_call(s, bucharest(2026, 11, 17, 10, 20), None, None)  # ongoing: no status callback yet
        add_call(s, bucharest(2026, 11, 15, 23, 59), "technical", "answered", offered_after=5, answered_after=1)
        add_call(s, bucharest(2026, 11, 18, 0, 0), "technical", "error")
        add_ticket(s, hotline, late, "technical", TicketSource.VOICEMAIL, bucharest(2026, 11, 17, 0, 31))
        add_ticket(s, hotline, answered, "payments", TicketSource.OPERATOR, bucharest(2026, 11, 17, 10, 5))
        add_ticket(s, hotline, "CA" + "9" * 32, "payments", TicketSource.OPERATOR, bucharest(2026, 11, 18, 9, 0))
    return upgraded_database


def test_calls_per_local_day(calls):
    with calls.session() as s:
        stats = call_stats(s, date(2026, 11, 16), date(2026, 11, 17), BUCHAREST)
    monday, tuesday = stats.per_day[date(2026, 11, 16)], stats.per_day[date(2026, 11, 17)]
    assert stats.days == [date(2026, 11, 16), date(2026, 11, 17)]
    assert (monday.calls, monday.offered, monday.count("answered"), monday.answered_in_time) == (4, 3, 2, 1)
    assert (monday.count("abandoned_menu"), monday.count("abandoned_ringing"), monday.count("voicemail")) == (1, 1, 0)
    assert (monday.average_wait, monday.p90_wait, monday.share_in_time) == (17.5, 30, pytest.approx(1 / 3))
    assert (monday.complaints_live, monday.complaints_voicemail) == (0, 0)
    assert (tuesday.calls, tuesday.offered, tuesday.count("answered"), tuesday.answered_in_time) == (3, 1, 1, 1)
    assert (tuesday.count("voicemail"), tuesday.count("ongoing"), tuesday.p90_wait) == (1, 1, 12)
    assert (tuesday.complaints_live, tuesday.complaints_voicemail) == (1, 1)
    assert (stats.total.calls, stats.total.offered, stats.total.answered_in_time, stats.total.waits) == (7, 4, 2, [5, 30, 12])


def test_calls_per_department(calls):
    with calls.session() as s:
        per_department = call_stats(s, date(2026, 11, 16), date(2026, 11, 17), BUCHAREST).per_department
    technical, payments, nowhere = per_department["technical"], per_department["payments"], per_department[None]
    assert (technical.calls, technical.count("answered"), technical.count("voicemail"), technical.complaints_voicemail) == (3, 2, 1, 1)
    assert (payments.calls, payments.offered, payments.count("abandoned_ringing"), payments.complaints_live) == (2, 2, 1, 1)
    assert (nowhere.calls, nowhere.count("abandoned_menu"), nowhere.count("ongoing")) == (2, 1, 1)
    assert "customer_relations" not in per_department


def test_calls_by_hour_of_the_last_seven_days(calls):
    with calls.session() as s:
        per_hour = hourly_stats(s, bucharest(2026, 11, 17, 15, 0), BUCHAREST)
    assert sorted(per_hour) == list(range(24))
    busy = {hour: tally.calls for hour, tally in per_hour.items() if tally.calls}
    assert busy == {0: 1, 9: 1, 10: 4, 14: 1, 23: 1}  # the 18th is tomorrow: not counted
    assert per_hour[10].count("answered") == 2 and per_hour[10].complaints_live == 1
    assert per_hour[0].complaints_voicemail == 1


def test_days_change_at_local_midnight_across_daylight_saving(upgraded_database):
    with upgraded_database.session() as s, s.begin():
        # Sunday 25 October 2026 has 25 hours in Bucharest; 01:30 on the 26th is 23:30 UTC on the 25th.
        add_call(s, bucharest(2026, 10, 26, 1, 30), "technical", "abandoned_menu")
        add_call(s, bucharest(2026, 10, 25, 23, 30), "technical", "abandoned_menu")
    with upgraded_database.session() as s:
        stats = call_stats(s, date(2026, 10, 25), date(2026, 10, 26), BUCHAREST)
    assert [stats.per_day[day].calls for day in stats.days] == [1, 1]


def test_an_empty_range_has_days_with_nothing_in_them(upgraded_database):
    with upgraded_database.session() as s:
        stats = call_stats(s, date(2026, 11, 20), date(2026, 11, 16), BUCHAREST)  # reversed: swapped
    assert len(stats.days) == 5 and stats.total.calls == 0
    assert (stats.total.share_in_time, stats.total.average_wait, stats.total.p90_wait) == (None, None, None)


def test_a_long_range_is_cut_to_its_last_days():
    days = days_between(date(2025, 1, 1), date(2026, 11, 17))
    assert len(days) == MAX_DAYS and days[-1] == date(2026, 11, 17)


# -- the pure figures ------------------------------------------------------------------------

def test_percentile_is_the_nearest_rank():
    assert percentile(list(range(1, 11)), 0.9) == 9
    assert percentile([3, 1, 2], 0.9) == 3
    assert percentile([40], 0.9) == 40
    assert percentile([], 0.9) is None
    assert percentile([5, 30], 0.5) == 5


def test_complaints_without_an_operator_are_every_source_but_the_operator():
    tally = Tally()
    for source in (TicketSource.OPERATOR, TicketSource.VOICEMAIL, TicketSource.VOICEMAIL,
                   TicketSource.CALLBACK, TicketSource.INCIDENT, TicketSource.INCIDENT):
        tally.add_complaint(source)
    assert (tally.complaints_total, tally.complaints_live, tally.complaints_without_operator) == (6, 1, 5)
    assert (tally.complaints_voicemail, tally.complaints_callback, tally.complaints_incident) == (2, 1, 2)


def test_answered_in_time_counts_twenty_seconds_and_not_twenty_one():
    tally = Tally()
    for wait in (20, 21):
        tally.add_call("answered", True, wait)
    tally.add_call("abandoned_ringing", True, None)
    assert (tally.answered_in_time, tally.offered, tally.share_in_time) == (1, 3, pytest.approx(1 / 3))


def test_chart_scale_and_stacked_segments():
    assert [scale_top(n) for n in (0, 1, 3, 7, 10, 11, 13, 23, 29, 51, 180, 1001)] == [
        1, 1, 3, 7, 10, 12, 15, 25, 30, 60, 200, 1200]
    assert stacked({"voicemail": 1, "answered": 3, "error": 0}, 10) == [
        Segment("answered", 3, 0.0, 30.0), Segment("voicemail", 1, 30.0, 10.0)]
