"""The example configurations in examples/ (one per seed procedure): each passes ``ivr check``, and
each company's milestones fall where its procedure says, around weekends and Romanian public
holidays. Every expected date is counted by hand in its comment, not copied from the code."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from pathlib import Path

import holidays
import pytest

from ivr.cli import main
from ivr.config import load_routing
from ivr.yaml_files import read_yaml
from ivr.deadlines import extend_deadline, milestones_for_department

from conftest import ROOT, bucharest

EXAMPLES = ROOT / "examples"
SHIPPED_PROMPTS = ROOT / "prompts"
COMPANIES = ["almsoft", "pronet", "canalplus", "shipgratis", "solar_vendor"]

# The prompts each example changes from the shipped prompts/ (the rest must stay identical, so a
# change to the shipped prompts that is not carried into a copy is caught here).
CHANGED_PROMPTS = {
    "pronet": {"prompts.ticket_registered", "prompts.ticket_pending", "prompts.ticket_pending_no_sms",
               "sms.ticket_registered"},
    "shipgratis": {"prompts.voicemail_instructions", "prompts.department_closed", "prompts.hours_never",
                   "prompts.status_rejected", "sms.ticket_rejected"},
    "solar_vendor": {"prompts.voicemail_instructions", "prompts.status_rejected", "sms.ticket_rejected"},
}


def prompts_dir(company: str) -> Path:
    """The example's own prompts/ if it has one, else the shipped one."""
    own = EXAMPLES / company / "prompts"
    return own if own.is_dir() else SHIPPED_PROMPTS


@pytest.fixture
def serve_example(monkeypatch):
    """Point IVR_ROUTING_FILE and IVR_PROMPTS_DIR at one example, as an administrator would."""
    def serve(company: str, prompts: Path | None = None) -> None:
        monkeypatch.setenv("IVR_ROUTING_FILE", str(EXAMPLES / company / "routing.yaml"))
        monkeypatch.setenv("IVR_PROMPTS_DIR", str(prompts or prompts_dir(company)))
    return serve


def routing_file(company: str) -> Path:
    """An example's routing.yaml, or the shipped one for "shipped" (ProNET's procedure too)."""
    return ROOT / "routing.yaml" if company == "shipped" else EXAMPLES / company / "routing.yaml"


def due_dates(company: str, department: str, weekday: str, registered: datetime) -> dict[str, str]:
    """Every milestone's due moment as ``ivr deadline`` writes it, after checking that the
    registration falls on the weekday the hand count assumed."""
    assert calendar.day_abbr[registered.weekday()] == weekday, f"{registered:%d %b %Y} is not a {weekday}"
    routing = load_routing(routing_file(company))
    return {m.name: m.deadline.machine_text(routing.timezone)
            for m in milestones_for_department(routing, department, registered)}


# -- ivr check ------------------------------------------------------------------------------------

@pytest.mark.parametrize("company", COMPANIES)
def test_ivr_check_accepts_each_example(runner, serve_example, company):
    serve_example(company)
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"{EXAMPLES / company / 'routing.yaml'}: OK")


@pytest.mark.parametrize("company", sorted(CHANGED_PROMPTS))
def test_an_example_changes_only_its_own_wording_of_the_shipped_prompts(company):
    own = EXAMPLES / company / "prompts"
    for lang in ("ro", "en"):
        mine, shipped = read_yaml(own / f"{lang}.yaml"), read_yaml(SHIPPED_PROMPTS / f"{lang}.yaml")
        differs = {f"{section}.{key}" for section in ("prompts", "sms")
                   for key in set(mine[section]) | set(shipped[section])
                   if mine[section].get(key) != shipped[section].get(key)}
        assert differs == CHANGED_PROMPTS[company], lang
        assert {k: v for k, v in mine.items() if k not in ("prompts", "sms")} == \
               {k: v for k, v in shipped.items() if k not in ("prompts", "sms")}
        assert (own / "console" / f"{lang}.yaml").read_text() == (SHIPPED_PROMPTS / "console" / f"{lang}.yaml").read_text()


# -- the calendar the hand counts rely on ----------------------------------------------------------

