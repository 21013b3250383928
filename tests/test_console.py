"""The operator console over HTTP: signing in, the work list, a ticket's page, every action,
and who may see and do what."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest

from ivr.cli import main
from ivr.tickets.registration import VoicemailReport, register_voicemail
from ivr.users import add_user

from conftest import AUTH_TOKEN, bucharest, transaction_left_open
from console_client import CALLS, PASSWORD, act, csrf, row, sign_in, ticket, voicemail
from test_alerts import with_alerts
from twilio_standin import TwilioStandin

def test_pages_open_while_a_complaint_is_being_written(app, db, clock, as_user):
    """Reading the list, a ticket or the statistics waits for no transaction that writes (on
    SQLite, pages take no write lock), so an operator's screen never stalls behind the calls."""
    [number] = voicemail(app, db, clock)
    client = as_user("maria")
    pages = ["/console/", f"/console/tickets/{number}", "/console/tickets/version", "/console/overview",
             "/console/calls/stats", "/console/tickets.csv"]
    with transaction_left_open(db, lambda s: voicemail_in(app, s, clock)):
        started = time.monotonic()
        statuses = [client.get(page).status_code for page in pages]
        took = time.monotonic() - started
    assert statuses == [200] * len(pages) and took < 5  # a write session would wait 20 s here


def voicemail_in(app, session, clock) -> None:
    report = VoicemailReport(f"CA{next(CALLS):032d}", "payments", "ro", None, None, None, None, None, "absent", "record action")
    register_voicemail(session, app.extensions["ivr.hotline"], report, clock())


# -- signing in -------------------------------------------------------------------

def test_everything_needs_a_signed_in_user(client):
    for path in ("/console/", "/console/tickets/RC-2026-000001", "/console/overview", "/console/tickets/RC-2026-000001/recording"):
        reply = client.get(path)
        assert reply.status_code == 302 and "/console/login" in reply.location


def test_sign_in_and_out(app, users):
    client = app.test_client()
    reply = sign_in(client, "ana")
    assert reply.status_code == 302 and reply.location.endswith("/console/")
    assert "ana (operator)" in client.get("/console/").get_data(as_text=True)
    client.post("/console/logout", data={"csrf_token": csrf(client.get("/console/"))})
    assert client.get("/console/").status_code == 302


def test_wrong_password_is_refused_then_slowed_down_and_logged(app, users, caplog):
    client = app.test_client()
    for _ in range(3):
        refused = sign_in(client, "ana", "wrong password")
        assert refused.status_code == 401
    # The name stays typed, the password does not: the cursor waits in the password.
    assert re.search(r'<input name="name"[^>]* value="ana">', refused.get_data(as_text=True))
    assert re.search(r'<input name="password"[^>]* required autofocus>', refused.get_data(as_text=True))
    reply = sign_in(client, "ana", PASSWORD)  # even the right password must wait now
    assert reply.status_code == 429
    assert "Prea multe încercări greșite" in reply.get_data(as_text=True)
    assert "failed sign-in for 'ana'" in caplog.text and "throttled" in caplog.text


def test_throttle_expires(app, users, clock):
    client = app.test_client()
    for _ in range(3):
        sign_in(client, "ana", "wrong password")
    clock.now += timedelta(seconds=2)
    assert sign_in(client, "ana").status_code == 302


def test_unknown_user_is_refused_like_a_wrong_password(app, users):
    assert sign_in(app.test_client(), "nobody").status_code == 401


