"""Resolving late under a compensation rule: the console asks for the customer's monthly value,
shows the amount with its formula in words, and the resolution SMS and the history carry it."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from ivr.models import SmsMessage, Ticket, TicketEvent

from conftest import bucharest
from console_client import csrf, voicemail


@pytest.fixture
def app_config(app_config, config_dir):
    """Technical faults compensated as Canal+ does: monthly value / days in the month x days late."""
    path = config_dir / "routing.yaml"
    text = path.read_text().replace("departments:\n", "compensations:\n  canal: {kind: per_day_late}\n\ndepartments:\n", 1)
    path.write_text(text.replace("    deadline: fault\n", "    deadline: fault\n    compensation: canal\n", 1))
    return app_config


def resolve_form(client, number: str, **form):
    page = client.get(f"/console/tickets/{number}")
    return client.post(f"/console/tickets/{number}/resolve", data={"csrf_token": csrf(page), **form})


def test_a_late_resolution_asks_for_the_monthly_value_and_tells_the_customer(app, db, clock, as_user):
    [number] = voicemail(app, db, clock, at=bucharest(2026, 11, 27, 10, 0))  # fault: due 4 December
    clock.now = bucharest(2026, 12, 9, 11, 0)  # five days late
    ana = as_user("ana")
    assert "Valoarea lunară a abonamentului" in ana.get(f"/console/tickets/{number}").get_data(as_text=True)

    missing = resolve_form(ana, number, text="Am înlocuit decodorul.")
    assert missing.status_code == 422 and "Introduceți valoarea lunară" in missing.get_data(as_text=True)

    preview = resolve_form(ana, number, text="Am înlocuit decodorul.", monthly="45,00").get_data(as_text=True)
    assert "45,00 lei ÷ 31 (zilele lunii) × 5 (zile de întârziere) = 7,26 lei" in preview
    assert "Despagubire 7,26 lei = 45,00 lei / 31 (zilele lunii) x 5 (zile de intarziere)." in preview

    confirm = resolve_form(ana, number, text="Am înlocuit decodorul.", monthly="45,00", confirm="1")
    assert confirm.status_code == 303
    with db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        sms = session.scalars(select(SmsMessage).where(SmsMessage.purpose.like("ticket_resolved%"))).one()
        kinds = session.scalars(select(TicketEvent.kind).order_by(TicketEvent.id)).all()
    assert ticket.status == "resolved" and "Despagubire 7,26 lei" in sms.body
    assert kinds[-1] == "compensation"


def test_a_resolution_in_time_owes_nothing_and_asks_nothing(app, db, clock, as_user):
    [number] = voicemail(app, db, clock, at=bucharest(2026, 11, 27, 10, 0))
    clock.now = bucharest(2026, 12, 4, 18, 0)  # the deadline day itself
    ana = as_user("ana")
    assert "Valoarea lunară" not in ana.get(f"/console/tickets/{number}").get_data(as_text=True)
    assert resolve_form(ana, number, text="Rezolvat.", confirm="1").status_code == 303
    with db.session() as session:
        sms = session.scalars(select(SmsMessage.body).where(SmsMessage.purpose.like("ticket_resolved%"))).one()
    assert "Despagubire" not in sms


def test_an_english_console_shows_the_formula_in_english_and_the_customer_gets_romanian(app, db, clock, as_user):
    [number] = voicemail(app, db, clock, at=bucharest(2026, 11, 27, 10, 0))  # fault: due 4 December
    clock.now = bucharest(2026, 12, 9, 11, 0)  # five days late
    ana = as_user("ana")
    ana.get("/console/language/en")
    assert "The customer's monthly value (lei)" in html.unescape(ana.get(f"/console/tickets/{number}").get_data(as_text=True))
    missing = resolve_form(ana, number, text="Decoder replaced.")
    assert missing.status_code == 422 and "Enter the customer's monthly value" in html.unescape(missing.get_data(as_text=True))
    preview = resolve_form(ana, number, text="Am înlocuit decodorul.", monthly="45,00").get_data(as_text=True)
    assert "45.00 lei ÷ 31 (days in the month) × 5 (days late) = 7.26 lei" in preview  # English money: a decimal point
    # The customer called in Romanian: the SMS stays Romanian whatever the console's language.
    assert "Despagubire 7,26 lei = 45,00 lei / 31 (zilele lunii) x 5 (zile de intarziere)." in preview
