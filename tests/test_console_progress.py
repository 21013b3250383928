"""A progress message to the customer: previewed, sent by SMS, and it meets the ticket's
progress milestone (the solar-inverter vendor's procedure, seed 004)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ivr.models import SmsMessage, Ticket, TicketEvent

from conftest import bucharest
from console_client import csrf, voicemail
from test_milestones import EXTRA_RULES


@pytest.fixture
def app_config(app_config, config_dir):
    """Technical acknowledges in 7 working days, updates 14 after that, resolves in 30."""
    path = config_dir / "routing.yaml"
    text = path.read_text().replace("deadlines:\n", "deadlines:\n" + EXTRA_RULES, 1)
    path.write_text(text.replace("    deadline: fault\n", "    deadline: {acknowledge: {rule: ack7, met_by: taken}, "
                                 "progress: {rule: update14, met_by: progress, after: acknowledge}, resolve: resolve30}\n", 1))
    return app_config


def post(client, number: str, action: str, **form):
    page = client.get(f"/console/tickets/{number}")
    return client.post(f"/console/tickets/{number}/{action}", data={"csrf_token": csrf(page), **form})


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_a_progress_message_is_previewed_sent_and_meets_its_milestone(app, db, clock, as_user, lang):
    [number] = voicemail(app, db, clock, at=bucharest(2026, 11, 27, 10, 0))
    clock.now = bucharest(2026, 12, 15, 11, 0)
    ana = as_user("ana")
    ana.get(f"/console/language/{lang}")
    preview = post(ana, number, "progress", text="Așteptăm piesa de schimb de la producător.").get_data(as_text=True)
    # The customer's SMS is in the customer's language, whatever the console's.
    assert "ProNET Solutii IT: reclamatia RC-2026-000001 este in lucru." in preview
    assert post(ana, number, "progress", text="Așteptăm piesa de schimb de la producător.", confirm="1").status_code == 303
    with db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        sms = session.scalars(select(SmsMessage).where(SmsMessage.purpose == "ticket_progress#1")).one()
        progress = {m.name: m.met_at for m in ticket.milestones}["progress"]
        kinds = session.scalars(select(TicketEvent.kind)).all()
    assert "Asteptam piesa de schimb" in sms.body
    assert progress == bucharest(2026, 12, 15, 11, 0) and "progress" in kinds


def test_an_empty_progress_message_is_refused(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    reply = post(as_user("ana"), number, "progress", text="  ")
    assert reply.status_code == 422 and "Mesajul către client este gol." in reply.get_data(as_text=True)


def test_a_message_longer_than_the_form_allows_is_refused_before_its_preview(app, db, clock, as_user):
    """The page's textarea stops at 1,000 characters; a script, or a page from an older version,
    does not: the preview says so instead of pricing an SMS of many parts."""
    [number] = voicemail(app, db, clock)
    reply = post(as_user("ana"), number, "progress", text="Așteptăm piesa. " * 80)
    assert reply.status_code == 422 and "Textul are mai mult de 1000 de caractere." in reply.get_data(as_text=True)
    with db.session() as session:
        assert session.scalars(select(SmsMessage).where(SmsMessage.purpose.like("ticket_progress%"))).all() == []
