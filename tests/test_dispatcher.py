"""The SMS dispatcher against a local stand-in of Twilio's Messages API (real twilio.rest.Client,
real HTTP): each SMS leaves once, passing failures are retried quickly, permanent ones are not."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from ivr.db import Database
from ivr.sms.dispatcher import BACKOFF_CAP, Dispatcher, backoff
from ivr.models import SmsMessage, TicketEvent
from ivr.sms.outbox import record_status_callback
from ivr.settings import load_hotline
from ivr.sms.gateway import TwilioGateway
from ivr.tickets.callers import MessageReport, attach_message
from ivr.tickets.registration import VoicemailReport, register_voicemail

from conftest import ROOT, FakeClock


@pytest.fixture
def database(upgraded_database):
    """An upgraded database: SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    return upgraded_database


@pytest.fixture
def hotline():
    """The shipped configuration."""
    return load_hotline(ROOT / "tests" / "routing.yaml", ROOT / "prompts")


@pytest.fixture
def now_clock() -> FakeClock:
    """A clock at the real time (the stand-in stamps messages with it), moved by hand."""
    return FakeClock(datetime.now(timezone.utc))


@pytest.fixture
def dispatcher(database, twilio, now_clock) -> Dispatcher:
    gateway = TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=2)
    return Dispatcher(database, gateway, now_clock, status_callback="https://ivr.example.ro/sms/status")


def register(database, hotline, now, n: int = 1, sms_to: str = "+40722123456") -> list[int]:
    """Register ``n`` voicemails; returns their SMS ids."""
    ids = []
    for i in range(n):
        report = VoicemailReport(f"CA{i:032d}", "technical", "ro", sms_to, sms_to, "RE" + "1" * 32,
                                 "https://api.twilio.com/rec", 20, "completed", "record action")
        with database.session() as session, session.begin():
            ids.append(register_voicemail(session, hotline, report, now).messages[0].id)
    return ids


def message(database, sms_id: int) -> SmsMessage:
    with database.session() as session:
        return session.get(SmsMessage, sms_id)


def test_backoff_is_seconds_and_capped():
    assert backoff(1) <= timedelta(seconds=1.1)
    assert timedelta(seconds=3.5) <= backoff(3) <= timedelta(seconds=4.5)
    assert backoff(50) <= timedelta(seconds=BACKOFF_CAP * 1.1)


def test_queued_sms_leaves_once(database, hotline, dispatcher, twilio, now_clock):
    [sms_id] = register(database, hotline, now_clock())
    assert dispatcher.drain() == 1
    assert dispatcher.drain() == 0
    [sent] = twilio.messages
    assert sent["to"] == "+40722123456" and sent["from"] == "+40312345678"
    assert sent["status_callback"] == "https://ivr.example.ro/sms/status"
    assert sent["body"].startswith("ProNET Solutii IT: reclamatia dvs. a fost inregistrata cu nr. RC-")
    row = message(database, sms_id)
    assert row.status == "sent" and row.twilio_sid == sent["sid"] and row.attempts == 1


@pytest.mark.parametrize("fault", ["500", "503", "429", "drop"])
def test_passing_failure_is_retried_within_seconds(database, hotline, dispatcher, twilio, now_clock, fault):
    [sms_id] = register(database, hotline, now_clock())
    twilio.drop_next() if fault == "drop" else twilio.fail_next(status=int(fault))
    dispatcher.drain()
    row = message(database, sms_id)
    assert row.status == "queued" and row.attempts == 1 and twilio.messages == []
    assert row.next_attempt_at - now_clock() <= timedelta(seconds=2)
    assert dispatcher.drain() == 0  # not due yet
    now_clock.now += timedelta(seconds=2)
    assert dispatcher.drain() == 1
    assert message(database, sms_id).status == "sent" and len(twilio.messages) == 1


