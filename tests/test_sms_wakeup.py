"""An idle SMS dispatcher is woken by the commit that queues an SMS (NOTIFY on PostgreSQL, the
doorbell and the file's data_version on SQLite), its slow poll catches a wakeup that was lost,
and a batch sent at once keeps each message's own outcome.

No test here times anything: a dispatcher polling once an hour that still sends within
seconds was woken; one that is never woken and still sends was saved by its poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select, text

from ivr.sms import wakeup
from ivr.db import Database
from ivr.sms.dispatcher import Dispatcher
from ivr.models import SmsMessage, TicketEvent
from ivr.settings import load_hotline
from ivr.sms.gateway import TwilioGateway
from ivr.tickets.registration import VoicemailReport, register_voicemail

from conftest import ROOT, FakeClock

AN_HOUR = 3600.0        # a poll that never comes round during a test
ARRIVAL_SECONDS = 20.0  # a bound for a woken dispatcher on a loaded machine, not a figure


@pytest.fixture
def database(upgraded_database):
    return upgraded_database


@pytest.fixture
def hotline():
    return load_hotline(ROOT / "routing.yaml", ROOT / "prompts")


@pytest.fixture
def now_clock() -> FakeClock:
    return FakeClock(datetime.now(timezone.utc))


@pytest.fixture
def gateway(twilio) -> TwilioGateway:
    return TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=5)


def register(database: Database, hotline, now: datetime, numbers: list[str], first: int = 0) -> list[int]:
    """A voicemail (ticket and SMS) for each number, each in its own transaction; the SMS ids."""
    ids = []
    for i, number in enumerate(numbers, start=first):
        report = VoicemailReport(f"CA{i:032d}", "technical", "ro", number, number, "RE" + "1" * 32,
                                 "https://api.twilio.com/rec", 20, "completed", "record action")
        with database.session() as session, session.begin():
            ids.append(register_voicemail(session, hotline, report, now).messages[0].id)
    return ids


def _wait_for(condition, seconds: float = ARRIVAL_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextmanager
def running(dispatcher: Dispatcher, poll_seconds: float) -> Iterator[None]:
    """``dispatcher.run_forever`` in a thread, past its first (empty) pass and waiting."""
    stop = threading.Event()
    waiting = threading.Event()
    wakeup_ = dispatcher.wakeup or wakeup.wakeup_for(dispatcher.database)

    class Signalling:
        def wait(self, seconds: float, stop_: threading.Event) -> bool:
            waiting.set()
            return wakeup_.wait(seconds, stop_)

        def close(self) -> None:
            wakeup_.close()

    dispatcher.wakeup = Signalling()
    loop = threading.Thread(target=dispatcher.run_forever, args=(stop, poll_seconds))
    loop.start()
    try:
        assert waiting.wait(ARRIVAL_SECONDS), "the dispatcher never went idle"
        yield
    finally:
        stop.set()
        loop.join(10)
        dispatcher.wakeup.close()
    assert not loop.is_alive(), "the dispatcher did not stop"


class NeverWakes:
    """A wakeup whose every signal is lost: only the poll is left."""

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        stop.wait(seconds)
        return False

    def close(self) -> None:
        pass


@pytest.mark.parametrize("doorbell", ["doorbell", "no doorbell"])
def test_a_queued_sms_wakes_a_dispatcher_that_polls_hourly(database, hotline, gateway, twilio, now_clock, monkeypatch,
                                                            doorbell):
    """With the doorbell silenced, what wakes it is what another process's commit would:
    PostgreSQL's NOTIFY, or SQLite's data_version."""
    if doorbell == "no doorbell":
        monkeypatch.setattr(wakeup.doorbell, "ring", lambda: None)
    dispatcher = Dispatcher(database, gateway, now_clock)
    with running(dispatcher, poll_seconds=AN_HOUR):
        register(database, hotline, now_clock(), ["+40722000001"])
        assert _wait_for(lambda: len(twilio.messages) == 1), "the SMS waited for the hourly poll"
        register(database, hotline, now_clock(), ["+40722000002"], first=1)  # woken again, not only once
        assert _wait_for(lambda: len(twilio.messages) == 2)
    assert [m["to"] for m in twilio.messages] == ["+40722000001", "+40722000002"]


def test_a_rolled_back_sms_rings_no_one(database, hotline, now_clock):
    """The doorbell rings after the commit of a queued SMS, never for one rolled back."""
    rings = wakeup.doorbell.rings
    with pytest.raises(RuntimeError):
        with database.session() as session, session.begin():
            report = VoicemailReport("CA" + "7" * 32, "technical", "ro", "+40722000009", "+40722000009",
                                     "RE" + "1" * 32, "https://api.twilio.com/rec", 20, "completed", "record action")
            register_voicemail(session, hotline, report, now_clock())
            raise RuntimeError("the request failed after queueing")
    assert wakeup.doorbell.rings == rings
    register(database, hotline, now_clock(), ["+40722000009"])
    assert wakeup.doorbell.rings == rings + 1


def test_a_lost_wakeup_is_caught_by_the_poll(database, hotline, gateway, twilio, now_clock):
    dispatcher = Dispatcher(database, gateway, now_clock, wakeup=NeverWakes())
    with running(dispatcher, poll_seconds=0.2):
        register(database, hotline, now_clock(), ["+40722000003"])
        assert _wait_for(lambda: len(twilio.messages) == 1), "the poll did not find the SMS"


@pytest.mark.parametrize("any_database_url", ["postgresql"], indirect=True)
def test_a_notification_lost_with_the_listening_connection_is_made_up_for(database, hotline, now_clock):
    """The listening connection is cut; an SMS queued meanwhile sends no notification it could
    receive, so the wait that makes the connection again wakes the dispatcher anyway."""
    listener = wakeup.PostgresWakeup(database)
    stop = threading.Event()
    try:
        with database.engine.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener._connection.info.backend_pid})
        register(database, hotline, now_clock(), ["+40722000004"])
        woken = [listener.wait(1.0, stop) for _ in range(3)]  # the first sees the broken connection
        assert True in woken
    finally:
        listener.close()


@pytest.mark.parametrize("any_database_url", ["sqlite"], indirect=True)
def test_sqlite_wakes_for_another_process_s_commit_while_the_outbox_has_work(database, hotline, now_clock, monkeypatch):
    """Commits seen through data_version alone (the doorbell silenced, as for another process's):
    one that queues an SMS wakes; others do not, as long as the outbox has nothing to send."""
    import sqlite3

    monkeypatch.setattr(wakeup.doorbell, "ring", lambda: None)
    other = sqlite3.connect(database.engine.url.database, isolation_level=None)
    watcher, stop = wakeup.SqliteWakeup(database.engine.url.database), threading.Event()
    try:
        assert watcher.wait(0.2, stop) is False  # nothing happened since it was made
        other.execute("CREATE TABLE scratch (x)")
        other.execute("INSERT INTO scratch VALUES (1)")
        assert watcher.wait(0.3, stop) is False  # commits, but no SMS to send
        [sms_id] = register(database, hotline, now_clock(), ["+40722000005"])
        assert watcher.wait(AN_HOUR, stop) is True
        other.execute("UPDATE sms_messages SET status = 'sent' WHERE id = ?", (sms_id,))
        other.execute("INSERT INTO scratch VALUES (2)")
        assert watcher.wait(0.3, stop) is False  # the outbox is empty again
    finally:
        watcher.close()
        other.close()


def test_a_dispatcher_that_waits_stops_when_told(database, gateway, now_clock):
    dispatcher = Dispatcher(database, gateway, now_clock)
    with running(dispatcher, poll_seconds=AN_HOUR):
        pass  # leaving the block stops it, and the join inside is bounded


def test_a_batch_keeps_each_message_s_outcome(database, hotline, gateway, twilio, now_clock):
    """Five SMS sent together: one taken, one refused for good, one to retry, one whose answer was
    lost (Twilio has it), one taken. Each gets its own status, history and retry."""
    numbers = [f"+4072200010{i}" for i in range(5)]
    ids = register(database, hotline, now_clock(), numbers)
    twilio.fail_next(status=400, code=21211, to=numbers[1])
    twilio.fail_next(status=503, to=numbers[2])
    twilio.accept_then_drop_next(to=numbers[3])
    twilio.answer_delay = 0.3  # answers overlap only if the batch is sent concurrently
    commits: list[object] = []
    count_commit = commits.append  # one bound method: event.remove needs the same object
    event.listen(database.engine, "commit", count_commit)
    try:
        dispatcher = Dispatcher(database, gateway, now_clock, batch=5)
        assert dispatcher.run_once() == 5
    finally:
        event.remove(database.engine, "commit", count_commit)
    assert len(commits) == 2  # the claim, and the five outcomes together
    assert twilio.max_in_flight > 1
    rows = {sms_id: _message(database, sms_id) for sms_id in ids}
    assert [rows[i].status for i in ids] == ["sent", "failed", "queued", "queued", "sent"]
    assert rows[ids[1]].error_code == 21211 and rows[ids[2]].error_code == 20503
    assert all(row.attempts == 1 for row in rows.values())
    assert rows[ids[0]].twilio_sid != rows[ids[4]].twilio_sid
    retry_at = rows[ids[2]].next_attempt_at - now_clock()
    assert timedelta(0) < retry_at <= timedelta(seconds=2)
    assert _sms_events(database) == {numbers[0]: ["sent"], numbers[1]: ["failed"], numbers[4]: ["sent"]}

    now_clock.now += timedelta(seconds=5)
    assert dispatcher.drain() == 2
    assert [_message(database, i).status for i in ids] == ["sent", "failed", "sent", "sent", "sent"]
    # The refused one never reached Twilio; the one whose answer was lost was found there, not resent.
    assert sorted(m["to"] for m in twilio.messages) == [n for n in numbers if n != numbers[1]]
    assert _sms_events(database) == {number: ["sent"] if number != numbers[1] else ["failed"] for number in numbers}
    dispatcher.close()


def _message(database: Database, sms_id: int) -> SmsMessage:
    with database.session() as session:
        return session.get(SmsMessage, sms_id)


def _sms_events(database: Database) -> dict[str, list[str]]:
    with database.session() as session:
        data = session.scalars(select(TicketEvent.data).where(TicketEvent.kind == "sms").order_by(TicketEvent.id)).all()
    events: dict[str, list[str]] = {}
    for item in data:
        events.setdefault(item["to"], []).append(item["status"])
    return events
