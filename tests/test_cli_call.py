"""``ivr call``: a phone in the terminal, calling a hotline that listens on a real socket."""

from __future__ import annotations

import pytest

from ivr.cli import main

from conftest import AUTH_TOKEN, bucharest
from servers import werkzeug_thread


@pytest.fixture
def live_url(app):
    """The hotline served over HTTP on a free local port; yields its base URL."""
    with werkzeug_thread(app) as base_url:
        yield base_url


def test_scripted_call_in_hours_reaches_an_operator(runner, live_url, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    result = runner.invoke(main, ["call", "--url", live_url, "--keys", "1", "--dial", "answered"])
    assert result.exit_code == 0, result.output
    assert "Bună ziua, ați sunat la ProNET Soluții IT." in result.output
    assert "dialling number:+40215894141" in result.output
    assert "operator hears: Apel pentru Departamentul Tehnic." in result.output
    assert "Call ended (hangup)." in result.output


def test_interactive_call_after_hours_leaves_a_voicemail(runner, live_url, monkeypatch, clock):
    clock.now = bucharest(2026, 11, 24, 22, 0)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    # Keys typed at the prompts: an invalid choice, then 2; then 30 seconds spoken at the beep.
    result = runner.invoke(main, ["call", "--url", live_url], input="5\n2\n30\n")
    assert result.exit_code == 0, result.output
    assert "Nu am înțeles opțiunea dumneavoastră." in result.output
    # Every department is closed at 22:00: said once, before the menu, not again after the choice.
    assert result.output.count("Operatorii nu sunt disponibili acum, dar vă înregistrăm reclamația.") == 1
    assert "Operatorii de la Departamentul Plăți" not in result.output
    assert "beep: recording" in result.output
    assert "Reclamația a fost înregistrată" in result.output
    # The app's database is not the one `ivr call` would open (IVR_INSTANCE_DIR is elsewhere):
    # the ticket comes from what the hotline said on the line.
    assert "The hotline registered ticket RC-2026-000001 (as said on the line)." in result.output
    assert "(its SMS are in the hotline's database, which this terminal cannot read)" in result.output


def test_a_call_from_outside_the_servers_folder_says_why_its_sms_are_not_shown(runner, live_url, monkeypatch,
                                                                                clock, tmp_path):
    clock.now = bucharest(2026, 11, 24, 22, 0)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    for name in ("IVR_ROUTING_FILE", "IVR_PROMPTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    elsewhere = tmp_path / "elsewhere"  # tmp_path holds the running hotline's routing.yaml
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.invoke(main, ["call", "--url", live_url, "--keys", "2", "--record", "30"])
    assert result.exit_code == 0, result.output
    assert "The hotline registered ticket RC-2026-000001 (as said on the line)." in result.output
    assert f"(its SMS are not shown: {elsewhere / 'routing.yaml'}: file not found" in result.output


def test_call_without_any_token_explains_what_to_do(runner, monkeypatch, tmp_path):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("IVR_INSTANCE_DIR", str(tmp_path / "instance"))
    result = runner.invoke(main, ["call"])
    assert result.exit_code == 1
    assert "start `ivr serve` first" in result.output


def test_wrong_token_is_heard_as_an_application_error(runner, live_url, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "someone-elses-token")
    result = runner.invoke(main, ["call", "--url", live_url, "--keys", "1"])
    assert "HTTP 403" in result.output


def test_local_trial_token_is_kept_in_the_instance_folder(monkeypatch, tmp_path, config_dir):
    from ivr import create_app
    from ivr.twilio_auth import local_auth_token

    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("IVR_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.chdir(config_dir)
    token = local_auth_token(tmp_path / "instance", create=True)
    assert len(token) == 32 and local_auth_token(tmp_path / "instance", create=True) == token
    assert (tmp_path / "instance" / "twilio_auth_token").stat().st_mode & 0o077 == 0
    assert create_app().config["TWILIO_AUTH_TOKEN"] == token


def test_a_call_whose_ticket_is_in_another_database_says_so(runner, live_url, monkeypatch, clock, tmp_path):
    clock.now = bucharest(2026, 11, 24, 22, 0)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite:///{tmp_path / 'another.sqlite3'}")
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(main, ["call", "--url", live_url, "--keys", "2", "--record", "30"])
    assert result.exit_code == 0, result.output
    assert "The hotline registered ticket RC-2026-000001 (as said on the line)." in result.output
    assert f"the database this terminal reads, sqlite:///{tmp_path / 'another.sqlite3'}, has no ticket for this call" \
        in result.output