@pytest.mark.parametrize("code", [21211, 21610, 21614])
def test_permanent_error_fails_the_sms_with_its_code_and_is_not_retried(database, hotline, dispatcher, twilio, now_clock, code):
    [sms_id] = register(database, hotline, now_clock())
    twilio.fail_next(status=400, code=code)
    dispatcher.drain()
    now_clock.now += timedelta(hours=1)
    assert dispatcher.drain() == 0
    row = message(database, sms_id)
    assert row.status == "failed" and row.error_code == code and row.attempts == 1
    with database.session() as session:
        data = session.scalars(select(TicketEvent.data).where(TicketEvent.kind == "sms")).all()
    assert [(d["status"], d["error"]) for d in data] == [("failed", code)]


def test_queue_survives_a_restart(database, hotline, twilio, now_clock):
    [sms_id] = register(database, hotline, now_clock())
    twilio.fail_next(status=500)
    gateway = TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=2)
    Dispatcher(database, gateway, now_clock).drain()
    now_clock.now += timedelta(seconds=5)
    restarted = Dispatcher(Database.connect(str(database.engine.url.render_as_string(hide_password=False))), gateway, now_clock)
    assert restarted.drain() == 1
    assert message(database, sms_id).status == "sent" and len(twilio.messages) == 1


def test_accepted_but_unanswered_is_not_sent_twice(database, hotline, dispatcher, twilio, now_clock):
    """Twilio took the SMS but the answer was lost: the next attempt finds it instead of resending."""
    [sms_id] = register(database, hotline, now_clock())
    twilio.accept_then_drop_next()
    dispatcher.drain()
    assert len(twilio.messages) == 1 and message(database, sms_id).status == "queued"
    now_clock.now += timedelta(seconds=5)
    dispatcher.drain()
    assert len(twilio.messages) == 1


def ticket_of(database, sms_id: int) -> str:
    with database.session() as session:
        return session.get(SmsMessage, sms_id).ticket.number


def add_message(database, hotline, now, ticket_number: str, call: str) -> int:
    """A message a caller added to the ticket by phone; the id of its acknowledging SMS, the
    same text for every call."""
    report = MessageReport("CA" + call * 32, ticket_number, "+40722123456", None, None, 5, "completed")
    with database.session() as session, session.begin():
        attach_message(session, hotline, report, now)
    with database.session() as session:
        return session.scalar(select(SmsMessage.id).where(SmsMessage.purpose == f"message_added#CA{call * 32}"))


def test_a_retried_sms_is_not_taken_for_its_twin_already_sent(database, hotline, dispatcher, twilio, now_clock):
    """Two calls add a message to one complaint: two SMS with the same text. The second's first
    try fails; its retry asks Twilio whether it left, and must not take the first for its own
    (it then never left, and recording one Twilio message twice failed every later batch)."""
    number = ticket_of(database, register(database, hotline, now_clock())[0])
    first = add_message(database, hotline, now_clock(), number, "b")
    dispatcher.drain()
    now_clock.now += timedelta(seconds=20)
    second = add_message(database, hotline, now_clock(), number, "c")
    twilio.fail_next(status=503)
    dispatcher.drain()
    now_clock.now += timedelta(seconds=5)
    dispatcher.drain()
    rows = [message(database, sms_id) for sms_id in (first, second)]
    assert [r.status for r in rows] == ["sent", "sent"] and rows[0].twilio_sid != rows[1].twilio_sid
    assert len(twilio.messages) == 3 and {m["sid"] for m in twilio.messages} >= {r.twilio_sid for r in rows}


