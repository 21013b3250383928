"""Alerts before a milestone is missed (routing.yaml ``alert:``): one SMS per milestone per
recipient through the outbox, however many scans run and however they race, never for a met
milestone or a closed ticket, and really sent to Twilio by the dispatcher; ``ivr alerts`` and
``ivr worker --once``. On SQLite and, with IVR_TEST_DATABASE_URL, PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from ivr import create_app
from ivr.tickets import casework
from ivr.alerts import AlertSchedule, alert_due, alert_milestones, run_alerts
from ivr.cli import _dispatcher, main
from ivr.db import Database
from ivr.models import SmsMessage, Ticket, TicketEvent, TicketMilestone, User
from ivr.sms.gateway import TwilioGateway
from ivr.tickets.registration import VoicemailReport, register_voicemail
from ivr.users import add_user

from conftest import bucharest
from console_client import PASSWORD

# maria has a phone, ion has none, ghost is nobody; and a number written as it is.
RECIPIENTS = '["user:maria", "user:ion", "+40744000222", "user:ghost"]'
CUSTOMER_RELATIONS_ALERT = "+40744000333"


def with_alerts(config_dir) -> None:
    """Edit the test's routing.yaml: technical promises to take a ticket within two business hours
    inside the legal 30 days, and alerts its supervisors an hour before each; customer relations
    (legal 30 days) alerts 40 days before, so that any of its open tickets is due an alert."""
    path = config_dir / "routing.yaml"
    source = path.read_text()
    edited = source.replace(
        "deadlines:\n", 'deadlines:\n  two_hours: {hours: 2, within: "09:00-21:00", days: mon-sun}\n', 1,
    ).replace(
        "    deadline: fault\n",
        "    deadline: {promised: {rule: two_hours, met_by: taken}, legal: complaint}\n"
        f'    alert: {{before: "1h", to: {RECIPIENTS}}}\n', 1,
    )
    customer_relations = "  customer_relations:\n    digit: 3\n"
    assert customer_relations in edited
    edited = edited.replace(
        customer_relations, customer_relations + f'    alert: {{before: "40d", to: ["{CUSTOMER_RELATIONS_ALERT}"]}}\n', 1,
    )
    assert edited.count("alert:") == 2
    path.write_text(edited)


@pytest.fixture
def config_dir(config_dir):
    """The shipped configuration with the alerts of ``with_alerts``."""
    with_alerts(config_dir)
    return config_dir


@pytest.fixture
def database_url(any_database_url):
    """SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    return any_database_url


@pytest.fixture
def people(db, clock):
    """Supervisor maria (phone +40722000111) and operator ion (no phone)."""
    with db.session() as session, session.begin():
        add_user(session, "maria", PASSWORD, "supervisor", clock(), phone="+40722000111")
        add_user(session, "ion", PASSWORD, "operator", clock())


CALLS = iter(range(1, 10_000))


def register(db, hotline, at: datetime, department: str = "technical") -> str:
    """A voicemail for ``department`` registered at ``at``; returns its ticket number."""
    report = VoicemailReport(f"CA{next(CALLS):032d}", department, "ro", "+40722123456", "+40722123456",
                             "RE" + "1" * 32, "https://api.twilio.com/rec", 20, "completed", "record action")
    with db.session() as session, session.begin():
        return register_voicemail(session, hotline, report, at).number


def alerts_sent(db, number: str | None = None) -> list[tuple[str, str, str]]:
    """(purpose, to, body) of the alert SMS in the outbox, of one ticket or all."""
    query = select(SmsMessage.purpose, SmsMessage.to, SmsMessage.body).where(SmsMessage.purpose.like("alert_%"))
    if number is not None:
        query = query.join(Ticket).where(Ticket.number == number)
    with db.session() as session:
        return sorted(tuple(row) for row in session.execute(query.order_by(SmsMessage.id)))


def alert_events(db, number: str) -> list[dict]:
    with db.session() as session:
        return list(session.scalars(
            select(TicketEvent.data).join(Ticket).where(Ticket.number == number, TicketEvent.kind == "alerted")
            .order_by(TicketEvent.id)
        ))


def scan(db, hotline, at: datetime):
    return run_alerts(db, hotline, at)


# -- the rule ---------------------------------------------------------------------------

