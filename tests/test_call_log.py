"""Every call on record: the call log written by the voice webhooks and closed by Twilio's
status callback (or by age), the operator who answered, and complaints taken live."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from ivr.calls.complaints import mark_no_complaint, next_complaint, register_live, tickets_of_call
from ivr.calls.log import close_stale
from ivr.errors import TicketError
from ivr.models import CallRecord, SmsMessage, Ticket, User
from ivr.states import CallOutcome, TicketSource, TicketStatus
from ivr.users import add_user

from conftest import CALL_SID, bucharest, operator_answers

OPERATOR_PHONE = "+40215894141"  # technical's operator in the shipped routing.yaml
LEG_SID = "CA" + "9" * 32


@pytest.fixture
def database_url(any_database_url):
    """These tests run on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    return any_database_url


@pytest.fixture
def ana(db, clock) -> int:
    """An operator, ana, who answers the hotline at technical's phone; her user id."""
    with db.session() as session, session.begin():
        user = add_user(session, "ana", "correct horse", "operator", clock.now, phone=OPERATOR_PHONE)
        session.flush()
        return user.id


def call_row(app, call_sid: str = CALL_SID) -> CallRecord:
    assert app.extensions["ivr.call_events"].flush()
    with app.extensions["ivr.db"].session() as session:
        row = session.scalars(select(CallRecord).where(CallRecord.call_sid == call_sid)).one()
        row.answered_user  # load while the session is open
        return row


def status(twilio_post, call_status: str, duration: str = "75", **extra):
    return twilio_post("/voice/status", CallStatus=call_status, CallDuration=duration, **extra)


def test_an_answered_call_records_who_picked_up_and_after_how_long(app, place_call, ana, clock):
    clock.now = bucharest(2026, 11, 17, 10, 0)
    _, log = place_call(keys=["1"], dials=["answered"])
    row = call_row(app, log.call_sid)
    assert (row.caller, row.language, row.department) == ("+40722123456", "ro", "technical")
    assert row.offered_at is not None and row.answered_at is not None and row.seconds_to_answer == 0
    assert (row.answered_by, row.answered_user_id) == (OPERATOR_PHONE, ana)
    assert (row.outcome, row.duration_seconds, row.twilio_status) == (CallOutcome.ANSWERED, 60, "completed")


def test_a_voicemail_call_is_a_voicemail(app, place_call, clock):
    clock.now = bucharest(2026, 11, 17, 23, 0)  # after hours
    _, log = place_call(keys=["1"], records=[30])
    assert call_row(app, log.call_sid).outcome == CallOutcome.VOICEMAIL


def test_hanging_up_in_the_menu_is_abandoned_in_the_menu(app, twilio_post):
    twilio_post("/voice/incoming")
    status(twilio_post, "completed")
    row = call_row(app)
    assert (row.outcome, row.department, row.offered_at) == (CallOutcome.ABANDONED_MENU, None, None)


def test_hanging_up_while_the_phones_ring_is_abandoned_while_ringing(app, twilio_post):
    twilio_post("/voice/incoming")
    assert "<Dial" in twilio_post("/voice/menu?lang=ro&attempt=1", Digits="1").get_data(as_text=True)
    status(twilio_post, "completed")
    row = call_row(app)
    assert (row.outcome, row.department) == (CallOutcome.ABANDONED_RINGING, "technical")


@pytest.mark.parametrize("hour, dials", [(23, []), (10, ["no-answer"])], ids=["after hours", "operators did not answer"])
def test_hanging_up_at_the_beep_is_abandoned_at_the_voicemail(app, place_call, clock, hour, dials):
    """A caller who reached the voicemail and left nothing did not hang up in the menu, nor
    while the phones rang (even when they rang first): the figures tell staffing from the rest."""
    clock.now = bucharest(2026, 11, 17, hour, 0)
    _, log = place_call(keys=["1"], dials=dials, records=[0, 0])
    row = call_row(app, log.call_sid)
    assert (row.outcome, row.department, row.reached_voicemail) == (CallOutcome.ABANDONED_VOICEMAIL, "technical", True)


def test_a_message_added_to_a_complaint_is_a_voicemail(app, place_call, clock):
    clock.now = bucharest(2026, 11, 17, 23, 0)
    place_call(keys=["1"], records=[30])
    caller, log = place_call(keys=["1"], records=[20])  # the complaint's state, then 1: a message for it
    assert "Mesajul a fost adăugat la reclamația 1." in caller.heard
    assert call_row(app, log.call_sid).outcome == CallOutcome.VOICEMAIL
    _, log = place_call(keys=["1"], records=[0, 0])
    assert call_row(app, log.call_sid).outcome == CallOutcome.ABANDONED_VOICEMAIL


