"""What the console tests do as an operator would: register voicemails to work on, sign in,
post a ticket's forms with their CSRF token, and read a ticket or a row of the list back.

The fixtures built on these (``users``, ``as_user``) are in conftest.py."""

from __future__ import annotations

import itertools
import re

from sqlalchemy import select

from ivr.models import Ticket
from ivr.tickets.registration import VoicemailReport, register_voicemail

PASSWORD = "correct horse battery"
CALLS = itertools.count(1)


def voicemail(app, db, clock, n: int = 1, department: str = "technical", caller: str | None = "+40722123456", at=None) -> list[str]:
    """Register ``n`` voicemails; returns their ticket numbers."""
    numbers = []
    for i in range(n):
        report = VoicemailReport(f"CA{next(CALLS):032d}", department, "ro",
                                 caller, caller, "RE" + "7" * 32, f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Recordings/RE{'7' * 32}",
                                 25, "completed", "record action")
        with db.session() as session, session.begin():
            numbers.append(register_voicemail(session, app.extensions["ivr.hotline"], report, at or clock()).number)
    return numbers


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def sign_in(client, name: str, password: str = PASSWORD):
    token = csrf(client.get("/console/login"))
    return client.post("/console/login", data={"csrf_token": token, "name": name, "password": password})


def act(client, number: str, action: str, **form):
    token = csrf(client.get(f"/console/tickets/{number}"))
    return client.post(f"/console/tickets/{number}/{action}", data={"csrf_token": token, **form})


def ticket(db, number: str) -> Ticket:
    with db.session() as session:
        found = session.scalar(select(Ticket).where(Ticket.number == number))
        found.events, found.messages, found.assignee
        return found


def row(page: str, number: str) -> str:
    """The ticket list's row of ``number``, its whitespace squeezed."""
    found = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*>{number}</a>.*?</tr>", page, re.S)
    assert found, number
    return re.sub(r"\s+", " ", found.group(0))