DUE = datetime(2026, 11, 17, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("now, met, alerted, expected", [
    (DUE - timedelta(minutes=61), None, None, False),   # before the window
    (DUE - timedelta(minutes=60), None, None, True),    # the window opens
    (DUE - timedelta(minutes=1), None, None, True),
    (DUE - timedelta(minutes=30), DUE - timedelta(hours=3), None, False),   # met
    (DUE - timedelta(minutes=30), None, DUE - timedelta(minutes=50), False),  # already alerted
    (DUE, None, None, False),                           # missed: too late to warn
])
def test_a_milestone_is_due_an_alert_once_within_the_lead_before_it_falls_due(now, met, alerted, expected):
    assert alert_due(DUE, met, alerted, timedelta(hours=1), now) is expected


# -- the service ------------------------------------------------------------------------

def test_each_recipient_gets_one_sms_per_milestone_however_often_the_scan_runs(app, db, hotline, people, clock):
    number = register(db, hotline, bucharest(2026, 11, 17, 10, 0))  # promised 12:00, legal 17.12.2026
    assert scan(db, hotline, bucharest(2026, 11, 17, 10, 59)).milestones == 0
    assert alerts_sent(db) == []
    done = scan(db, hotline, bucharest(2026, 11, 17, 11, 0))
    assert (done.milestones, done.sms, done.unreachable) == (1, 2, 2)
    body = f'ProNET Solutii IT: reclamatia {number} (Departamentul Tehnic): termen promis expira la 17.11.2026 12:00.'
    assert alerts_sent(db, number) == [("alert_promised#0", "+40722000111", body), ("alert_promised#2", "+40744000222", body)]
    for minute in (1, 30, 59):
        assert scan(db, hotline, bucharest(2026, 11, 17, 11, minute)).sms == 0
    # A restart: a new connection knows what was alerted.
    restarted = Database.connect(db.engine.url.render_as_string(hide_password=False))
    assert run_alerts(restarted, hotline, bucharest(2026, 11, 17, 11, 45)).sms == 0
    restarted.engine.dispose()
    assert len(alerts_sent(db)) == 2
    [data] = alert_events(db, number)
    assert data["milestone"] == "promised" and data["due"] == "2026-11-17T10:00:00+00:00"
    assert data["told"] == [{"target": "user:maria", "number": "+40722000111"},
                            {"target": "+40744000222", "number": "+40744000222"}]
    assert data["untold"] == [{"target": "user:ion", "problem": "no_phone"}, {"target": "user:ghost", "problem": "not_a_user"}]


def test_a_day_milestone_is_alerted_with_its_date(app, db, hotline, people, clock):
    number = register(db, hotline, bucharest(2026, 11, 17, 10, 0))
    scan(db, hotline, bucharest(2026, 11, 17, 11, 0))
    # Legal: 30 calendar days, the whole of 17 December; one hour before its end.
    assert scan(db, hotline, bucharest(2026, 12, 17, 22, 59)).milestones == 0
    assert scan(db, hotline, bucharest(2026, 12, 17, 23, 0)).milestones == 1
    legal = [body for purpose, _, body in alerts_sent(db, number) if purpose.startswith("alert_legal")]
    assert legal == [f'ProNET Solutii IT: reclamatia {number} (Departamentul Tehnic): termen legal expira la 17.12.2026.'] * 2


def test_no_alert_for_a_met_milestone_a_closed_ticket_or_a_department_without_alert(app, db, hotline, people, clock):
    taken = register(db, hotline, bucharest(2026, 11, 17, 10, 0))
    closed = register(db, hotline, bucharest(2026, 11, 17, 10, 0))
    payments = register(db, hotline, bucharest(2026, 11, 17, 10, 0), department="payments")
    with db.session() as session, session.begin():
        maria = session.scalar(select(User).where(User.name == "maria"))
        for number in (taken, closed):
            casework.take(session, session.scalar(select(Ticket).where(Ticket.number == number)), maria, clock())
        closing = session.scalar(select(Ticket).where(Ticket.number == closed))
        casework.reject(session, hotline, closing, maria, "Nu este o reclamatie.", clock())
    assert scan(db, hotline, bucharest(2026, 11, 17, 11, 30)).milestones == 0
    assert scan(db, hotline, bucharest(2026, 12, 17, 23, 30)).milestones == 1   # the taken ticket's legal term
    assert [p for p, _, _ in alerts_sent(db, taken)] == ["alert_legal#0", "alert_legal#2"]
    assert alerts_sent(db, closed) == [] and alerts_sent(db, payments) == []


def test_a_lost_mark_never_sends_a_second_sms(app, db, hotline, people, clock):
    """The outbox's unique (ticket, purpose) is the backstop, e.g. after a restored backup."""
    number = register(db, hotline, bucharest(2026, 11, 17, 10, 0))
    scan(db, hotline, bucharest(2026, 11, 17, 11, 0))
    with db.session() as session, session.begin():
        session.execute(update(TicketMilestone).values(alerted_at=None))
    assert scan(db, hotline, bucharest(2026, 11, 17, 11, 5)).sms == 0
    assert len(alerts_sent(db, number)) == 2


def test_a_scan_racing_one_that_holds_the_ticket_does_not_alert_twice(app, db, hotline, people, clock):
    number = register(db, hotline, bucharest(2026, 11, 17, 10, 0))
    at = bucharest(2026, 11, 17, 11, 0)
    results = []
    with db.session() as session, session.begin():
        first = alert_milestones(session, hotline, at)
        session.flush()
        second = threading.Thread(target=lambda: results.append(run_alerts(db, hotline, at)))
        second.start()
        second.join(1.0)
        if session.get_bind().dialect.name == "postgresql":
            # The ticket is locked: the other worker skips it instead of waiting.
            assert not second.is_alive() and results[0].tickets == 0
        else:
            assert second.is_alive()  # SQLite: it waits for our write lock
    second.join(10)
    assert not second.is_alive() and first.sms == 2 and results[0].sms == 0
    assert len(alerts_sent(db, number)) == 2 and len(alert_events(db, number)) == 1
    assert scan(db, hotline, bucharest(2026, 11, 17, 11, 1)).sms == 0  # the skipped ticket: nothing left


def test_workers_scanning_at_once_alert_each_milestone_once(app, db, hotline, people, clock):
    numbers = [register(db, hotline, bucharest(2026, 11, 17, 10, 0)) for _ in range(12)]
    at = bucharest(2026, 11, 17, 11, 0)
    start = threading.Barrier(4)
    errors = []

    def worker():
        start.wait()
        try:
            run_alerts(db, hotline, at)
        except Exception as exc:  # noqa: BLE001 - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(alerts_sent(db)) == 24
    assert all(len(alert_events(db, n)) == 1 for n in numbers)


# -- delivery -----------------------------------------------------------------------------

@pytest.fixture
def twilio_app(app_config, twilio):
    """The app sending through the Twilio stand-in, its clock at 11:00, one hour before a 12:00 promise."""
    gateway = TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=5)
    app = create_app({**app_config, "SMS_GATEWAY": gateway})
    yield app
    app.extensions["ivr.call_events"].flush(5)
    app.extensions["ivr.db"].engine.dispose()


