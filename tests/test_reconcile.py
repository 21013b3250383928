"""`ivr reconcile`: voicemails that Twilio recorded but the hotline never registered become
tickets, once, from Twilio's Recordings list read with the real twilio client over HTTP."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ivr.cli import main
from ivr.errors import TwilioApiError
from ivr.models import SmsMessage, Ticket
from ivr.recordings import RecordingStore
from ivr.recovery.reconcile import reconcile
from ivr.recovery.twilio_recordings import TwilioRecordings
from ivr.settings import HotlineConfig, load_hotline
from ivr.tickets.registration import VoicemailReport, register_voicemail

from conftest import FakeClock, bucharest
from twilio_standin import TwilioStandin

HOTLINE_NUMBER = "+40215894141"
MOBILE = "+40722123456"
UK_MOBILE = "+447911123456"
LANDLINE = "+40215551234"
SINCE = bucharest(2026, 11, 14, 0, 0)


def call_sid(n: int) -> str:
    return f"CA{n:032x}"


@pytest.fixture
def hotline(config_dir: Path) -> HotlineConfig:
    """The shipped configuration (fallback department: customer_relations)."""
    return load_hotline(config_dir / "routing.yaml", config_dir / "prompts")


@pytest.fixture
def recordings(twilio: TwilioStandin) -> TwilioRecordings:
    """The real twilio client pointed at the stand-in, two recordings a page so that paging is used."""
    return TwilioRecordings(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=2.0, page_size=2)


@pytest.fixture
def run(upgraded_database, hotline, recordings, clock):
    """Reconcile the stand-in's recordings since SINCE into the test database."""

    def run_reconcile(**options):
        return reconcile(upgraded_database, hotline, recordings, clock, since=options.pop("since", SINCE), **options)

    return run_reconcile


def tickets(database) -> list[Ticket]:
    with database.session() as session:
        found = session.scalars(select(Ticket).order_by(Ticket.sequence)).all()
        for ticket in found:
            ticket.events, ticket.messages  # load while the session is open
        return list(found)


def count(database, model) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_recordings_without_tickets_become_one_ticket_each(run, twilio, upgraded_database, hotline):
    at = [bucharest(2026, 11, 16, 23, 40), bucharest(2026, 11, 15, 8, 5), bucharest(2026, 11, 16, 12, 0)]
    uk = twilio.add_call_recording(call_sid(2), UK_MOBILE, HOTLINE_NUMBER, at[2], duration=44)
    ro = twilio.add_call_recording(call_sid(1), MOBILE, HOTLINE_NUMBER, at[1], duration=31)
    twilio.add_call_recording(call_sid(3), "anonymous", HOTLINE_NUMBER, at[0], duration=12)

    result = run()

    assert (result.seen, result.had_ticket, result.not_voicemail, len(result.registered)) == (3, 0, 0, 3)
    first, second, third = tickets(upgraded_database)
    # Numbered in the order the callers spoke, registered when they spoke, in the fallback department.
    assert [t.call_sid for t in (first, second, third)] == [call_sid(1), call_sid(2), call_sid(3)]
    assert [t.registered_at for t in (first, second, third)] == sorted(at)
    assert {t.department for t in (first, second, third)} == {hotline.routing.hotline.fallback}
    assert (first.number, first.caller, first.sms_to, first.language) == ("RC-2026-000001", MOBILE, MOBILE, "ro")
    # A foreign mobile is outside hotline.sms_countries (RO): no SMS abroad.
    assert (second.caller, second.sms_to, second.language) == (UK_MOBILE, None, "en")
    assert (third.caller, third.sms_to, third.language) == (None, None, "ro")
    # The recording as Twilio's webhooks give it, so that the console can play it.
    assert first.recording_url == f"https://api.twilio.com/2010-04-01/Accounts/{twilio.account_sid}/Recordings/{ro}"
    assert (first.recording_sid, first.recording_duration, first.recording_status) == (ro, 31, "completed")
    assert second.recording_sid == uk and second.recording_duration == 44
    store = RecordingStore(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=2.0)
    assert store.fetch(first.recording_url).audio == twilio.recordings[ro]
    # Operators are told the ticket was recovered and what was guessed.
    assert [e.kind for e in first.events] == ["registered", "recovered"]
    assert first.events[0].data["report"] == "reconcile"
    recovered = first.events[1].data
    assert recovered["recording"] == ro and recovered["department"] == "customer_relations" and recovered["sms"]
    # The SMS is queued for the callers who may receive one, due at once.
    assert [(m.to, m.status) for m in first.messages] == [(MOBILE, "queued")]
    assert first.number in first.messages[0].body
    assert second.messages == [] and third.messages == []
    assert [r.number for r in result.registered] == [first.number, second.number, third.number]


