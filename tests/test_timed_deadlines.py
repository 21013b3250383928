"""Deadlines counted in hours are told with their time, everywhere; and an hours rule may
pause on public holidays. ``ivr deadline --rule`` computes any single rule."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

from ivr.cli import main
from ivr.terms import DeadlineRule
from ivr.deadlines import compute_deadline
from ivr.models import SmsMessage, Ticket
from ivr.workdays import WorkCalendar

from conftest import BUCHAREST, bucharest

TWO_HOURS = {"hours": 2, "within": "09:00-21:00", "days": "mon-sun"}


def due(rule: dict, at: datetime):
    return compute_deadline("target", DeadlineRule(**rule), at, WorkCalendar("RO"), BUCHAREST)


@pytest.mark.parametrize("registered, rule, expected", [
    # Sunday evening before St Andrew (30 Nov) and National Day (1 Dec).
    (bucharest(2026, 11, 29, 20, 30), TWO_HOURS, "2026-11-30T10:30"),
    (bucharest(2026, 11, 29, 20, 30), {**TWO_HOURS, "holidays": "pause"}, "2026-12-02T10:30"),
    # Christmas (25-26 Dec) pauses; Sunday the 27th is in the rule's days and no holiday.
    (bucharest(2026, 12, 24, 20, 0), {**TWO_HOURS, "holidays": "pause"}, "2026-12-27T10:00"),
    (bucharest(2026, 11, 17, 10, 0), {**TWO_HOURS, "holidays": "pause"}, "2026-11-17T12:00"),  # an ordinary Tuesday
])
def test_an_hours_rule_pauses_on_public_holidays_when_asked(registered, rule, expected):
    deadline = due(rule, registered)
    assert deadline.timed and deadline.machine_text(BUCHAREST) == expected


def test_pause_belongs_to_an_hours_rule(config_dir):
    from ivr.config import load_routing
    from ivr.errors import ConfigError

    routing = config_dir / "routing.yaml"
    routing.write_text(routing.read_text().replace("count: calendar}", "count: calendar, holidays: pause}", 1))
    with pytest.raises(ConfigError, match=r"routing.yaml: deadlines.complaint.*holidays: pause belongs to an hours rule"):
        load_routing(routing)


def test_a_day_rule_keeps_its_date_only():
    deadline = compute_deadline("complaint", DeadlineRule(days=30, count="calendar"), bucharest(2026, 11, 22, 10, 0),
                                WorkCalendar("RO"), BUCHAREST)
    assert (deadline.timed, deadline.text(BUCHAREST), deadline.machine_text(BUCHAREST)) == (False, "22.12.2026", "2026-12-22")


@pytest.fixture
def timed_technical(config_dir):
    """The shipped configuration with technical's complaints due in 2 hours of 09:00-21:00."""
    routing = config_dir / "routing.yaml"
    text = routing.read_text().replace(
        "deadlines:\n", 'deadlines:\n  target:    {hours: 2, within: "09:00-21:00", days: mon-sun}\n', 1)
    routing.write_text(text.replace("    deadline: fault\n", "    deadline: target\n", 1))
    return routing


@pytest.mark.parametrize("at, spoken, written", [
    (bucharest(2026, 11, 17, 10, 0), "astăzi până la ora 12:00", "17.11.2026 12:00"),
    (bucharest(2026, 11, 17, 20, 30), "mâine până la ora 10:30", "18.11.2026 10:30"),
    (bucharest(2026, 11, 17, 23, 30), "mâine până la ora 11:00", "18.11.2026 11:00"),
])
def test_the_caller_hears_and_reads_the_time_of_an_hours_deadline(timed_technical, app, place_call, clock, at, spoken, written):
    clock.now = at
    caller, _ = place_call(keys=["1"], dials=["busy"], records=[30])
    assert f"Termenul de soluționare este {spoken}." in caller.transcript
    with app.extensions["ivr.db"].session() as session:
        [sms] = session.scalars(select(SmsMessage)).all()
        ticket = session.scalars(select(Ticket)).one()
    assert f"Termen de solutionare: {written}." in sms.body
    assert ticket.deadline_rule == "target"


def test_a_timed_deadline_further_away_is_said_with_its_date(app):
    prompts = app.extensions["ivr.hotline"].prompt_set("ro")
    deadline = due({**TWO_HOURS, "holidays": "pause"}, bucharest(2026, 11, 29, 20, 30))
    today = bucharest(2026, 11, 29, 20, 30).date()
    assert prompts.spoken_deadline(deadline, BUCHAREST, today) == "2 decembrie 2026, până la ora 10:30"


def test_the_console_shows_the_time_of_an_hours_deadline(timed_technical, app, place_call, clock):
    from ivr.users import add_user

    clock.now = bucharest(2026, 11, 17, 20, 30)
    place_call(keys=["1"], dials=["busy"], records=[30])
    with app.extensions["ivr.db"].session() as session, session.begin():
        add_user(session, "ana", "correct horse", "operator", clock.now)
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/console/login", data={"csrf_token": token, "name": "ana", "password": "correct horse"})
    assert "18.11.2026 10:30" in client.get("/console/").get_data(as_text=True)
    assert "18.11.2026 10:30" in client.get("/console/tickets/RC-2026-000001").get_data(as_text=True)


def test_ivr_deadline_computes_a_single_rule_or_a_department(runner, timed_technical, monkeypatch, config_dir):
    monkeypatch.setenv("IVR_ROUTING_FILE", str(timed_technical))
    monkeypatch.setenv("IVR_PROMPTS_DIR", str(config_dir / "prompts"))
    result = runner.invoke(main, ["deadline", "--rule", "target", "--registered", "2026-11-29T20:30"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "2026-11-30T10:30"
    result = runner.invoke(main, ["deadline", "--department", "technical", "--registered", "2026-11-17T20:30"])
    assert result.output.splitlines()[0] == "2026-11-18T10:30"
    result = runner.invoke(main, ["deadline", "--rule", "extension", "--registered", "2026-11-27T10:00"])
    # 30 working days from the next day: St Andrew, National Day, Christmas, New Year and 6-7 January skipped.
    assert result.output.splitlines()[0] == "2027-01-18"
    result = runner.invoke(main, ["deadline", "--rule", "nope"])
    assert result.exit_code == 2 and "not a rule of" in result.output
    assert runner.invoke(main, ["deadline"]).exit_code == 2