def test_the_romanian_public_holidays_the_hand_counts_use():
    """The `holidays` package's RO calendar, 1 Nov 2026 - 30 Jun 2027. 1 June 2027 (a Tuesday) is
    Children's Day only: Orthodox Pentecost 2027 is 20 June, so Whit Monday is 21 June (in 2026 both
    fell on Monday 1 June). 24 January 2027 (Unification Day) is a Sunday anyway."""
    ro = holidays.country_holidays("RO", years=[2026, 2027])
    assert sorted(d for d in ro if date(2026, 11, 1) <= d <= date(2027, 6, 30)) == [
        date(2026, 11, 30), date(2026, 12, 1),            # St Andrew (Mon), National Day (Tue)
        date(2026, 12, 25), date(2026, 12, 26),           # Christmas (Fri, Sat)
        date(2027, 1, 1), date(2027, 1, 2),               # New Year (Fri, Sat)
        date(2027, 1, 6), date(2027, 1, 7),               # Epiphany, St John (Wed, Thu)
        date(2027, 1, 24),                                # Unification Day (Sun)
        date(2027, 4, 30), date(2027, 5, 1),              # Good Friday, Labour Day (Sat)
        date(2027, 5, 2), date(2027, 5, 3),               # Orthodox Easter Sunday and Monday
        date(2027, 6, 1),                                 # Children's Day (Tue)
        date(2027, 6, 20), date(2027, 6, 21),             # Pentecost (Sun), Whit Monday
    ]
    assert "Children's Day" in ro[date(2027, 6, 1)] and "Pentecost" not in ro[date(2027, 6, 1)]


# -- ProNET (seed 001): 2 working hours Mon-Sun 09:00-21:00 promised, 30 calendar days legal --------

@pytest.mark.parametrize("department, weekday, registered, expected", [
    # Tue 17 Nov 10:00: promise 10:00 + 2 h = 12:00; legal 17 Nov + 30 days = Thu 17 Dec.
    ("technical", "Tue", bucharest(2026, 11, 17, 10, 0), {"promised": "2026-11-17T12:00", "legal": "2026-12-17"}),
    # Sun 29 Nov 20:30: 30 min till 21:00 (Sunday is a working day here), then 1 h 30 from 09:00 on
    # Mon 30 Nov: St Andrew counts, the seed names no holiday exception -> 10:30.
    # Legal: 29 Nov + 30 = Tue 29 Dec, a working day.
    ("technical", "Sun", bucharest(2026, 11, 29, 20, 30), {"promised": "2026-11-30T10:30", "legal": "2026-12-29"}),
    # Thu 24 Dec 20:30: 30 min, then Christmas Day (counts) 09:00 + 1 h 30 -> Fri 25 Dec 10:30.
    # Legal: 24 Dec + 30 = Sat 23 Jan; Sun 24 Jan (also Unification Day) -> Mon 25 Jan.
    ("payments", "Thu", bucharest(2026, 12, 24, 20, 30), {"promised": "2026-12-25T10:30", "legal": "2027-01-25"}),
    # Thu 31 Dec 19:45: 1 h 15 till 21:00, then 45 min on New Year's Day -> Fri 1 Jan 09:45.
    # Legal: 31 Dec + 30 = Sat 30 Jan, Sun 31 Jan -> Mon 1 Feb.
    ("customer_relations", "Thu", bucharest(2026, 12, 31, 19, 45), {"promised": "2027-01-01T09:45", "legal": "2027-02-01"}),
    # Sat 1 May (Labour Day) 08:00, before the window: 09:00 + 2 h = 11:00.
    # Legal: 1 May + 30 = Mon 31 May, a working day (Whit Monday 2027 is 21 June).
    ("technical", "Sat", bucharest(2027, 5, 1, 8, 0), {"promised": "2027-05-01T11:00", "legal": "2027-05-31"}),
    # Fri 30 Apr (Good Friday) 22:15, after the window: Sat 1 May 09:00 + 2 h = 11:00.
    # Legal: 30 Apr + 30 = Sun 30 May -> Mon 31 May.
    ("technical", "Fri", bucharest(2027, 4, 30, 22, 15), {"promised": "2027-05-01T11:00", "legal": "2027-05-31"}),
])
@pytest.mark.parametrize("company", ["pronet", "shipped"])
def test_pronet_promises_two_working_hours_and_the_law_thirty_days(company, department, weekday, registered, expected):
    assert due_dates(company, department, weekday, registered) == expected


