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
    # Two lines swapped: the last one met by the resolution would be the legal term.
    ("{legal: complaint, promised: target}", "deadline.promised: taken as the final (legal) term, it falls due before legal"),
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
    assert "deadlines promised target, legal complaint (final)" in runner.invoke(main, ["check"]).output


def test_the_legal_term_may_be_listed_first_when_marked_final(config_dir):
    routing = load_routing(routing_with(config_dir, "{legal: {rule: complaint, final: true}, promised: target}"))
    assert routing.departments["technical"].final_milestone == "legal"
    assert due_dates(routing, bucharest(2026, 11, 17, 10, 0)) == {"legal": "2026-12-17", "promised": "2026-11-17T12:00"}


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


# -- on the ticket ------------------------------------------------------------------------------

@pytest.fixture
def vendor_app(config_dir, app_config, clock):
    """The hotline whose technical department acknowledges (met by taking the ticket), sends
    progress after it, and resolves; on a Friday before St Andrew, 10:00."""
    from ivr import create_app

    routing_with(config_dir, "{acknowledge: {rule: ack7, met_by: taken}, "
                             "progress: {rule: update14, met_by: progress, after: acknowledge}, resolve: resolve30}")
    clock.now = bucharest(2026, 11, 27, 10, 0)
    return create_app(app_config)


def leave_voicemail(app):
    from ivr.softphone import Call, ScriptedCaller, WsgiTransport
    from conftest import AUTH_TOKEN, BASE_URL

    Call(BASE_URL, AUTH_TOKEN, WsgiTransport(app), ScriptedCaller(["1"], ["busy"], [30])).run()


def milestones_of(app) -> dict[str, tuple[str, object]]:
    from ivr.models import Ticket

    with app.extensions["ivr.db"].session() as session:
        ticket = session.scalars(select(Ticket)).one()
        return {m.name: (m.due_on.isoformat(), m.met_at) for m in ticket.milestones}


def test_a_ticket_keeps_every_milestone_and_operators_meet_them(vendor_app, clock):
    from ivr.tickets import casework
    from ivr.models import Ticket
    from ivr.users import add_user

    leave_voicemail(vendor_app)
    assert milestones_of(vendor_app) == {
        "acknowledge": ("2026-12-10", None), "progress": ("2026-12-31", None), "resolve": ("2027-01-18", None),
    }
    database, hotline = vendor_app.extensions["ivr.db"], vendor_app.extensions["ivr.hotline"]
    with database.session() as session, session.begin():
        ana = add_user(session, "ana", "correct horse", "operator", clock.now)
        ticket = session.scalars(select(Ticket)).one()
        casework.take(session, ticket, ana, bucharest(2026, 12, 1, 9, 0))
        casework.resolve(session, hotline, ticket, ana, "Am înlocuit invertorul.", bucharest(2027, 1, 20, 9, 0))
    met = milestones_of(vendor_app)
    assert met["acknowledge"][1] == bucharest(2026, 12, 1, 9, 0)
    # No progress message was sent: the resolution meets the progress milestone too, late.
    assert met["progress"][1] == bucharest(2027, 1, 20, 9, 0)
    assert met["resolve"][1] == bucharest(2027, 1, 20, 9, 0)
    with database.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        late = {m.name: m.missed(bucharest(2027, 1, 21, 9, 0)) for m in ticket.milestones}
    assert late == {"acknowledge": False, "progress": True, "resolve": True}
    with database.session() as session, session.begin():
        ticket = session.scalars(select(Ticket)).one()
        casework.reopen(session, ticket, ticket.assignee, bucharest(2027, 1, 21, 9, 0))
    assert milestones_of(vendor_app)["resolve"][1] is None


def test_the_ticket_page_lists_the_milestones(vendor_app):
    import re

    from ivr.users import add_user

    leave_voicemail(vendor_app)
    with vendor_app.extensions["ivr.db"].session() as session, session.begin():
        add_user(session, "ana", "correct horse", "supervisor", bucharest(2026, 11, 27, 10, 0))
    client = vendor_app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").get_data(as_text=True)).group(1)
    client.post("/console/login", data={"csrf_token": token, "name": "ana", "password": "correct horse"})
    page = client.get("/console/tickets/RC-2026-000001").get_data(as_text=True)
    assert "<strong>confirmare de primire</strong>: 10.12.2026 · în curs" in page
    assert "<strong>soluționare</strong> (termenul legal): 18.01.2027" in page
    assert "se îndeplinește printr-un mesaj de progres către client" in page


def test_a_final_milestone_named_legal_is_not_called_the_legal_term_twice(config_dir, app_config, clock):
    from ivr import create_app
    from ivr.users import add_user
    from console_client import PASSWORD, sign_in

    routing_with(config_dir, "{promised: target, legal: complaint}")
    app = create_app(app_config)
    leave_voicemail(app)
    with app.extensions["ivr.db"].session() as session, session.begin():
        add_user(session, "ana", PASSWORD, "supervisor", clock())
    client = app.test_client()
    sign_in(client, "ana")
    page = client.get("/console/tickets/RC-2026-000001").get_data(as_text=True)
    assert "<strong>termen legal</strong>: 17.12.2026" in page and "(termenul legal)" not in page
    app.extensions["ivr.call_events"].stop(5)
    app.extensions["ivr.db"].engine.dispose()


def test_tickets_from_before_milestones_get_their_deadline_as_the_final_one(upgraded_database):
    from sqlalchemy import text

    from ivr.db import upgrade_schema
    from ivr.models import TicketMilestone

    engine = upgraded_database.engine
    from alembic import command
    from ivr.db import alembic_config

    command.downgrade(alembic_config(engine), "0004")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO tickets (number, year, sequence, department, language, call_sid, call_complaint, source, "
            "registered_at, deadline_on, deadline_at, deadline_rule, deadline_description, extended, status) VALUES "
            "('RC-2026-000001', 2026, 1, 'technical', 'ro', 'CA00000000000000000000000000000001', 1, 'voicemail', "
            "'2026-11-27 08:00:00', '2026-12-04', '2026-12-04 22:00:00', 'fault', '3 working days', false, 'registered')"
        ))
    upgrade_schema(engine)
    with upgraded_database.session() as session:
        [milestone] = session.scalars(select(TicketMilestone)).all()
        assert (milestone.name, milestone.final, milestone.met_by, milestone.due_on) == ("resolve", True, "resolution", date(2026, 12, 4))


def test_a_milestone_title_names_it_for_operators_in_their_language(config_dir):
    path = routing_with(config_dir, '{promised: {rule: target, title: {ro: "Promisiunea de 2 ore", en: "2-hour promise"}}, '
                                    "legal: complaint}")
    routing = load_routing(path)
    technical = routing.departments["technical"]
    assert (technical.milestone_title("promised", "ro"), technical.milestone_title("legal", "ro")) == ("Promisiunea de 2 ore", None)
    path.write_text(path.read_text().replace('en: "2-hour promise"', 'de: "Versprechen"'))
    with pytest.raises(ConfigError, match=r"departments.technical.deadline.promised.title.de: de is not in hotline.languages"):
        load_routing(path)