def test_a_second_run_registers_nothing(run, twilio, upgraded_database):
    for n in range(3):
        twilio.add_call_recording(call_sid(n), MOBILE, HOTLINE_NUMBER, bucharest(2026, 11, 16, 9, n))
    assert len(run().registered) == 3

    again = run()

    assert (again.seen, again.had_ticket, len(again.registered)) == (3, 3, 0)
    assert count(upgraded_database, Ticket) == 3 and count(upgraded_database, SmsMessage) == 3


def test_a_call_that_already_has_a_ticket_is_untouched(run, twilio, upgraded_database, hotline):
    spoke = bucharest(2026, 11, 16, 15, 0)
    sid = twilio.add_call_recording(call_sid(7), MOBILE, HOTLINE_NUMBER, spoke)
    report = VoicemailReport(
        call_sid=call_sid(7), department="technical", language="en", caller=MOBILE, sms_to=MOBILE,
        recording_sid=sid, recording_url=f"https://api.twilio.com/2010-04-01/Accounts/{twilio.account_sid}/Recordings/{sid}",
        recording_duration=30, recording_status="completed", source="record action",
    )
    with upgraded_database.session() as session, session.begin():
        register_voicemail(session, hotline, report, spoke + timedelta(seconds=2))
    requests_before = twilio.requests

    result = run()

    assert (result.seen, result.had_ticket, result.registered) == (1, 1, [])
    [ticket] = tickets(upgraded_database)
    assert (ticket.department, ticket.language) == ("technical", "en")
    assert [e.kind for e in ticket.events] == ["registered"] and len(ticket.messages) == 1
    assert twilio.requests == requests_before + 1  # the list only: no need to ask about the call


def test_only_completed_voicemails_of_inbound_calls_count(run, twilio, upgraded_database):
    at = bucharest(2026, 11, 16, 10, 0)
    twilio.add_call_recording(call_sid(1), MOBILE, HOTLINE_NUMBER, at, source="DialVerb")
    twilio.add_call_recording(call_sid(2), MOBILE, HOTLINE_NUMBER, at, source="StartCallRecordingAPI")
    twilio.add_call_recording(call_sid(3), MOBILE, HOTLINE_NUMBER, at, status="absent")
    twilio.add_call_recording(call_sid(4), MOBILE, HOTLINE_NUMBER, at, status="processing")
    twilio.add_call_recording(call_sid(5), HOTLINE_NUMBER, MOBILE, at, direction="outbound-api")
    twilio.add_call_recording(call_sid(8) + "\n", MOBILE, HOTLINE_NUMBER, at)
    twilio.add_call_recording(call_sid(6), MOBILE, HOTLINE_NUMBER, at)

    result = run()

    assert (result.seen, result.not_voicemail, [r.call_sid for r in result.registered]) == (7, 6, [call_sid(6)])
    assert [t.call_sid for t in tickets(upgraded_database)] == [call_sid(6)]


