"""What operations engineers watch: /healthz, /metrics behind a token, and log lines that carry
the CallSid and mask phone numbers, in plain text or JSON; and gunicorn with the shipped
settings serving all of it."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest
import requests

from ivr import create_app
from ivr.monitoring.logs import about_ticket, configure_logging, mask_phones
from ivr.softphone import Call, HttpTransport, ScriptedCaller

from conftest import AUTH_TOKEN, POSTGRES_URL, ROOT
from servers import hotline_env, server_process

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def app_config(app_config):
    """The hotline with /metrics open to TOKEN."""
    return {**app_config, "METRICS_TOKEN": TOKEN}


def test_healthz_reports_the_database_outbox_and_journal(app, client, place_call, clock):
    place_call(keys=["1"], dials=["busy"], records=[30])  # a voicemail: a ticket and its SMS, queued
    clock.now = clock.now.replace(minute=5)
    reply = client.get("/healthz")
    assert reply.status_code == 200
    assert reply.json == {"configuration": "loaded", "departments": 3, "journal": {"pending": 0},
                          "database": "reachable", "outbox": {"queued": 1, "oldest_queued_seconds": 300.0}}
    assert AUTH_TOKEN not in reply.get_data(as_text=True) and "sqlite" not in reply.get_data(as_text=True)


def test_healthz_answers_503_when_the_database_is_away(app_config, tmp_path):
    away = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path}/no/such/folder/ivr.sqlite3",
                       "DATABASE_AUTO_UPGRADE": False})
    reply = away.test_client().get("/healthz")
    assert reply.status_code == 503 and reply.json["database"] == "unreachable"
    assert away.test_client().get("/health").status_code == 200  # alive, if not ready


def test_metrics_need_the_token(app_config, app, client):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    closed = create_app({**app_config, "METRICS_TOKEN": None})
    assert closed.test_client().get("/metrics").status_code == 404  # off unless IVR_METRICS_TOKEN is set


def test_metrics_count_what_the_hotline_did(app, client, place_call):
    place_call(keys=["1"], dials=["busy"], records=[30])
    text = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(as_text=True)
    assert 'ivr_tickets_total{department="technical",source="voicemail"} 1.0' in text
    assert 'ivr_sms_total{error_code="",status="queued"} 1.0' in text
    assert "ivr_outbox_queued 1.0" in text and "ivr_database_up 1.0" in text
    assert 'ivr_webhook_duration_seconds_count{endpoint="voice.incoming"}' in text


def test_log_lines_carry_the_call_sid_and_the_ticket_and_mask_numbers(app, place_call, capsys):
    configure_logging("json")
    try:
        place_call(caller="+40722123456", keys=["1"], dials=["busy"], records=[30])
        logging.getLogger("ivr.test").info("SMS to %s queued", "+40722123456", extra={})
        with about_ticket("RC-2026-000001"):
            logging.getLogger("ivr.test").warning("resolved; told 0722123456")
    finally:
        configure_logging("plain")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert lines and all("+40722123456" not in line["message"] for line in lines)
    told = next(line for line in lines if line["message"].startswith("resolved"))
    assert told["ticket"] == "RC-2026-000001" and told["message"] == "resolved; told 0722***456"


@pytest.mark.parametrize("text, masked", [
    ("+40722123456", "+40722***456"), ("0722123456", "0722***456"), ("RC-2026-000123", "RC-2026-000123"),
    ("CA" + "1" * 32, "CA" + "1" * 32), ("at 2026-11-17 10:00", "at 2026-11-17 10:00"),
])
def test_phone_numbers_lose_their_middle_digits(text, masked):
    assert mask_phones(text) == masked


@pytest.mark.skipif(not POSTGRES_URL, reason="gunicorn on PostgreSQL: set IVR_TEST_DATABASE_URL (.ci/run does)")
def test_gunicorn_with_the_shipped_settings_serves_health_and_metrics(config_dir, tmp_path, any_empty_database_url):
    if "postgresql" not in any_empty_database_url:
        pytest.skip("this test runs on PostgreSQL")
    env = {**hotline_env(config_dir, tmp_path), "IVR_DATABASE_URL": any_empty_database_url, "IVR_METRICS_TOKEN": TOKEN}
    # As the production recipe goes: the schema first, then gunicorn with the shipped settings.
    subprocess.run([sys.executable, "-m", "ivr", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    with server_process("gunicorn", env) as base:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        before = requests.get(f"{base}/metrics", headers=bearer, timeout=10).text
        ui = ScriptedCaller(keys_script=["1"], dials=["busy"], records=[30])
        Call(base, AUTH_TOKEN, HttpTransport(), ui, caller="+40722123456").run()
        after = requests.get(f"{base}/metrics", headers=bearer, timeout=10).text
        health = requests.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["database"] == "reachable"
    assert 'ivr_tickets_total{department="technical",source="voicemail"}' not in before
    assert 'ivr_tickets_total{department="technical",source="voicemail"} 1.0' in after
    assert 'ivr_webhook_duration_seconds_count{endpoint="voice.incoming"}' in after


def test_every_event_of_a_ticket_is_a_log_line_with_its_number(app, place_call, capsys):
    configure_logging("json")
    try:
        place_call(caller="+40722123456", keys=["1"], dials=["busy"], records=[30])
        place_call(caller="+40722123457", keys=["2"], dials=["busy"], records=[30])
    finally:
        configure_logging("plain")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    registered = [line for line in lines if line["logger"] == "ivr.tickets.registration" and line["message"] == "registered (caller)"]
    assert [line["ticket"] for line in registered] == ["RC-2026-000001", "RC-2026-000002"]
    assert registered[0]["call_sid"].startswith("CA") and registered[0]["call_sid"] != registered[1]["call_sid"]
