"""From the first ring after hours to the SMS leaving, and the CLI around it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from ivr import create_app
from ivr.cli import main
from ivr.models import SmsMessage, Ticket
from ivr.softphone import Call, ScriptedCaller, WsgiTransport

from conftest import AUTH_TOKEN, FakeClock, sign


@pytest.fixture
def database_url(any_database_url):
    """These tests run on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    return any_database_url


def test_after_hours_call_ends_with_one_sms_carrying_the_same_number_and_date(live_env, twilio, runner):
    # Last night at 23:30 in Bucharest (00:30 in summer): after hours, and already due for the worker.
    clock = FakeClock(datetime.now(timezone.utc).replace(hour=21, minute=30) - timedelta(days=1))
    app = create_app({"CLOCK": clock, "DATABASE_AUTO_UPGRADE": True})
    ui = ScriptedCaller(keys_script=["1"], records=[45])
    call = Call("https://ivr.example.ro", AUTH_TOKEN, WsgiTransport(app), ui)
    log = call.run()
    assert "Operatorii nu sunt disponibili acum, dar vă înregistrăm reclamația." in ui.transcript
    # Twilio repeats its recording callback twice more after the call.
    recording = log.recordings[0]
    callback = next(url for url, data, _ in log.requests if "recording-status" in url)
    for _ in range(2):
        call.deliver_recording_status(callback, recording)

    assert runner.invoke(main, ["worker", "--once"]).exit_code == 0
    assert runner.invoke(main, ["worker", "--once"]).exit_code == 0
    [sms] = twilio.messages
    with app.extensions["ivr.db"].session() as session:
        ticket = session.scalars(select(Ticket)).one()
    spoken_number = ", ".join(" ".join(part) for part in ticket.number.split("-"))
    assert f"Reclamația a fost înregistrată cu numărul {spoken_number}." in ui.transcript
    assert ticket.number in sms["body"] and ticket.deadline_on.strftime("%d.%m.%Y") in sms["body"]
    assert sms["to"] == "+40722123456" and sms["status_callback"] == "https://ivr.example.ro/sms/status"


def test_sms_status_webhook_records_delivery(live_env, twilio, runner, clock):
    app = create_app({"CLOCK": clock, "DATABASE_AUTO_UPGRADE": True})
    client = app.test_client()
    path = "/voice/recorded/technical?lang=ro&sms=%2B40722123456"
    data = {"CallSid": "CA" + "3" * 32, "From": "+40722123456", "RecordingSid": "RE" + "3" * 32,
            "RecordingUrl": "https://api.twilio.com/x", "RecordingDuration": "12"}
    client.post(path, data=data, headers=sign("https://ivr.example.ro" + path, data))
    runner.invoke(main, ["worker", "--once"])
    status = {"MessageSid": twilio.messages[0]["sid"], "MessageStatus": "undelivered", "ErrorCode": "30005"}
    assert client.post("/sms/status", data=status).status_code == 403
    reply = client.post("/sms/status", data=status, headers=sign("https://ivr.example.ro/sms/status", status))
    assert reply.status_code == 204
    with app.extensions["ivr.db"].session() as session:
        sms = session.scalars(select(SmsMessage)).one()
        assert (sms.status, sms.error_code) == ("undelivered", 30005)
        assert sms.ticket.events[-1].data == {"purpose": "ticket_registered", "to": "+40722123456",
                                              "status": "undelivered", "error": 30005}


def test_local_trial_without_credentials_logs_the_sms(app, twilio_post, runner, monkeypatch, app_config, database_url, caplog):
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)  # a token alone is not an account
    monkeypatch.setenv("IVR_DATABASE_URL", database_url)
    monkeypatch.setenv("IVR_ROUTING_FILE", app_config["ROUTING_FILE"])
    monkeypatch.setenv("IVR_PROMPTS_DIR", app_config["PROMPTS_DIR"])
    twilio_post("/voice/recorded/technical?lang=ro&sms=%2B40722123456", RecordingSid="RE" + "4" * 32,
                RecordingUrl="https://api.twilio.com/x", RecordingDuration="9")
    assert runner.invoke(main, ["worker", "--once"]).exit_code == 0
    assert "SMS not sent: no Twilio credentials" in caplog.text
    with app.extensions["ivr.db"].session() as session:
        assert session.scalars(select(SmsMessage.status)).one() == "logged"


def test_ivr_deadline_prints_the_iso_date_first(runner, monkeypatch, config_dir):
    monkeypatch.chdir(config_dir)
    result = runner.invoke(main, ["deadline", "--department", "technical", "--registered", "2026-11-27T10:00"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "2026-12-04"
    result = runner.invoke(main, ["deadline", "--department", "payments", "--registered", "2026-11-26T23:30:00+00:00"])
    assert result.output.splitlines()[0] == "2026-12-28"  # 27 Nov + 30 = Sat 27 Dec -> Mon 28 Dec
    assert runner.invoke(main, ["deadline", "--department", "sales"]).exit_code == 2


def test_ivr_db_upgrade(runner, monkeypatch, config_dir, empty_database_url):
    monkeypatch.chdir(config_dir)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("IVR_DATABASE_URL", empty_database_url)
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at the latest schema" in result.output
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0  # idempotent