def test_a_failed_webhook_that_kept_the_caller_from_everything_is_an_error(app_config, clock):
    from ivr import create_app
    from ivr.softphone import Call, ScriptedCaller, WsgiTransport
    from conftest import AUTH_TOKEN, BASE_URL

    failures = ["clock source unavailable"]

    def flaky_clock():  # the first webhook fails; the caller hears the apology, then stays silent
        if failures:
            raise RuntimeError(failures.pop())
        return clock()

    app_config["CLOCK"] = flaky_clock
    app = create_app(app_config)
    ui = ScriptedCaller([], [], [0, 0])
    call = Call(BASE_URL, AUTH_TOKEN, WsgiTransport(app), ui)
    call.run()
    assert "Ne cerem scuze, a apărut o problemă tehnică." in ui.transcript
    assert call_row(app, call.log.call_sid).outcome == CallOutcome.ERROR


@pytest.mark.parametrize("call_status, closes", [
    ("queued", False), ("initiated", False), ("ringing", False), ("in-progress", False),
    ("completed", True), ("busy", True), ("failed", True), ("no-answer", True), ("canceled", True),
])
def test_every_call_status_twilio_sends(app, twilio_post, call_status, closes):
    assert status(twilio_post, call_status).status_code == 204
    row = call_row(app)  # an unknown CallSid gets its row
    assert (row.ended_at is not None) is closes
    assert row.caller == "+40722123456"
    if call_status == "failed":
        assert row.outcome == CallOutcome.ERROR


def test_repeated_and_late_statuses_change_nothing(app, twilio_post, clock):
    status(twilio_post, "completed", "75")
    ended = call_row(app).ended_at
    clock.now += timedelta(minutes=5)
    status(twilio_post, "completed", "99")
    status(twilio_post, "ringing")
    row = call_row(app)
    assert (row.ended_at, row.duration_seconds, row.outcome) == (ended, 75, CallOutcome.ABANDONED_MENU)


def test_status_with_an_odd_value_is_ignored_not_an_error(app, twilio_post):
    assert status(twilio_post, "²").status_code == 204
    assert status(twilio_post, "completed", "²").status_code == 204
    assert call_row(app).duration_seconds is None


def test_a_call_whose_status_never_comes_is_closed_by_age(app, twilio_post, db, clock):
    twilio_post("/voice/incoming")
    call_row(app)
    with db.session() as session, session.begin():
        assert close_stale(session, clock.now + timedelta(hours=1)) == 0
        assert close_stale(session, clock.now + timedelta(hours=7)) == 1
    assert call_row(app).outcome == CallOutcome.ABANDONED_MENU


def test_the_whisper_identifies_a_client_identity_too(app, twilio_post, db, clock):
    with db.session() as session, session.begin():
        add_user(session, "mihai", "correct horse", "operator", clock.now)
    operator_answers(twilio_post, "technical", LEG_SID, CALL_SID, "client:mihai")
    row = call_row(app)
    assert row.answered_by == "client:mihai" and row.answered_user.name == "mihai"


def test_the_dial_action_alone_marks_the_call_answered(app, twilio_post, clock):
    twilio_post("/voice/menu?lang=ro&attempt=1", Digits="1")
    clock.now += timedelta(minutes=2)
    twilio_post("/voice/dial-status/technical?lang=ro", DialCallStatus="completed", DialCallDuration="90",
                DialCallSid=LEG_SID)
    status(twilio_post, "completed")
    row = call_row(app)
    assert row.outcome == CallOutcome.ANSWERED and row.seconds_to_answer == 30 and row.answered_by is None


def test_the_first_operator_to_answer_keeps_the_call(app, twilio_post, ana):
    operator_answers(twilio_post, "technical", LEG_SID, CALL_SID, OPERATOR_PHONE)
    operator_answers(twilio_post, "technical", "CA" + "8" * 32, CALL_SID, "+40215894142")
    assert call_row(app).answered_by == OPERATOR_PHONE


def _operators(config_dir, operators: str, extra: str = "") -> None:
    routing = config_dir / "routing.yaml"
    text = routing.read_text().replace('operators: ["+40215894141"]', f"operators: {operators}", 1)
    routing.write_text(text.replace("  dial_timeout:", f"{extra}  dial_timeout:", 1) if extra else text)


