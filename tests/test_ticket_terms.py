"""Changing a ticket's terms: extensions per department (only the milestones the rule names,
a reason sent to the customer, the number of times the procedure allows) and moving a ticket
to another department (milestones counted again from the registration)."""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date, timedelta

import pytest
import yaml

from ivr.tickets import casework, terms as ticket_terms
from ivr.errors import TicketRefused
from ivr.settings import load_hotline
from ivr.tickets.registration import VoicemailReport, register_voicemail
from ivr.users import add_user

from conftest import bucharest

NOW = bucharest(2026, 11, 27, 10, 0)  # a Friday, before St Andrew (30 Nov) and National Day (1 Dec)
def configure(config_dir, *, technical, extensions: dict, technical_extension: str | None,
              payments_extension: str | None = "twice", payments="complaint") -> None:
    """Edit the copied routing.yaml: extra rules, the two departments' milestones, who may extend."""
    path = config_dir / "routing.yaml"
    routing = yaml.safe_load(path.read_text())
    routing["deadlines"].update({"two_hours": {"hours": 2, "within": "09:00-21:00", "days": "mon-sun"},
                                 "ext15": {"days": 15, "count": "calendar"}})
    routing["extensions"] = extensions
    departments = routing["departments"]
    for key, deadline, extension in (("technical", technical, technical_extension), ("payments", payments, payments_extension)):
        departments[key]["deadline"] = deadline
        departments[key].pop("extension", None)
        if extension:
            departments[key]["extension"] = extension
    departments["customer_relations"].pop("extension", None)
    path.write_text(yaml.safe_dump(routing, allow_unicode=True, sort_keys=False))


@pytest.fixture
def terms(upgraded_database, config_dir):
    """A function(**configure args) -> (session, hotline, ticket, ana): one technical ticket
    registered at NOW under the edited routing.yaml, and an operator, on each database."""
    database, sessions = upgraded_database, ExitStack()

    def make(**settings):
        configure(config_dir, **settings)
        hotline = load_hotline(config_dir / "routing.yaml", config_dir / "prompts")
        session = sessions.enter_context(database.session())
        ana = add_user(session, "ana", "password-1", "operator", NOW)
        report = VoicemailReport("CA" + "7" * 32, "technical", "ro", "+40722123456", "+40722123456",
                                 None, None, None, "completed", "record action")
        ticket = register_voicemail(session, hotline, report, NOW)
        session.flush()
        return session, hotline, ticket, ana

    with sessions:
        yield make


PROMISED_AND_LEGAL = {"promised": "two_hours", "legal": "complaint"}
ONCE_LEGAL = {"legal_once": {"rule": "ext15", "milestones": ["legal"]}, "twice": {"rule": "extension", "times": 2}}


def due(ticket) -> dict[str, str]:
    return {m.name: f"{m.due_on:%d.%m}" + (f" {m.due_at.astimezone(NOW.tzinfo):%H:%M}" if m.timed else "")
            for m in ticket.milestones}


def test_an_extension_moves_only_the_milestones_its_rule_names_and_texts_the_reason(terms):
    session, hotline, ticket, ana = terms(technical=PROMISED_AND_LEGAL, extensions=ONCE_LEGAL, technical_extension="legal_once")
    # Registered Fri 27 Nov 10:00: promised by 12:00; legal 30 calendar days, Sun 27 Dec -> Mon 28 Dec.
    assert due(ticket) == {"promised": "27.11 12:00", "legal": "28.12"}
    change = ticket_terms.plan_extension(hotline, ticket, NOW)
    assert [(m.name, m.after.due_on) for m in change.moves] == [("legal", date(2027, 1, 12))]  # 28 Dec + 15 days
    assert due(ticket)["legal"] == "28.12"  # a plan changes nothing
    casework.extend(session, hotline, ticket, ana, "Piesa de schimb vine din import.", NOW)
    assert due(ticket) == {"promised": "27.11 12:00", "legal": "12.01"}
    assert (ticket.deadline_on, ticket.extension_count) == (date(2027, 1, 12), 1)
    sms = ticket.messages[-1]
    assert sms.purpose == "ticket_extended#1"
    assert sms.body.endswith("prelungit exceptional pana la 12.01.2027. Motiv: Piesa de schimb vine din import.")
    event = ticket.events[-1]
    assert event.kind == "extended" and event.detail == "Piesa de schimb vine din import."
    assert event.data == {"moves": [{"milestone": "legal", "final": True, "before": "2026-12-28", "after": "2027-01-12"}]}


def test_an_extension_needs_a_reason(terms):
    session, hotline, ticket, ana = terms(technical=PROMISED_AND_LEGAL, extensions=ONCE_LEGAL, technical_extension="legal_once")
    with pytest.raises(TicketRefused, match="the reason is empty"):
        casework.extend(session, hotline, ticket, ana, "  ", NOW)
    assert ticket.extension_count == 0 and len(ticket.messages) == 1