@pytest.mark.parametrize("company", ["pronet", "shipped"])
def test_pronet_every_department_has_the_promise_its_prompts_name(company):
    # A placeholder must be a milestone of every department (the example's prompts say {promised}).
    routing = load_routing(routing_file(company))
    assert all(set(d.milestones) == {"promised", "legal"} and d.final_milestone == "legal"
               for d in routing.departments.values())
    assert all(d.extension is None for d in routing.departments.values())  # the seed extends nothing


# -- ALMSOFT (seed 000): 30 days from registration ------------------------------------------------

@pytest.mark.parametrize("department, weekday, registered, expected", [
    # Fri 27 Nov + 30 days: 3 days to 30 Nov, 27 more -> Sun 27 Dec -> Mon 28 Dec.
    ("technical", "Fri", bucharest(2026, 11, 27, 12, 0), "2026-12-28"),
    # Wed 2 Dec + 30 = Fri 1 Jan (New Year), Sat 2 Jan (New Year), Sun 3 Jan -> Mon 4 Jan.
    ("commercial", "Wed", bucharest(2026, 12, 2, 19, 59), "2027-01-04"),
    # Thu 1 Apr + 30 = Sat 1 May (Labour Day), Sun 2 (Easter), Mon 3 (Easter Monday) -> Tue 4 May.
    ("technical", "Thu", bucharest(2027, 4, 1, 12, 0), "2027-05-04"),
])
def test_almsoft_resolves_within_thirty_days(department, weekday, registered, expected):
    assert due_dates("almsoft", department, weekday, registered) == {"resolve": expected}


