"""The console's errors in the reader's language: its own 403, 404, 405 and 500 pages (a main
landmark, a heading, a way back to the list, the security headers), the webhooks' errors left
as they were, and every refusal of a form in words from the labels."""

from __future__ import annotations

import re

import pytest

from conftest import BASE_URL, sign
from console_client import act, ticket, voicemail

CONSOLE_PAGE = re.compile(r"<main[^>]*>.*<h1>(?P<title>[^<]+)</h1>.*href=\"/console/\"", re.S)


def in_english(client):
    client.get("/console/language/en")
    return client


def title(reply) -> str:
    found = CONSOLE_PAGE.search(reply.get_data(as_text=True))
    assert found, reply.get_data(as_text=True)
    return found["title"]


@pytest.mark.parametrize("path", ["/console/no-such-page", "/console/tickets/RC-2026-999999"])
def test_a_missing_page_is_the_consoles_own_in_the_readers_language(as_user, path):
    client = as_user("ana")
    reply = client.get(path)
    assert reply.status_code == 404 and title(reply) == "Pagina nu există"
    assert reply.headers["X-Frame-Options"] == "DENY" and "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
    reply = in_english(client).get(path)
    assert reply.status_code == 404 and title(reply) == "Page not found"
    assert '<html lang="en">' in reply.get_data(as_text=True)


def test_a_forbidden_page_is_the_consoles_own(as_user):
    client = as_user("ana")  # an operator: the overview is the supervisors'
    reply = client.get("/console/overview")
    assert reply.status_code == 403 and title(reply) == "Acces interzis"
    assert "ana (operator)" in reply.get_data(as_text=True)  # the header of every page, with who is signed in
    assert title(in_english(client).get("/console/overview")) == "Access denied"


def test_a_wrong_method_is_the_consoles_own_and_says_the_allowed_ones(as_user):
    reply = as_user("ana").get("/console/logout")
    assert reply.status_code == 405 and title(reply) == "Acțiune nepermisă" and "POST" in reply.headers["Allow"]


def test_a_missing_page_before_signing_in_is_the_consoles_own(client):
    reply = client.get("/console/no-such-page")
    assert reply.status_code == 404 and title(reply) == "Pagina nu există"


def test_an_internal_error_is_the_consoles_own(app, as_user):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken():
        raise RuntimeError("a bug")

    app.add_url_rule("/console/broken", "broken", broken)
    reply = as_user("ana").get("/console/broken")
    assert reply.status_code == 500 and title(reply) == "Eroare internă"
    assert "a bug" not in reply.get_data(as_text=True)


def test_the_webhooks_keep_their_own_errors(client, twilio_post):
    unsigned = client.post("/voice/incoming", data={"CallSid": "CA" + "1" * 32})
    assert unsigned.status_code == 403 and "<main>" not in unsigned.get_data(as_text=True)
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "<main>" not in missing.get_data(as_text=True)
    data = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}
    status = client.post("/sms/status", data=data, headers=sign(BASE_URL + "/sms/status", data))
    assert status.status_code == 204


# -- refusals of a form ------------------------------------------------------------------------

@pytest.mark.parametrize("action, form, ro, en", [
    ("note", {"text": "   "}, "Nota este goală.", "The note is empty."),
    ("reopen", {}, "Tichetul {number} este deja deschis.", "Ticket {number} is already open."),
    ("resolve", {"text": " ", "confirm": "1"}, "Mesajul către client este gol.", "The message to the customer is empty."),
    ("reject", {"text": " ", "confirm": "1"}, "Explicația pentru client este goală.", "The explanation for the customer is empty."),
    ("progress", {"text": " ", "confirm": "1"}, "Mesajul de progres este gol.", "The progress message is empty."),
    ("note", {"text": "x" * 1001}, "Textul are mai mult de 1000 de caractere.", "The text is longer than 1000 characters."),
])
def test_a_refused_form_says_why_in_the_readers_language(app, db, clock, as_user, action, form, ro, en):
    [number] = voicemail(app, db, clock)
    client = as_user("ana")
    for expected in (ro, en):
        reply = act(client, number, action, **form)
        # A refusal shows the ticket page again, with the operator's text kept (or, before a form, after a redirect).
        page = (client.get(reply.location) if reply.status_code == 303 else reply).get_data(as_text=True)
        assert reply.status_code in (303, 409, 422) and expected.format(number=number) in page
        in_english(client)


def test_an_empty_note_is_refused_and_nothing_is_written(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    act(as_user("ana"), number, "note", text="  ")
    assert [e.kind for e in ticket(db, number).events] == ["registered"]