def test_a_second_take_does_not_make_a_second_ticket(run, twilio, upgraded_database):
    first_take = bucharest(2026, 11, 16, 10, 0)
    kept = twilio.add_call_recording(call_sid(1), MOBILE, HOTLINE_NUMBER, first_take, duration=3)
    twilio.add_call_recording(call_sid(1), MOBILE, HOTLINE_NUMBER, first_take + timedelta(seconds=20), duration=40)

    result = run()

    [ticket] = tickets(upgraded_database)
    assert (ticket.recording_sid, ticket.registered_at) == (kept, first_take)
    assert (result.seen, len(result.registered), result.had_ticket) == (2, 1, 1)


def test_recent_recordings_are_left_to_the_webhooks(run, twilio, upgraded_database, clock):
    twilio.add_call_recording(call_sid(1), MOBILE, HOTLINE_NUMBER, clock.now - timedelta(minutes=5))

    result = run()

    assert (result.seen, result.too_recent, result.registered) == (1, 1, [])
    assert count(upgraded_database, Ticket) == 0
    assert len(run(min_age=timedelta(0)).registered) == 1


def test_since_and_the_hotline_number_narrow_what_is_registered(run, twilio, upgraded_database):
    twilio.add_call_recording(call_sid(1), MOBILE, HOTLINE_NUMBER, SINCE - timedelta(seconds=1))
    twilio.add_call_recording(call_sid(2), MOBILE, "+40215550000", SINCE + timedelta(hours=1))
    twilio.add_call_recording(call_sid(3), MOBILE, HOTLINE_NUMBER, SINCE + timedelta(hours=2))

    result = run(called_numbers=(HOTLINE_NUMBER,))

    assert (result.seen, result.not_voicemail) == (2, 1)
    assert [t.call_sid for t in tickets(upgraded_database)] == [call_sid(3)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_twilio_failures_are_one_twilio_api_error(twilio, upgraded_database, hotline, clock):
    def listing(**options):
        options = {"account_sid": twilio.account_sid, "auth_token": twilio.auth_token,
                   "base_url": twilio.base_url, "timeout": 2.0, **options}
        return TwilioRecordings(options.pop("account_sid"), options.pop("auth_token"), **options)

    dead = listing(base_url=f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(TwilioApiError, match="could not be reached"):
        reconcile(upgraded_database, hotline, dead, clock, since=SINCE)
    with pytest.raises(TwilioApiError, match="HTTP 401"):
        reconcile(upgraded_database, hotline, listing(auth_token="wrong"), clock, since=SINCE)
    twilio.add_call_recording(call_sid(1), MOBILE, HOTLINE_NUMBER, SINCE + timedelta(hours=1))
    twilio.fail_next(503)
    with pytest.raises(TwilioApiError, match="HTTP 503"):
        reconcile(upgraded_database, hotline, listing(), clock, since=SINCE)
    assert count(upgraded_database, Ticket) == 0
    with pytest.raises(ValueError):
        TwilioRecordings(twilio.account_sid, "")


# -- the command ---------------------------------------------------------------

@pytest.fixture
def cli_env(any_database_url, upgraded_database, config_dir, tmp_path, twilio) -> dict[str, str]:
    """The environment of `ivr reconcile` run by cron: the test database, the stand-in's account."""
    return {
        "IVR_DATABASE_URL": any_database_url,
        "IVR_ROUTING_FILE": str(config_dir / "routing.yaml"),
        "IVR_PROMPTS_DIR": str(config_dir / "prompts"),
        "IVR_INSTANCE_DIR": str(tmp_path / "instance"),
        "TWILIO_ACCOUNT_SID": twilio.account_sid,
        "TWILIO_AUTH_TOKEN": twilio.auth_token,
        "TWILIO_API_BASE_URL": twilio.base_url,
    }


def test_ivr_reconcile_registers_prints_and_the_sms_goes_out(runner, cli_env, twilio, upgraded_database):
    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    twilio.add_call_recording(call_sid(1), MOBILE, HOTLINE_NUMBER, yesterday)
    twilio.add_call_recording(call_sid(2), MOBILE, HOTLINE_NUMBER, yesterday - timedelta(days=5))
    since = (yesterday - timedelta(days=2)).date().isoformat()

    result = runner.invoke(main, ["reconcile", "--since", since], env=cli_env)

    assert result.exit_code == 0, result.output
    [ticket] = tickets(upgraded_database)
    line, summary = result.stdout.splitlines()
    assert ticket.number in line and call_sid(1) in line and MOBILE in line
    assert summary == "1 recordings seen, 0 already had tickets, 1 registered, 0 not hotline voicemails, 0 left to the webhooks (under 15 min old)"
    assert runner.invoke(main, ["worker", "--once"], env=cli_env).exit_code == 0
    [sms] = twilio.messages
    assert sms["to"] == MOBILE and ticket.number in sms["body"]

    again = runner.invoke(main, ["reconcile", "--since", f"{since}T00:00:00+02:00"], env=cli_env)
    assert again.exit_code == 0, again.output
    assert again.output == "1 recordings seen, 1 already had tickets, 0 registered, 0 not hotline voicemails, 0 left to the webhooks (under 15 min old)\n"
    assert count(upgraded_database, Ticket) == 1


def test_ivr_reconcile_fails_in_one_line(runner, cli_env):
    unreachable = {**cli_env, "TWILIO_API_BASE_URL": f"http://127.0.0.1:{_closed_port()}"}
    result = runner.invoke(main, ["reconcile", "--since", "2026-11-20"], env=unreachable)
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert "could not be reached" in line and "127.0.0.1" in line

    for missing in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        result = runner.invoke(main, ["reconcile", "--since", "2026-11-20"], env={**cli_env, missing: ""})
        assert result.exit_code == 1
        [line] = result.output.splitlines()
        assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in line

    result = runner.invoke(main, ["reconcile", "--since", "last week"], env=cli_env)
    assert result.exit_code == 2 and "--since" in result.output


def test_ivr_reconcile_leaves_a_call_still_in_the_journal_to_its_replay(runner, cli_env, twilio, upgraded_database, tmp_path):
    """Another process (an `ivr worker` on the same instance folder) is replaying the journal
    when cron runs `ivr reconcile`: the journaled call is not registered from Twilio's
    recording with a guessed department and no keyed SMS number, but left to the replay."""
    from ivr.recovery.journal import Journal, JournalEntry

    yesterday = datetime.now(timezone.utc) - timedelta(days=1)
    sid = twilio.add_call_recording(call_sid(1), LANDLINE, HOTLINE_NUMBER, yesterday)
    keyed = "+40733123456"  # the landline caller keyed a mobile for the SMS
    report = VoicemailReport(
        call_sid=call_sid(1), department="technical", language="ro", caller=LANDLINE, sms_to=keyed,
        recording_sid=sid, recording_url=f"https://api.twilio.com/2010-04-01/Accounts/{twilio.account_sid}/Recordings/{sid}",
        recording_duration=30, recording_status="completed", source="record action",
    )
    journal = Journal(tmp_path / "instance")
    journal.append(JournalEntry(yesterday, report))
    since = (yesterday - timedelta(days=2)).date().isoformat()

    with journal.replaying() as files:  # the other process's replay, under way
        assert files
        result = runner.invoke(main, ["reconcile", "--since", since], env=cli_env)

    assert result.exit_code == 0, result.output
    assert result.output.endswith(", 1 left to the journal's replay\n") and " 0 registered" in result.output
    assert tickets(upgraded_database) == []
    assert runner.invoke(main, ["worker", "--once"], env=cli_env).exit_code == 0
    [ticket] = tickets(upgraded_database)
    assert (ticket.department, ticket.sms_to) == ("technical", keyed)
