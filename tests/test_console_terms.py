"""Extending and reclassifying a ticket from the console, in Romanian and English: the
operator sees the new dates and the SMS first, and is told why an extension is not offered."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from ivr.models import SmsMessage, Ticket

from conftest import bucharest
from console_client import csrf, voicemail

WORDS = {
    "ro": {"new_terms": "Termenele după confirmare", "resolve": "soluționare", "too_late": "Termenul a trecut: nu mai poate fi prelungit.",
           "enough": "Termenul a fost deja prelungit de câte ori permite procedura (1).",
           "no_sms": "Termenul legal rămâne același: clientul nu primește SMS.", "reason": "Scrieți motivul."},
    "en": {"new_terms": "Deadlines once confirmed", "resolve": "resolution", "too_late": "The deadline has passed: it can no longer be extended.",
           "enough": "The deadline was already extended as many times as the procedure allows (1).",
           "no_sms": "The legal deadline stays the same: the customer gets no SMS.", "reason": "Write the reason."},
}


def post(client, number: str, action: str, **form):
    page = client.get(f"/console/tickets/{number}")
    return client.post(f"/console/tickets/{number}/{action}", data={"csrf_token": csrf(page), **form})


def page(client, number: str) -> str:
    return html.unescape(client.get(f"/console/tickets/{number}").get_data(as_text=True))


def operator(as_user, lang: str):
    client = as_user("ana")
    client.get(f"/console/language/{lang}")
    return client


def only_ticket(db):
    with db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        return ticket.department, ticket.deadline_on, ticket.extension_count, [m.purpose for m in ticket.messages]


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_an_extension_is_previewed_with_its_new_date_then_sent_with_its_reason(app, db, clock, as_user, lang):
    # Fri 27 Nov, a fault: 3 working days past the weekend, St Andrew and National Day: Fri 4 Dec.
    clock.now = bucharest(2026, 11, 27, 10, 0)
    [number] = voicemail(app, db, clock)
    ana = operator(as_user, lang)
    reason = "Așteptăm echipamentul de la furnizor."
    preview = html.unescape(post(ana, number, "extend", text=reason).get_data(as_text=True))
    # 30 working days from Fri 4 Dec, past Christmas, New Year and 6-7 January: Thu 21 Jan 2027.
    assert WORDS[lang]["new_terms"] in preview and f"{WORDS[lang]['resolve']}: 04.12.2026 → 21.01.2027" in preview
    assert "prelungit exceptional pana la 21.01.2027. Motiv: Asteptam echipamentul de la furnizor." in preview
    assert only_ticket(db)[2] == 0  # nothing changed by the preview
    assert post(ana, number, "extend", text=reason, confirm="1").status_code == 303
    _, deadline_on, extensions, purposes = only_ticket(db)
    assert (f"{deadline_on:%d.%m.%Y}", extensions, purposes[-1]) == ("21.01.2027", 1, "ticket_extended#1")
    assert WORDS[lang]["enough"] in page(ana, number)  # once: the page says why it is no longer offered
    refused = post(ana, number, "extend", text=reason, confirm="1")
    assert WORDS[lang]["enough"] in page(ana, number) and only_ticket(db)[2] == 1 and refused.status_code == 409


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_no_extension_after_the_deadline_and_none_without_a_reason(app, db, clock, as_user, lang):
    clock.now = bucharest(2026, 11, 27, 10, 0)
    [number] = voicemail(app, db, clock)
    ana = operator(as_user, lang)
    empty = post(ana, number, "extend", text="  ")
    assert empty.status_code == 422 and WORDS[lang]["reason"] in html.unescape(empty.get_data(as_text=True))
    clock.now = bucharest(2026, 12, 5, 0, 0)  # the first moment after Fri 4 Dec
    assert WORDS[lang]["too_late"] in page(ana, number)
    post(ana, number, "extend", text="Prea târziu.", confirm="1")
    assert only_ticket(db)[2] == 0


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_a_fault_reclassified_as_billing_gets_thirty_days_and_an_sms_after_a_preview(app, db, clock, as_user, lang):
    clock.now = bucharest(2026, 11, 27, 10, 0)
    [number] = voicemail(app, db, clock)
    ana = operator(as_user, lang)
    form = {"department": "payments", "text": "Este o reclamație despre factură."}
    preview = html.unescape(post(ana, number, "reclassify", **form).get_data(as_text=True))
    # payments: 30 calendar days from Fri 27 Nov is Sun 27 Dec, so Mon 28 Dec.
    assert f"{WORDS[lang]['resolve']}: 04.12.2026 → 28.12.2026" in preview
    assert "a fost preluata de Departamentul Plati. Noul termen de solutionare: 28.12.2026." in preview
    assert only_ticket(db)[0] == "technical"
    post(ana, number, "reclassify", confirm="1", **form)
    department, deadline_on, _, purposes = only_ticket(db)
    assert (department, f"{deadline_on:%d.%m.%Y}", purposes[-1]) == ("payments", "28.12.2026", "ticket_reclassified#1")
    assert "Este o reclamație despre factură." in page(ana, number)  # the reason, in the history


@pytest.mark.parametrize("lang", ["ro", "en"])
def test_a_move_that_keeps_the_legal_date_texts_nobody(app, db, clock, as_user, lang):
    clock.now = bucharest(2026, 11, 27, 10, 0)
    [number] = voicemail(app, db, clock, department="payments")
    ana = operator(as_user, lang)
    form = {"department": "customer_relations", "text": "Ține de contract."}
    preview = html.unescape(post(ana, number, "reclassify", **form).get_data(as_text=True))
    assert WORDS[lang]["no_sms"] in preview
    post(ana, number, "reclassify", confirm="1", **form)
    department, _, _, purposes = only_ticket(db)
    assert department == "customer_relations" and purposes == ["ticket_registered"]
    with db.session() as session:
        assert session.scalar(select(SmsMessage).where(SmsMessage.purpose.like("ticket_reclassified%"))) is None
