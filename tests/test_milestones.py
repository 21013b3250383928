"""A department's deadline as named milestones: routing.yaml validation, their computation
around weekends and Romanian holidays (dates worked out by hand), and ``ivr deadline``."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from ivr.cli import main
from ivr.config import load_routing
from ivr.deadlines import milestones_for_department
from ivr.errors import ConfigError
from ivr.models import SmsMessage

from conftest import bucharest

EXTRA_RULES = """  target:    {hours: 2, within: "09:00-21:00", days: mon-sun}
  ack7:      {days: 7, count: working}
  update14:  {days: 14, count: working}
  resolve30: {days: 30, count: working}
"""


def routing_with(config_dir, technical_deadline: str):
    """The shipped routing.yaml with more rules, and technical's ``deadline:`` replaced."""
    path = config_dir / "routing.yaml"
    text = path.read_text().replace("deadlines:\n", "deadlines:\n" + EXTRA_RULES, 1)
    path.write_text(text.replace("    deadline: fault\n", f"    deadline: {technical_deadline}\n", 1))
    return path


def due_dates(routing, registered) -> dict[str, str]:
    return {m.name: m.deadline.machine_text(routing.timezone)
            for m in milestones_for_department(routing, "technical", registered)}


def test_a_single_rule_is_one_final_milestone_met_by_the_resolution(config_dir):
    routing = load_routing(config_dir / "routing.yaml")
    [only] = milestones_for_department(routing, "technical", bucharest(2026, 11, 27, 10, 0))
    assert (only.name, only.met_by, only.final, only.deadline.due_on) == ("resolve", "resolution", True, date(2026, 12, 4))


def test_pronet_promises_two_working_hours_inside_the_legal_thirty_days(config_dir):
    routing = load_routing(routing_with(config_dir, "{promised: target, legal: complaint}"))
    assert due_dates(routing, bucharest(2026, 11, 17, 10, 0)) == {"promised": "2026-11-17T12:00", "legal": "2026-12-17"}
    # Registered at 20:30 on the eve of St Andrew: the promise runs into the next morning.
    assert due_dates(routing, bucharest(2026, 11, 29, 20, 30)) == {"promised": "2026-11-30T10:30", "legal": "2026-12-29"}
    assert routing.departments["technical"].final_milestone == "legal"


def test_the_solar_vendor_acknowledges_updates_and_resolves_in_working_days(config_dir):
    deadline = ("{acknowledge: {rule: ack7, met_by: taken}, "
                "progress: {rule: update14, met_by: progress, after: acknowledge}, resolve: resolve30}")
    routing = load_routing(routing_with(config_dir, deadline))
    # Friday 27 November: St Andrew (30 Nov), National Day (1 Dec), Christmas (25-26 Dec),
    # New Year (1-2 Jan) and 6-7 January are not working days.
    assert due_dates(routing, bucharest(2026, 11, 27, 10, 0)) == {
        "acknowledge": "2026-12-10",   # Dec 2, 3, 4, 7, 8, 9, 10
        "progress": "2026-12-31",      # 14 working days from Dec 11: 11, 14-18, 21-24, 28-31
        "resolve": "2027-01-18",       # 30 working days from Nov 28
    }


@pytest.mark.parametrize("deadline, message", [
    ("{legal: nope}", 'deadline.legal: "nope" is not a rule under deadlines'),
    ("{a: {rule: ack7, after: a}, b: complaint}", "deadline.a.after: a milestone cannot count from itself"),
    ("{a: {rule: ack7, after: zz}, b: complaint}", 'deadline.a.after: "zz" is not a milestone of this department'),
    ("{a: {rule: ack7, after: b}, b: {rule: complaint, after: a}}", "count from each other in a circle"),
    ("{a: {rule: ack7, met_by: taken}}", "needs a milestone met by the resolution"),
    ("{a: {rule: ack7, final: true}, b: {rule: complaint, final: true}}", "only one milestone may be final"),
    ("{a: {rule: ack7, met_by: taken, final: true}, b: complaint}", "deadline.a.final: the final (legal) milestone"),
    ("{Legal: complaint}", "deadline.Legal: a milestone name is lowercase"),
    ("{a: {rule: ack7, metby: taken}, b: complaint}", "deadline.a.metby: unknown key"),
    ("{a: {rule: ack7, met_by: never}, b: complaint}", "deadline.a.met_by: Input should be 'registration_sms'"),
])
def test_mistakes_name_the_file_and_the_key(config_dir, deadline, message):
    with pytest.raises(ConfigError) as caught:
        load_routing(routing_with(config_dir, deadline))
    assert any("routing.yaml: departments.technical." in p and message in p for p in caught.value.problems), caught.value.problems


def test_ivr_deadline_prints_every_milestone(runner, config_dir, monkeypatch):
    path = routing_with(config_dir, "{promised: target, legal: complaint}")
    monkeypatch.setenv("IVR_ROUTING_FILE", str(path))
    monkeypatch.setenv("IVR_PROMPTS_DIR", str(config_dir / "prompts"))
    result = runner.invoke(main, ["deadline", "--department", "technical", "--registered", "2026-11-17T10:00"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "2026-12-17"
    assert any(line.strip().startswith("promised: 2026-11-17T12:00") for line in lines)
    assert any(line.strip().startswith("legal: 2026-12-17") and "(legal)" in line for line in lines)
    assert "deadlines promised target, legal complaint" in runner.invoke(main, ["check"]).output


def test_a_ticket_carries_the_legal_milestone(config_dir, app_config, clock):
    from ivr import create_app
    from ivr.softphone import Call, ScriptedCaller, WsgiTransport
    from conftest import AUTH_TOKEN, BASE_URL

    routing_with(config_dir, "{promised: target, legal: complaint}")
    app = create_app(app_config)
    clock.now = bucharest(2026, 11, 17, 10, 0)
    ui = ScriptedCaller(["1"], ["busy"], [30])
    Call(BASE_URL, AUTH_TOKEN, WsgiTransport(app), ui).run()
    assert "Termenul de soluționare este 17 decembrie 2026." in ui.transcript
    with app.extensions["ivr.db"].session() as session:
        assert "17.12.2026" in session.scalars(select(SmsMessage.body)).one()