def test_operators_named_as_users_are_dialled_at_their_phone(app_config, config_dir, twilio_post, ana):
    _operators(config_dir, '["user:ana", "user:nobody", "+40215894142"]')
    from ivr import create_app

    app_config["OPERATOR_PHONES_SECONDS"] = 0
    client = create_app(app_config).test_client()
    from conftest import BASE_URL, sign

    data = {"CallSid": CALL_SID, "From": "+40722123456", "Digits": "1"}
    path = "/voice/menu?lang=ro&attempt=1"
    body = client.post(path, data=data, headers=sign(BASE_URL + path, data)).get_data(as_text=True)
    assert f">{OPERATOR_PHONE}</Number>" in body and ">+40215894142</Number>" in body
    assert "nobody" not in body


def test_a_department_whose_users_have_no_phone_takes_a_voicemail(app_config, config_dir, twilio_post):
    _operators(config_dir, '["user:nobody"]')
    from ivr import create_app
    from conftest import BASE_URL, sign

    client = create_app(app_config).test_client()
    data = {"CallSid": CALL_SID, "From": "+40722123456", "Digits": "1"}
    path = "/voice/menu?lang=ro&attempt=1"
    body = client.post(path, data=data, headers=sign(BASE_URL + path, data)).get_data(as_text=True)
    assert "<Dial" not in body and "<Record" in body


def test_operator_conversations_are_recorded_when_the_hotline_says_so(app_config, config_dir, ana, clock):
    _operators(config_dir, '["user:ana"]', extra="  record_operator_calls: true\n")
    from ivr import create_app
    from ivr.softphone import Call, ScriptedCaller, WsgiTransport
    from conftest import AUTH_TOKEN, BASE_URL

    app = create_app(app_config)
    call = Call(BASE_URL, AUTH_TOKEN, WsgiTransport(app), ScriptedCaller(["1"], ["answered"]))
    dial = next(data for url, data, _ in call.run().requests if "dial-status" in url)
    row = call_row(app, call.log.call_sid)
    assert row.recording_sid and row.recording_url.startswith("https://api.twilio.com/")
    assert dial["DialCallStatus"] == "completed" and row.outcome == CallOutcome.ANSWERED


# -- complaints taken live ------------------------------------------------------------

@pytest.fixture
def answered_call(app, twilio_post, ana) -> CallRecord:
    """A call to technical, answered by ana, still going on."""
    twilio_post("/voice/incoming")
    twilio_post("/voice/menu?lang=ro&attempt=1", Digits="1")
    operator_answers(twilio_post, "technical", LEG_SID, CALL_SID, OPERATOR_PHONE)
    return call_row(app)


def register(app, db, call_sid: str, clock, complaint: int = 1, summary: str = "Internetul cade seara.") -> str:
    with db.session() as session, session.begin():
        call = session.scalars(select(CallRecord).where(CallRecord.call_sid == call_sid)).one()
        operator = session.scalars(select(User).where(User.name == "ana")).one()
        ticket = register_live(
            session, app.extensions["ivr.hotline"], call, operator, department="technical", summary=summary,
            client_code="C-1042", sms_to=call.caller, complaint=complaint, now=clock.now,
        )
        return ticket.number


def test_a_complaint_taken_live_gets_a_number_a_deadline_and_an_sms(app, db, answered_call, clock):
    number = register(app, db, answered_call.call_sid, clock)
    with db.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert (ticket.number, ticket.source, ticket.status) == (number, TicketSource.OPERATOR, TicketStatus.IN_PROGRESS)
        assert ticket.assignee.name == "ana" and ticket.client_code == "C-1042"
        assert ticket.deadline_on is not None and ticket.caller == "+40722123456"
        assert [e.detail for e in ticket.events] == ["Internetul cade seara."]
        [sms] = session.scalars(select(SmsMessage)).all()
        assert number in sms.body and sms.to == "+40722123456"


def test_the_same_form_posted_twice_makes_one_ticket_and_a_second_complaint_another(app, db, answered_call, clock):
    first = register(app, db, answered_call.call_sid, clock)
    assert register(app, db, answered_call.call_sid, clock) == first
    with db.session() as session:
        assert next_complaint(session, answered_call.call_sid) == 2
    second = register(app, db, answered_call.call_sid, clock, complaint=2, summary="Și factura e greșită.")
    assert second != first
    with db.session() as session:
        assert [t.number for t in tickets_of_call(session, answered_call.call_sid)] == [first, second]
        assert len(session.scalars(select(SmsMessage)).all()) == 2


