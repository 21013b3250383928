"""Prompts and SMS texts that name a milestone besides the legal deadline, as ProNET's do:
"…termen de solutionare: 17.12.2026; ne propunem sa o rezolvam pana azi la 13:30"."""

from __future__ import annotations

import pytest
import yaml
from sqlalchemy import select

from ivr.errors import ConfigError
from ivr.models import SmsMessage
from ivr.settings import load_hotline

from conftest import bucharest

PROMISE_SMS = "{company}: reclamatia nr. {ticket}, termen de solutionare: {deadline}; ne propunem sa o rezolvam pana {promised}."
PROMISE_SPOKEN = "Reclamația are numărul {ticket}. Termenul legal este {deadline}; ne propunem să o rezolvăm {promised}."


def promise_everywhere(config_dir, departments=("technical", "payments", "customer_relations")) -> None:
    """ProNET's terms on the listed departments: 2 working hours promised, 30 days legal; and
    registration texts that name the promise."""
    path = config_dir / "routing.yaml"
    routing = yaml.safe_load(path.read_text())
    routing["deadlines"]["two_hours"] = {"hours": 2, "within": "09:00-21:00", "days": "mon-sun"}
    for key in departments:
        routing["departments"][key]["deadline"] = {"promised": "two_hours", "legal": "complaint"}
        routing["departments"][key].pop("extension", None)
    path.write_text(yaml.safe_dump(routing, allow_unicode=True, sort_keys=False))
    prompts = config_dir / "prompts" / "ro.yaml"
    data = yaml.safe_load(prompts.read_text())
    data["sms"]["ticket_registered"] = PROMISE_SMS
    data["prompts"]["ticket_registered"] = PROMISE_SPOKEN
    prompts.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@pytest.fixture
def app_config(app_config, config_dir):
    """Every department promises 2 working hours within the legal 30 days."""
    promise_everywhere(config_dir)
    return app_config


@pytest.mark.parametrize("at, spoken, written", [
    # Tuesday 17 November 11:30: the promise falls due today.
    (bucharest(2026, 11, 17, 11, 30), "ne propunem să o rezolvăm astăzi până la ora 13:30",
     "termen de solutionare: 17.12.2026; ne propunem sa o rezolvam pana azi la 13:30."),
    # At 20:30 the day's window has half an hour left: the rest runs from 09:00 tomorrow.
    (bucharest(2026, 11, 17, 20, 30), "ne propunem să o rezolvăm mâine până la ora 10:30",
     "termen de solutionare: 17.12.2026; ne propunem sa o rezolvam pana 18.11.2026 10:30."),
])
def test_the_caller_hears_and_reads_the_promise_and_the_legal_term(app, place_call, clock, at, spoken, written):
    clock.now = at
    caller, _ = place_call(keys=["1"], dials=["busy"], records=[30])
    assert spoken in caller.transcript and "Termenul legal este 17 decembrie 2026" in caller.transcript
    with app.extensions["ivr.db"].session() as session:
        [sms] = session.scalars(select(SmsMessage)).all()
    assert sms.body.endswith(written)


def test_a_prompt_may_name_only_a_milestone_every_department_has(config_dir):
    promise_everywhere(config_dir, departments=("technical",))
    with pytest.raises(ConfigError) as caught:
        load_hotline(config_dir / "routing.yaml", config_dir / "prompts")
    problems = "\n".join(caught.value.problems)
    assert "prompts/ro.yaml: sms.ticket_registered: unknown placeholder {promised}" in problems
    assert "prompts/ro.yaml: prompts.ticket_registered: unknown placeholder {promised}" in problems
    assert "a milestone named here must be one every department's deadline has" in problems


def test_a_milestone_cannot_take_the_name_of_a_placeholder(config_dir):
    path = config_dir / "routing.yaml"
    path.write_text(path.read_text().replace("    deadline: fault\n", "    deadline: {ticket: fault, legal: complaint}\n", 1))
    with pytest.raises(ConfigError, match=r"routing.yaml: departments.technical.deadline.ticket: ticket is a placeholder"):
        load_hotline(path, config_dir / "prompts")