def test_a_rule_that_allows_two_extensions_refuses_the_third(terms):
    session, hotline, ticket, ana = terms(technical="fault", extensions=ONCE_LEGAL, technical_extension="twice")
    assert ticket.deadline_on == date(2026, 12, 4)  # Nov 28-29 weekend, 30 Nov and 1 Dec holidays: Dec 2, 3, 4
    casework.extend(session, hotline, ticket, ana, "Motiv unu.", NOW)
    first = ticket.deadline_on
    casework.extend(session, hotline, ticket, ana, "Motiv doi.", NOW)
    assert ticket.deadline_on > first and ticket.extension_count == 2
    with pytest.raises(TicketRefused) as refused:
        casework.extend(session, hotline, ticket, ana, "Motiv trei.", NOW)
    assert refused.value.reason == "extended_enough" and refused.value.params == {"times": "2"}
    assert [m.purpose for m in ticket.messages] == ["ticket_registered", "ticket_extended#1", "ticket_extended#2"]


def test_no_extension_without_the_departments_rule_nor_after_the_deadline(terms):
    session, hotline, ticket, ana = terms(technical=PROMISED_AND_LEGAL, extensions=ONCE_LEGAL, technical_extension=None)
    with pytest.raises(TicketRefused) as refused:
        ticket_terms.plan_extension(hotline, ticket, NOW)
    assert refused.value.reason == "no_extension"


def test_no_extension_once_a_named_milestone_has_passed(terms):
    session, hotline, ticket, ana = terms(technical=PROMISED_AND_LEGAL, extensions=ONCE_LEGAL, technical_extension="legal_once")
    with pytest.raises(TicketRefused) as refused:
        casework.extend(session, hotline, ticket, ana, "Prea tarziu.", ticket.deadline_at)
    assert refused.value.reason == "extension_too_late"
    ticket_terms.plan_extension(hotline, ticket, ticket.deadline_at - timedelta(seconds=1))  # a second earlier: allowed


def test_reclassifying_counts_the_new_departments_terms_from_the_registration(terms):
    session, hotline, ticket, ana = terms(technical=PROMISED_AND_LEGAL, extensions=ONCE_LEGAL, technical_extension="legal_once",
                                          payments_extension=None)
    casework.take(session, ticket, ana, NOW + timedelta(minutes=5))
    later = NOW + timedelta(days=3)
    # payments: one milestone, 30 calendar days from Fri 27 Nov: Sun 27 Dec -> Mon 28 Dec: the legal date is the same.
    change = casework.reclassify(session, hotline, ticket, ana, "payments", "Este o problema de facturare.", later)
    assert not change.legal_changed
    assert ticket.department == "payments" and due(ticket) == {"resolve": "28.12"}
    assert [m.purpose for m in ticket.messages] == ["ticket_registered"]  # same legal date: no SMS
    assert ticket.events[-1].kind == "reclassified" and ticket.events[-1].detail == "Este o problema de facturare."
    assert ticket.events[-1].data == {"from": "technical", "to": "payments"}


def test_reclassifying_is_refused_to_the_same_or_an_unknown_department(terms):
    session, hotline, ticket, ana = terms(technical="complaint", extensions=ONCE_LEGAL, technical_extension=None)
    for department, reason in (("technical", "same_department"), ("nowhere", "unknown_department")):
        with pytest.raises(TicketRefused) as refused:
            casework.reclassify(session, hotline, ticket, ana, department, "Motiv.", NOW)
        assert refused.value.reason == reason
    assert ticket.department == "technical" and [e.kind for e in ticket.events] == ["registered"]


def test_a_fault_moved_to_billing_gets_the_thirty_days_and_an_sms(terms):
    session, hotline, ticket, ana = terms(technical="fault", extensions=ONCE_LEGAL, technical_extension=None)
    assert ticket.deadline_on == date(2026, 12, 4)
    change = casework.reclassify(session, hotline, ticket, ana, "payments", "Reclamatie de facturare.", NOW + timedelta(hours=1))
    assert change.legal_changed and ticket.deadline_on == date(2026, 12, 28)
    sms = ticket.messages[-1]
    assert sms.purpose == "ticket_reclassified#1"
    assert sms.body == ("ProNET Solutii IT: reclamatia RC-2026-000001 a fost preluata de Departamentul Plati. "
                        "Noul termen de solutionare: 28.12.2026.")


def test_what_was_done_still_meets_the_new_departments_milestones(terms):
    payments = {"ack": {"rule": "fault", "met_by": "registration_sms"}, "taken": {"rule": "two_hours", "met_by": "taken"},
                "update": {"rule": "fault", "met_by": "progress"}, "resolve": "complaint"}
    session, hotline, ticket, ana = terms(technical="complaint", extensions=ONCE_LEGAL, technical_extension=None,
                                          payments_extension=None, payments=payments)
    taken_at = NOW + timedelta(minutes=10)
    casework.take(session, ticket, ana, taken_at)
    casework.progress(session, hotline, ticket, ana, "Verificam.", taken_at + timedelta(minutes=1))
    casework.reclassify(session, hotline, ticket, ana, "payments", "Facturare.", NOW + timedelta(hours=1))
    met = {m.name: m.met_at for m in ticket.milestones}
    assert met == {"ack": NOW, "taken": taken_at, "update": taken_at + timedelta(minutes=1), "resolve": None}