def test_the_dispatcher_loop_of_serve_and_worker_sends_the_alerts_to_twilio(twilio_app, twilio, clock):
    db, hotline = twilio_app.extensions["ivr.db"], twilio_app.extensions["ivr.hotline"]
    with db.session() as session, session.begin():
        add_user(session, "maria", PASSWORD, "supervisor", clock(), phone="+40722000111")
    number = register(db, hotline, clock())
    clock.now = bucharest(2026, 11, 17, 11, 0)
    stop = threading.Event()
    loop = threading.Thread(target=_dispatcher(twilio_app).run_forever, args=(stop, 0.05))
    loop.start()
    try:
        deadline = time.monotonic() + 10
        while len(twilio.messages) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(10)
    alerts = sorted((m["to"], m["body"]) for m in twilio.messages if "expira la" in m["body"])
    body = f'ProNET Solutii IT: reclamatia {number} (Departamentul Tehnic): termen promis expira la 17.11.2026 12:00.'
    assert alerts == [("+40722000111", body), ("+40744000222", body)]
    assert len(twilio.messages) == 3  # and the customer's registration SMS, once each
    with db.session() as session:
        statuses = session.scalars(select(SmsMessage.status).where(SmsMessage.purpose.like("alert_%"))).all()
    assert statuses == ["sent", "sent"]


def test_the_loop_scans_at_once_then_once_a_minute(app, db, hotline, people, clock):
    schedule = AlertSchedule(db, hotline, clock)
    register(db, hotline, clock())
    clock.now = bucharest(2026, 11, 17, 11, 0)
    assert schedule().sms == 2
    register(db, hotline, bucharest(2026, 11, 17, 10, 0))
    assert schedule() is None            # within the minute: not yet
    schedule._next = 0.0                 # the minute has passed
    assert schedule().sms == 2


def test_ivr_alerts_queues_and_worker_once_sends(live_env, app, db, hotline, twilio, runner):
    # Registered a minute ago (the commands run on the real clock): legal in 30 days, inside 40 days.
    number = register(db, hotline, datetime.now(timezone.utc) - timedelta(minutes=1), department="customer_relations")
    result = runner.invoke(main, ["alerts"])
    assert result.exit_code == 0, result.output
    assert "1 milestone alert(s), 1 SMS queued" in result.output
    assert [(p, to) for p, to, _ in alerts_sent(db, number)] == [("alert_resolve#0", CUSTOMER_RELATIONS_ALERT)]
    result = runner.invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "0 milestone alert(s)" in result.output and "2 SMS handled" in result.output
    assert sorted(m["to"] for m in twilio.messages) == ["+40722123456", CUSTOMER_RELATIONS_ALERT]


def test_worker_once_alerts_before_sending(live_env, app, db, hotline, twilio, runner):
    register(db, hotline, datetime.now(timezone.utc) - timedelta(minutes=1), department="customer_relations")
    result = runner.invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "1 milestone alert(s), 1 SMS queued" in result.output and "2 SMS handled" in result.output
    assert CUSTOMER_RELATIONS_ALERT in [m["to"] for m in twilio.messages]