def test_an_empty_summary_is_refused(app, db, answered_call, clock):
    with pytest.raises(TicketError):
        register(app, db, answered_call.call_sid, clock, summary="  \x00 ")


def test_the_conversation_recording_reaches_a_ticket_registered_before_it(app, db, answered_call, clock, twilio_post):
    register(app, db, answered_call.call_sid, clock)
    sid = "RE" + "d" * 32
    url = f"https://api.twilio.com/2010-04-01/Accounts/AC00/Recordings/{sid}"
    twilio_post("/voice/conversation-recording", RecordingSid=sid, RecordingUrl=url, RecordingStatus="completed")
    call_row(app)
    with db.session() as session:
        assert session.scalars(select(Ticket.recording_url)).one() == url


def test_a_call_that_was_no_complaint_says_why(app, db, answered_call, clock):
    with db.session() as session, session.begin():
        call = session.get(CallRecord, answered_call.id)
        operator = session.scalars(select(User).where(User.name == "ana")).one()
        with pytest.raises(TicketError):
            mark_no_complaint(session, call, operator, " ", clock.now)
        mark_no_complaint(session, call, operator, "cerere de informații despre abonamente", clock.now)
    row = call_row(app)
    assert row.no_complaint_reason == "cerere de informații despre abonamente"


def test_operators_phones_are_set_with_the_cli(runner, app_config, monkeypatch, db):
    from ivr.cli import main

    for key, env in [("DATABASE_URL", "IVR_DATABASE_URL"), ("ROUTING_FILE", "IVR_ROUTING_FILE"),
                     ("PROMPTS_DIR", "IVR_PROMPTS_DIR"), ("JOURNAL_DIR", "IVR_INSTANCE_DIR"),
                     ("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN")]:
        monkeypatch.setenv(env, app_config[key])
    monkeypatch.setenv("IVR_USER_PASSWORD", "correct horse")
    result = runner.invoke(main, ["user", "add", "ana", "--phone", OPERATOR_PHONE])
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["user", "add", "dan", "--phone", OPERATOR_PHONE]).exit_code == 1
    assert runner.invoke(main, ["user", "phone", "ana", "0215894142"]).exit_code == 1  # no country code
    assert runner.invoke(main, ["user", "phone", "ana", "+40215894142"]).exit_code == 0
    with db.session() as session:
        assert session.scalars(select(User.phone).where(User.name == "ana")).one() == "+40215894142"


def _row(db, call_sid: str) -> CallRecord:
    with db.session() as session:
        return session.scalars(select(CallRecord).where(CallRecord.call_sid == call_sid)).one()


def test_a_call_that_arrives_again_keeps_its_earliest_start_and_first_caller_and_language(app, db):
    from ivr.calls import log

    first, earlier, later = bucharest(2026, 11, 17, 10, 0), bucharest(2026, 11, 17, 9, 59), bucharest(2026, 11, 17, 10, 5)
    with db.session() as session, session.begin():
        log.webhook_failed(session, LEG_SID, first)  # another fact made the row: no caller, no language
    for caller, language, at in [(None, "en", later), ("+40722123456", "ro", later), ("+40733123456", "en", earlier)]:
        with db.session() as session, session.begin():
            log.call_started(session, LEG_SID, caller, language, at)
    row = _row(db, LEG_SID)
    assert (row.caller, row.language, row.started_at, row.errored) == ("+40722123456", "en", earlier, True)


def write_together(db, *writes) -> int:
    """Write the facts as the call log's writer does when they queue up together; the commits."""
    import threading

    from sqlalchemy import event

    from ivr.calls.events import CallEvents

    commits: list[int] = []
    count = lambda connection: commits.append(1)  # noqa: E731
    events, holding, gate = CallEvents(db), threading.Event(), threading.Event()
    events.record(lambda session: holding.set() or gate.wait(10))  # holds the writer while the others queue up
    assert holding.wait(10)
    for write in writes:
        events.record(write)
    event.listen(db.engine, "commit", count)
    try:
        gate.set()
        assert events.flush()
    finally:
        event.remove(db.engine, "commit", count)
    return len(commits)