def test_forms_need_their_csrf_token(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    client = as_user("ana")
    assert client.post(f"/console/tickets/{number}/take").status_code == 400
    assert ticket(db, number).assignee is None


def test_session_cookie_is_http_only_and_same_site(app, users):
    reply = sign_in(app.test_client(), "ana")
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


# -- the work list ------------------------------------------------------------------------

def test_list_puts_open_tickets_first_by_deadline_with_time_left(app, db, clock, as_user):
    clock.now = bucharest(2026, 11, 2, 10, 0)  # Monday
    [complaint] = voicemail(app, db, clock, department="payments")          # 30 days: 2 December
    [fault] = voicemail(app, db, clock, department="technical")             # 3 working days: 5 November
    clock.now = bucharest(2026, 11, 5, 12, 0)
    page = as_user("ana").get("/console/?status=open").get_data(as_text=True)
    assert page.index(fault) < page.index(complaint)
    assert "scadentă azi" in page and "27 de zile rămase" in page
    clock.now = bucharest(2026, 11, 7, 12, 0)
    page = as_user("ion").get("/console/").get_data(as_text=True)
    assert "depășită cu 2 zile" in page


def test_filters_search_and_counts(app, db, clock, as_user):
    voicemail(app, db, clock, n=2, department="payments", caller="+40733000111")
    [fault] = voicemail(app, db, clock, department="technical", caller="+40744999888")
    client = as_user("ana")
    page = client.get("/console/?department=payments").get_data(as_text=True)
    assert fault not in page and rows(page) == 2
    page = client.get("/console/?q=0744999888").get_data(as_text=True)
    assert fault in page and rows(page) == 1
    page = client.get(f"/console/?q={fault}").get_data(as_text=True)
    assert rows(page) == 1
    counts = re.sub(r"\s+", " ", client.get("/console/").get_data(as_text=True))
    assert "<strong>2</strong> Departamentul Plăți" in counts and "<strong>3</strong> înregistrate" in counts
    clock.now += timedelta(days=5)
    page = client.get("/console/?overdue=1").get_data(as_text=True)
    assert fault in page and rows(page) == 1


def rows(page: str) -> int:
    return page.count('href="/console/tickets/')


def test_large_lists_are_paginated(app, db, clock, as_user):
    voicemail(app, db, clock, n=30)
    client = as_user("ana")
    first = client.get("/console/").get_data(as_text=True)
    assert rows(first) == 25 and "Pagina 1 din 2" in first and "/console/?page=2" in first
    assert rows(client.get("/console/?page=2").get_data(as_text=True)) == 5


def test_english_labels(app, db, clock, as_user):
    client = as_user("ana")
    client.get("/console/language/en")
    assert "Search ticket number, phone, client code or words of the message" in client.get("/console/").get_data(as_text=True)


# -- the nearest milestone and the at-risk filter (routing.yaml alert:) ----------------------

@pytest.fixture
def alerting(config_dir):
    """routing.yaml with technical's two-hour promise inside the legal 30 days (alerted 1 hour
    before) and customer relations alerted 40 days before; payments keeps no alert (1 day)."""
    with_alerts(config_dir)


@pytest.mark.usefixtures("alerting")
def test_list_shows_each_open_tickets_nearest_unmet_milestone(app, db, clock, as_user):
    [fresh, taken, closed] = voicemail(app, db, clock, n=3)   # Tuesday 10:00: promised 12:00, legal 17.12
    client = as_user("maria")
    act(client, taken, "take")
    act(client, closed, "reject", text="Nu este o reclamatie.", confirm="1")
    page = client.get("/console/").get_data(as_text=True)
    assert "Următorul termen" in page
    assert '<strong>termen promis</strong> 17.11.2026 12:00 · în curs</td>' in row(page, fresh)
    # Taking met the promise: the legal term (a day rule: its date only) is the nearest now.
    assert '<strong>termen legal</strong> 17.12.2026 · în curs</td>' in row(page, taken)
    assert 'title=""></td>' in row(page, closed)
    clock.now = bucharest(2026, 11, 17, 13, 0)
    client.get("/console/language/en")
    page = client.get("/console/").get_data(as_text=True)
    assert "Next deadline" in page and "<strong>promised</strong> 17.11.2026 12:00 · missed" in row(page, fresh)


@pytest.mark.usefixtures("alerting")
def test_at_risk_lists_open_tickets_with_a_milestone_due_within_their_departments_window(app, db, clock, as_user):
    [promise] = voicemail(app, db, clock)                                  # promised 12:00, alert 1h before
    [taken] = voicemail(app, db, clock)                                    # its promise met by taking it
    [payments] = voicemail(app, db, clock, department="payments")         # 17.12, no alert: 1 day
    [relations, rejected] = voicemail(app, db, clock, n=2, department="customer_relations")  # 17.12, 40 days
    client = as_user("maria")
    act(client, taken, "take")
    act(client, rejected, "reject", text="Nu este o reclamatie.", confirm="1")

    def at_risk(**extra) -> set[str]:
        page = client.get("/console/", query_string={"at_risk": "1", **extra}).get_data(as_text=True)
        found = {n for n in (promise, taken, payments, relations, rejected) if f">{n}</a>" in page}
        chip = re.search(r'class="chip chip-at_risk on alarm"[^>]*aria-current="true"><strong>(\d+)</strong> în pericol<', page)
        assert chip and (extra or int(chip.group(1)) == len(found))  # the chip counts what it lists
        return found

    assert at_risk() == {relations}
    clock.now = bucharest(2026, 11, 17, 11, 0)
    assert at_risk() == {relations, promise}
    assert at_risk(department="technical") == {promise}
    # 16 December: still more than a day before payments' 17 December; the late promise stays.
    clock.now = bucharest(2026, 12, 16, 23, 59)
    assert at_risk() == {relations, promise}
    clock.now = bucharest(2026, 12, 17, 0, 0)
    assert at_risk() == {relations, promise, payments}
    page = client.get("/console/?at_risk=1").get_data(as_text=True)
    assert "at_risk=1" in page.split('id="list-chips"')[1]  # the CSV link keeps the filter
    csv = client.get("/console/tickets.csv?at_risk=1").get_data(as_text=True)
    assert {promise, payments, relations} == {n for n in (promise, taken, payments, relations, rejected) if n in csv}


@pytest.mark.usefixtures("alerting")
def test_at_risk_is_counted_and_paginated_by_the_database(app, db, clock, as_user):
    voicemail(app, db, clock, n=27, department="customer_relations")
    voicemail(app, db, clock, n=3, department="payments")
    client = as_user("maria")
    first = client.get("/console/?at_risk=1").get_data(as_text=True)
    assert rows(first) == 25 and "Pagina 1 din 2" in first and "at_risk=1&amp;page=2" in first
    assert rows(client.get("/console/?at_risk=1&page=2").get_data(as_text=True)) == 2


# -- a ticket and its actions ----------------------------------------------------------------

def test_ticket_page_shows_what_an_operator_needs(app, db, clock, as_user):
    clock.now = datetime(2026, 11, 26, 23, 30, tzinfo=timezone.utc)
    [number] = voicemail(app, db, clock)
    page = re.sub(r"\s+", " ", as_user("ana").get(f"/console/tickets/{number}").get_data(as_text=True))
    for expected in ("+40722123456", "Departamentul Tehnic", "27.11.2026 01:30", "04.12.2026", "termen: 3 zile lucrătoare",
                     "în așteptare", "înregistrată", "Probă locală fără cont Twilio"):
        assert expected in page, expected


def test_take_note_resolve_with_preview(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    client = as_user("ana")
    assert act(client, number, "take").status_code == 303
    assert ticket(db, number).assignee.name == "ana" and ticket(db, number).status == "in_progress"
    act(client, number, "note", text="Called back, router reset scheduled.")
    preview = act(client, number, "resolve", text="Routerul a fost înlocuit, conexiunea funcționează.")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Routerul a fost inlocuit, conexiunea functioneaza." in text
    assert "SMS-ul are o parte" in text and ticket(db, number).status == "in_progress"
    act(client, number, "resolve", text="Routerul a fost înlocuit, conexiunea funcționează.", confirm="1")
    done = ticket(db, number)
    assert done.status == "resolved" and done.outcome.startswith("Routerul")
    assert [e.kind for e in done.events] == ["registered", "taken", "note", "resolved"]
    assert all(e.actor == "operator:ana" for e in done.events[1:])
    sms = next(m for m in done.messages if m.purpose.startswith("ticket_resolved"))
    assert sms.status == "queued" and sms.body.endswith("a fost solutionata. Routerul a fost inlocuit, conexiunea functioneaza.")


def test_reject_with_a_long_explanation_shows_the_parts_it_costs(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    client = as_user("ana")
    explanation = "Verificarile arata ca serviciul a functionat normal in perioada reclamata. " * 3
    text = act(client, number, "reject", text=explanation).get_data(as_text=True)
    assert re.search(r"SMS-ul are [2-9] părți", text)
    act(client, number, "reject", text=explanation, confirm="1")
    rejected = ticket(db, number)
    assert rejected.status == "rejected"
    sms = next(m for m in rejected.messages if m.purpose.startswith("ticket_rejected"))
    assert "respinsa ca neintemeiata. Motiv: Verificarile" in sms.body and "ANCOM" in sms.body


def test_reopen_a_resolved_ticket(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    client = as_user("ana")
    act(client, number, "resolve", text="Rezolvat.", confirm="1")
    act(client, number, "reopen")
    reopened = ticket(db, number)
    assert reopened.status == "in_progress" and reopened.events[-1].data == {"was": "resolved"}


def test_a_customer_without_sms_number_is_not_sent_anything(app, db, clock, as_user):
    [number] = voicemail(app, db, clock, caller=None)
    client = as_user("ana")
    assert "anunțați-l telefonic" in act(client, number, "resolve", text="Rezolvat.").get_data(as_text=True)
    act(client, number, "resolve", text="Rezolvat.", confirm="1")
    assert ticket(db, number).messages == [] and ticket(db, number).events[-1].data == {"sms_to": None}


# -- who may see and do what ------------------------------------------------------------------

def test_operator_reads_but_cannot_work_another_operators_ticket(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    act(as_user("ana"), number, "take")
    ion = as_user("ion")
    page = ion.get(f"/console/tickets/{number}").get_data(as_text=True)
    assert "Tichetul este preluat de ana." in page and f'action="/console/tickets/{number}/resolve#actions"' not in page
    assert number in ion.get("/console/").get_data(as_text=True)
    token = csrf(ion.get("/console/"))
    refused = ion.post(f"/console/tickets/{number}/resolve", data={"csrf_token": token, "text": "x", "confirm": "1"})
    assert refused.status_code == 409 and "preluat de ana" in refused.get_data(as_text=True)
    assert ticket(db, number).status == "in_progress"


def test_taking_a_ticket_one_holds_already_is_no_error(app, db, clock, as_user):
    """The assignee loaded with the ticket and the signed-in user are one User: a second take
    (a double click, a second tab) and a note after it work on the ticket, not on an error page."""
    [number] = voicemail(app, db, clock)
    ana = as_user("ana")
    assert act(ana, number, "take").status_code == 303
    assert act(ana, number, "take").status_code == 303
    assert act(ana, number, "note", text="Am sunat clientul.").status_code == 303
    taken = ticket(db, number)
    assert taken.assignee.name == "ana" and [e.kind for e in taken.events][-3:] == ["taken", "taken", "note"]


def test_supervisor_sees_and_works_every_ticket(app, db, clock, as_user):
    [number] = voicemail(app, db, clock)
    act(as_user("ana"), number, "take")
    maria = as_user("maria")
    assert number in maria.get("/console/").get_data(as_text=True)
    act(maria, number, "resolve", text="Rezolvat de supervizor.", confirm="1")
    assert ticket(db, number).status == "resolved" and ticket(db, number).events[-1].actor == "supervisor:maria"


def test_overview_is_for_supervisors(app, db, clock, as_user):
    clock.now = bucharest(2026, 11, 2, 10, 0)
    [late, on_time] = voicemail(app, db, clock, n=2)
    act(as_user("ana"), on_time, "resolve", text="Rezolvat.", confirm="1")
    clock.now = bucharest(2026, 11, 10, 10, 0)
    assert as_user("ana").get("/console/overview").status_code == 403
    page = re.sub(r"\s+", " ", as_user("maria").get("/console/overview").get_data(as_text=True))
    assert "100% (1 / 1)" in page and late in page and on_time not in page.split('id="overdue"')[1]
    assert "02.11" in page


def test_recording_is_played_through_the_server_with_the_account_credentials(app_config, clock):
    from ivr import create_app

    with TwilioStandin(auth_token=AUTH_TOKEN) as twilio:
        app = create_app({**app_config, "TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_API_BASE_URL": twilio.base_url,
                          "LOCAL_TRIAL_TOKEN": False})
        db = app.extensions["ivr.db"]
        with db.session() as session, session.begin():
            add_user(session, "ana", PASSWORD, "operator", clock())
        sid = "RE" + "8" * 32
        audio = twilio.add_recording(sid)
        report = VoicemailReport("CA" + "8" * 32, "technical", "ro", "+40722123456", "+40722123456", sid,
                                 f"https://api.twilio.com/2010-04-01/Accounts/{twilio.account_sid}/Recordings/{sid}",
                                 1, "completed", "record action")
        with db.session() as session, session.begin():
            number = register_voicemail(session, app.extensions["ivr.hotline"], report, clock()).number
        client = app.test_client()
        sign_in(client, "ana")
        assert "<audio" in client.get(f"/console/tickets/{number}").get_data(as_text=True)
        reply = client.get(f"/console/tickets/{number}/recording")
        assert reply.status_code == 200 and reply.mimetype.startswith("audio/") and reply.data == audio
        assert reply.headers["X-Content-Type-Options"] == "nosniff" and reply.headers["X-Frame-Options"] == "DENY"
        assert AUTH_TOKEN not in client.get(f"/console/tickets/{number}").get_data(as_text=True)


def test_ivr_user_add(runner, monkeypatch, config_dir, database_url):
    monkeypatch.chdir(config_dir)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("IVR_DATABASE_URL", database_url)
    result = runner.invoke(main, ["user", "add", "elena", "--role", "supervisor"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "user elena added as supervisor" in result.output
    again = runner.invoke(main, ["user", "add", "elena"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert again.exit_code == 1 and 'already a user "elena"' in again.output
    short = runner.invoke(main, ["user", "add", "dan"], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output