def test_almsoft_compensates_a_late_fault_repair_by_started_week(runner, serve_example):
    serve_example("almsoft")
    # Due Mon 28 Dec, resolved Tue 5 Jan: 29, 30, 31 Dec, 1-5 Jan = 8 days late = 2 started weeks;
    # a week is 100% of 45.00 lei capped at 10 lei: 2 x 10.00 = 20.00.
    result = runner.invoke(main, ["compensation", "--department", "technical", "--due", "2026-12-28",
                                  "--resolved", "2027-01-05", "--monthly", "45.00"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "20.00"
    # The sales and billing line is not a fault repair: no compensation rule.
    result = runner.invoke(main, ["compensation", "--department", "commercial", "--due", "2026-12-28",
                                  "--resolved", "2027-01-05", "--monthly", "45.00"])
    assert result.exit_code == 2 and "names no compensation rule" in result.output


# -- Canal+ / Focus Sat (seed 002): faults 3 working days from the next day; else 30 calendar days --

@pytest.mark.parametrize("weekday, registered, expected", [
    # Fri 27 Nov: Sat, Sun; Mon 30 Nov St Andrew, Tue 1 Dec National Day; Wed 2 (1), Thu 3 (2), Fri 4 (3).
    ("Fri", bucharest(2026, 11, 27, 10, 0), "2026-12-04"),
    # Thu 26 Nov 23:30 in Bucharest (21:30 UTC): still the 26th. Fri 27 (1), Wed 2 Dec (2), Thu 3 (3).
    ("Thu", bucharest(2026, 11, 26, 23, 30), "2026-12-03"),
    # Fri 27 Nov 00:30 in Bucharest is 22:30 UTC on Thu 26: the wall-clock day (Friday) counts -> as above, Fri 4 Dec.
    ("Thu", datetime(2026, 11, 26, 22, 30, tzinfo=UTC), "2026-12-04"),
    # Wed 23 Dec: Thu 24 (1); Fri 25 Christmas, Sat 26, Sun 27; Mon 28 (2), Tue 29 (3).
    ("Wed", bucharest(2026, 12, 23, 15, 0), "2026-12-29"),
    # Wed 30 Dec: Thu 31 (1); Fri 1, Sat 2 New Year, Sun 3; Mon 4 (2), Tue 5 (3).
    ("Wed", bucharest(2026, 12, 30, 9, 0), "2027-01-05"),
    # Mon 4 Jan: Tue 5 (1); Wed 6 Epiphany, Thu 7 St John; Fri 8 (2); Mon 11 (3).
    ("Mon", bucharest(2027, 1, 4, 9, 0), "2027-01-11"),
    # Thu 29 Apr: Fri 30 Good Friday, Sat 1 May, Sun 2 Easter, Mon 3 Easter Monday; Tue 4 (1), Wed 5 (2), Thu 6 (3).
    ("Thu", bucharest(2027, 4, 29, 18, 0), "2027-05-06"),
    # Mon 31 May: Tue 1 Jun Children's Day; Wed 2 (1), Thu 3 (2), Fri 4 (3).
    ("Mon", bucharest(2027, 5, 31, 9, 0), "2027-06-04"),
])
def test_canalplus_repairs_a_tv_fault_in_three_working_days_from_the_next_day(weekday, registered, expected):
    assert due_dates("canalplus", "faults", weekday, registered) == {"resolve": expected}


def test_canalplus_other_complaints_take_thirty_calendar_days_extended_once_by_thirty_working_days():
    routing = load_routing(EXAMPLES / "canalplus" / "routing.yaml")
    # Fri 27 Nov + 30 calendar days = Sun 27 Dec -> Mon 28 Dec.
    assert due_dates("canalplus", "complaints", "Fri", bucharest(2026, 11, 27, 10, 0)) == {"resolve": "2026-12-28"}
    [legal] = milestones_for_department(routing, "complaints", bucharest(2026, 11, 27, 10, 0))
    extension = routing.extension("complaints")
    assert extension is not None and extension.times == 1 and routing.extension("faults") is None
    extended = extend_deadline(legal.deadline, extension.rule, routing.deadlines[extension.rule],
                               routing.calendar, routing.timezone)
    # 30 working days from Tue 29 Dec: 29, 30, 31 Dec (3); 1-2 Jan New Year, 3 Sun; Mon 4 (4), Tue 5 (5);
    # 6-7 Jan holidays; Fri 8 (6); 11-15 Jan (11); 18-22 (16); 25-29 (21); 1-5 Feb (26);
    # Mon 8 (27), Tue 9 (28), Wed 10 (29), Thu 11 Feb (30).
    assert extended.due_on == date(2027, 2, 11)


def test_canalplus_compensates_per_day_late_faults_and_complaints(runner, serve_example):
    serve_example("canalplus")
    # Fault due Mon 11 Jan, repaired Thu 14 Jan: 12, 13, 14 = 3 days late; 60.00 / 31 x 3 = 5.806 -> 5.81.
    for department in ("faults", "complaints"):  # "nesoluționării reclamațiilor sau a neremedierii defecțiunilor"
        result = runner.invoke(main, ["compensation", "--department", department, "--due", "2027-01-11",
                                      "--resolved", "2027-01-14", "--monthly", "60.00"])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[0] == "5.81"


# -- Shipgratis.ro (seed 003): decided within 3 working days, resolved within 30 days ---------------

@pytest.mark.parametrize("weekday, registered, expected", [
    # Fri 27 Nov. Decision: Wed 2 (1), Thu 3 (2), Fri 4 Dec (3), after St Andrew and National Day.
    # Resolve: day 1 is Sat 28 Nov, day 30 is Sun 27 Dec, not a working day -> Mon 28 Dec.
    ("Fri", bucharest(2026, 11, 27, 16, 0), {"decision": "2026-12-04", "resolve": "2026-12-28"}),
    # Tue 22 Dec. Decision: Wed 23 (1), Thu 24 (2), Christmas Fri 25, Sat, Sun, Mon 28 (3).
    # Resolve: day 1 Wed 23 Dec ... day 9 Thu 31 Dec, day 30 Thu 21 Jan, a working day.
    ("Tue", bucharest(2026, 12, 22, 11, 0), {"decision": "2026-12-28", "resolve": "2027-01-21"}),
    # Fri 2 Apr. Decision: Mon 5 (1), Tue 6 (2), Wed 7 Apr (3) (Catholic Easter is no RO holiday).
    # Resolve: day 30 is Sun 2 May (Orthodox Easter), Mon 3 May Easter Monday -> Tue 4 May.
    ("Fri", bucharest(2027, 4, 2, 10, 0), {"decision": "2027-04-07", "resolve": "2027-05-04"}),
    # Sat 1 May (Labour Day), a voicemail. Decision: Sun 2, Mon 3 Easter Monday; Tue 4 (1), Wed 5 (2), Thu 6 (3).
    # Resolve: day 1 Sun 2 May, day 30 Mon 31 May, a working day.
    ("Sat", bucharest(2027, 5, 1, 10, 0), {"decision": "2027-05-06", "resolve": "2027-05-31"}),
    # Sun 2 May (Easter). Decision as above: Thu 6 May.
    # Resolve: day 30 is Tue 1 Jun, Children's Day -> Wed 2 Jun.
    ("Sun", bucharest(2027, 5, 2, 10, 0), {"decision": "2027-05-06", "resolve": "2027-06-02"}),
])
def test_shipgratis_decides_in_three_working_days_and_resolves_in_thirty_days(weekday, registered, expected):
    assert due_dates("shipgratis", "warranty", weekday, registered) == expected
    assert due_dates("shipgratis", "transport_damage", weekday, registered) == expected


# -- the solar-inverter vendor (seed 004): acknowledge 7, update 14, resolve 30 working days ---------

@pytest.mark.parametrize("weekday, registered, expected", [
    # Fri 27 Nov. Working days: Dec 2-4 (1-3), 7-11 (4-8), 14-18 (9-13), 21-24 (14-17), 28-31 (18-21),
    # Jan 4-5 (22-23), Jan 8 (24), Jan 11-15 (25-29), Jan 18 (30).
    # Acknowledge: 7th = Thu 10 Dec. Progress, 14 from registration: 14th = Mon 21 Dec (with
    # `after: acknowledge` it would be 14 more from Fri 11 Dec: Thu 31 Dec). Resolve: 30th = Mon 18 Jan.
    ("Fri", bucharest(2026, 11, 27, 10, 0), {"acknowledge": "2026-12-10", "progress": "2026-12-21", "resolve": "2027-01-18"}),
    # Wed 28 Apr. Working days: Thu 29 Apr (1); Good Friday 30 Apr, Sat 1 May, Easter 2-3 May;
    # May 4-7 (2-5), 10-14 (6-10), 17-21 (11-15), 24-28 (16-20), Mon 31 May (21); Children's Day 1 Jun;
    # Jun 2-4 (22-24), 7-11 (25-29), Mon 14 Jun (30).
    # Acknowledge: 7th = Tue 11 May. Progress: 14th = Thu 20 May. Resolve: 30th = Mon 14 Jun.
    ("Wed", bucharest(2027, 4, 28, 16, 0), {"acknowledge": "2027-05-11", "progress": "2027-05-20", "resolve": "2027-06-14"}),
])
def test_solar_vendor_acknowledges_updates_and_resolves_in_working_days(weekday, registered, expected):
    assert due_dates("solar_vendor", "product", weekday, registered) == expected
    assert due_dates("solar_vendor", "service", weekday, registered) == expected


def test_solar_vendor_milestones_are_met_by_what_the_policy_promises():
    routing = load_routing(EXAMPLES / "solar_vendor" / "routing.yaml")
    for department in routing.departments.values():
        assert {k: (m.met_by, m.after) for k, m in department.milestones.items()} == {
            "acknowledge": ("registration_sms", None),  # "Confirmare de primire": a message to the customer
            "progress": ("progress", None),              # "Actualizare a progresului"
            "resolve": ("resolution", None),
        }
        assert department.final_milestone == "resolve"


# -- ivr deadline on each example ------------------------------------------------------------------

@pytest.mark.parametrize("company, department, registered, first_line, milestone_line", [
    # Sun 29 Nov 20:30 (see the ProNET counts above): legal Tue 29 Dec first, then each milestone.
    ("pronet", "technical", "2026-11-29T20:30", "2026-12-29", "  promised: 2026-11-30T10:30"),
    ("almsoft", "technical", "2026-11-27T12:00", "2026-12-28", None),
    ("canalplus", "faults", "2026-11-27T10:00", "2026-12-04", None),
    ("shipgratis", "warranty", "2026-11-27T16:00", "2026-12-28", "  decision: 2026-12-04"),
    ("solar_vendor", "product", "2026-11-27T10:00", "2027-01-18", "  acknowledge: 2026-12-10"),
])
def test_ivr_deadline_prints_each_example_machine_readable_first(runner, serve_example, company, department,
                                                                  registered, first_line, milestone_line):
    serve_example(company)
    result = runner.invoke(main, ["deadline", "--department", department, "--registered", registered])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == first_line
    date.fromisoformat(lines[0])  # a bare ISO date: what a script reads
    if milestone_line is not None:
        assert any(line.startswith(milestone_line) for line in lines[2:]), result.output