def test_twins_found_as_one_message_in_a_batch_keep_the_batch_recorded(database, hotline, dispatcher, twilio, now_clock):
    """Two retried SMS with the same text whose lookups find the same Twilio message: one keeps
    it, the other is looked for again past it, and the rest of the batch is recorded."""
    number = ticket_of(database, register(database, hotline, now_clock())[0])
    dispatcher.drain()
    twins = [add_message(database, hotline, now_clock(), number, call) for call in "bc"]
    twilio.fail_next(status=503)
    dispatcher.drain()  # the first twin meets the 503, the second leaves
    [bystander] = register(database, hotline, now_clock(), sms_to="+40733111222")
    with database.session() as session, session.begin():  # both twins due again, as after a lost answer
        for sms_id in twins:
            row = session.get(SmsMessage, sms_id)
            row.status, row.twilio_sid, row.attempts, row.next_attempt_at = "queued", None, 1, now_clock()
    now_clock.now += timedelta(seconds=5)
    dispatcher.drain()
    assert message(database, bystander).status == "sent"
    sids = [message(database, sms_id).twilio_sid for sms_id in twins]
    assert len([s for s in sids if s]) >= 1 and len(set(filter(None, sids))) == len([s for s in sids if s])
    now_clock.now += timedelta(minutes=5)
    dispatcher.drain()
    rows = [message(database, sms_id) for sms_id in twins]
    assert [r.status for r in rows] == ["sent", "sent"] and rows[0].twilio_sid != rows[1].twilio_sid


def test_dispatcher_that_died_mid_send_is_taken_over_without_resending(database, hotline, dispatcher, twilio, now_clock):
    [sms_id] = register(database, hotline, now_clock())
    claims = dispatcher._claim()  # a dispatcher claims the SMS, sends it, and dies before writing it down
    dispatcher.gateway.send(claims[0].sms)
    assert dispatcher.drain() == 0  # its lease still holds
    now_clock.now += dispatcher.lease + timedelta(seconds=1)
    assert dispatcher.drain() == 1
    row = message(database, sms_id)
    assert row.status == "sent" and row.twilio_sid == twilio.messages[0]["sid"] and len(twilio.messages) == 1


@pytest.mark.slow
def test_dispatchers_running_at_once_send_each_sms_once(database, hotline, twilio, now_clock):
    ids = register(database, hotline, now_clock(), n=30)
    gateway = TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=5)
    workers = [Dispatcher(database, gateway, now_clock, batch=3) for _ in range(4)]
    threads = [threading.Thread(target=w.drain) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(twilio.messages) == 30
    assert len({m["body"] for m in twilio.messages}) == 30
    assert all(message(database, i).status == "sent" for i in ids)


def test_status_callbacks_are_recorded_and_never_go_backwards(database, hotline, dispatcher, twilio, now_clock):
    [sms_id] = register(database, hotline, now_clock())
    dispatcher.drain()
    sid = twilio.messages[0]["sid"]
    with database.session() as session, session.begin():
        record_status_callback(session, sid, "delivered", None, now_clock())
    with database.session() as session, session.begin():
        record_status_callback(session, sid, "sent", None, now_clock())  # late, out of order
    for repeated in ("delivered", "undelivered"):  # again, then a contradiction after the end
        with database.session() as session, session.begin():
            record_status_callback(session, sid, repeated, 30003, now_clock())
    assert message(database, sms_id).status == "delivered" and message(database, sms_id).error_code is None
    with database.session() as session:
        statuses = session.scalars(select(TicketEvent.data).where(TicketEvent.kind == "sms_status")).all()
    assert [data["status"] for data in statuses] == ["delivered"]  # one history line, not one per callback


def test_undelivered_keeps_twilios_error_code(database, hotline, dispatcher, twilio, now_clock):
    [sms_id] = register(database, hotline, now_clock())
    dispatcher.drain()
    with database.session() as session, session.begin():
        record_status_callback(session, twilio.messages[0]["sid"], "undelivered", 30003, now_clock())
    row = message(database, sms_id)
    assert row.status == "undelivered" and row.error_code == 30003


def test_messaging_service_is_used_when_configured(database, hotline, dispatcher, twilio, now_clock, tmp_path):
    from conftest import edit
    import shutil

    shutil.copy(ROOT / "tests" / "routing.yaml", tmp_path / "routing.yaml")
    edit(tmp_path / "routing.yaml", "  menu_attempts: 3", "  messaging_service_sid: MG" + "a" * 32 + "\n  menu_attempts: 3")
    configured = load_hotline(tmp_path / "routing.yaml", ROOT / "prompts")
    register(database, configured, now_clock())
    dispatcher.drain()
    assert twilio.messages[0]["messaging_service_sid"] == "MG" + "a" * 32