def test_facts_queued_together_are_written_together_and_a_bad_one_loses_no_other(app, db):
    from ivr.calls import log

    now, other = bucharest(2026, 11, 17, 10, 0), "CA" + "8" * 32
    for bad in (False, True):
        facts = [
            lambda session: log.call_started(session, CALL_SID, "+40722123456", "ro", now),
            lambda session: log.department_chosen(session, CALL_SID, "technical", "ro", now),
            *([lambda session: session.execute(select(CallRecord).where(CallRecord.id / 0 == "x")).one()] if bad else []),
            lambda session: log.call_started(session, other, None, "ro", now),
            lambda session: log.webhook_failed(session, CALL_SID, now),
        ]
        # Together: one commit (the holding fact wrote nothing); with a bad one, each good fact alone.
        assert write_together(db, *facts) == (4 if bad else 1)
        row = _row(db, CALL_SID)
        assert (row.caller, row.language, row.department, row.errored) == ("+40722123456", "ro", "technical", True)
        assert _row(db, other).caller is None


def test_a_fact_after_the_arrival_in_the_same_transaction_sees_the_arrival(app, db):
    from ivr.calls import log

    now, held = bucharest(2026, 11, 17, 10, 0), []
    write_together(
        db,
        lambda session: log.department_chosen(session, CALL_SID, "technical", "ro", now),
        lambda session: held.append(log.call_row(session, CALL_SID, now)),  # the row stays in the session
        lambda session: log.call_started(session, CALL_SID, "+40722123456", "ro", now - timedelta(seconds=20)),
        lambda session: log.status_reported(session, CALL_SID, "completed", 30, "+40733000000", now),
    )
    row = _row(db, CALL_SID)
    assert (row.caller, row.started_at, row.department) == ("+40722123456", now - timedelta(seconds=20), "technical")


def test_stop_writes_what_is_queued_then_ends_the_writer(db):
    from ivr.calls.events import CallEvents

    events, written = CallEvents(db), []
    before = set(threading.enumerate())
    events.record(lambda _session: written.append("first"))
    [writer] = [t for t in threading.enumerate() if t not in before and t.name == "ivr-call-log"]
    assert events.stop(5) and written == ["first"] and not writer.is_alive()
    assert events.stop(5)  # nothing left to stop
    events.record(lambda _session: written.append("later"))  # a new writer takes it
    assert events.flush(5) and written == ["first", "later"]
    assert events.stop(5)


def test_a_call_log_that_cannot_keep_up_drops_facts_says_so_once_and_counts_them(upgraded_database, caplog):
    """Facts beyond the queue's room are dropped (the call log is a record, not the complaint):
    one warning when dropping starts, one with the count once the writer catches up. A flush
    waits for room rather than being dropped."""
    from ivr.calls.events import CallEvents
    from ivr.calls.log import call_started

    events, held, written = CallEvents(upgraded_database, capacity=5), threading.Event(), []
    now = datetime(2026, 11, 17, 8, 0, tzinfo=timezone.utc)

    def slow_fact(session) -> None:
        held.wait(10)  # the database is slow: the writer sits here while facts pour in

    def fact(number: int):
        return lambda session: (call_started(session, f"CA{number:032d}", None, "ro", now), written.append(number))

    events.record(slow_fact)
    for number in range(40):
        events.record(fact(number))
    held.set()
    assert events.flush() and events.stop()

    warnings = [r.getMessage() for r in caplog.records if r.name == "ivr.calls.events"]
    assert len(warnings) == 2 and "new facts are dropped" in warnings[0]
    assert f"{40 - len(written)} facts were dropped" in warnings[1] and 0 < len(written) < 40
    with upgraded_database.session() as session:
        assert len(session.scalars(select(CallRecord)).all()) == len(written)


def test_arrivals_queued_together_go_in_one_statement_and_keep_their_order(app, db):
    """Consecutive arrivals are sent as one executemany, the same call's included: its earliest
    start and first known caller win as when they are written one by one."""
    from ivr.calls import log

    now, other = bucharest(2026, 11, 17, 10, 0), "CA" + "8" * 32
    executions: list[int] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("INSERT INTO calls"):
            executions.append(len(parameters) if executemany else 1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        commits = write_together(
            db,
            log.arrival(CALL_SID, None, "ro", now),
            log.arrival(other, "+40215551234", "en", now),
            log.arrival(CALL_SID, "+40722123456", "en", now - timedelta(seconds=5)),
            lambda session: log.department_chosen(session, CALL_SID, "technical", "ro", now),
            log.arrival(CALL_SID, "+40733000000", "en", now),
        )
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert commits == 1 and executions[0] == 3 and executions[-1] == 1
    row = _row(db, CALL_SID)
    assert (row.caller, row.language, row.started_at, row.department) == ("+40722123456", "ro", now - timedelta(seconds=5), "technical")
    assert (_row(db, other).caller, _row(db, other).language) == ("+40215551234", "en")
