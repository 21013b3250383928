"""SMS toll fraud: the hotline texts only mobiles of the countries in routing.yaml's
``hotline.sms_countries`` (default RO), whether the number is the caller ID, keyed in, or
carried in a webhook URL. The complaint is registered either way."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ivr import create_app
from ivr.config import load_routing
from ivr.errors import ConfigError
from ivr.models import Ticket
from ivr.softphone import Call, ScriptedCaller, WsgiTransport

from conftest import AUTH_TOKEN, BASE_URL, bucharest, edit

UK_MOBILE = "+447400123456"
CHINA_KEYED = "008613912345678#"
ASKED = "To get your complaint number by text, key in a Romanian mobile number"
REFUSED_RO = "Numărul introdus nu este un număr de mobil valid."


@pytest.fixture
def after_hours(clock):
    """A Tuesday at 23:00 in Bucharest: every complaint goes to voicemail."""
    clock.now = bucharest(2026, 11, 24, 23, 0)


def the_ticket(app) -> Ticket:
    with app.extensions["ivr.db"].session() as session:
        return session.scalars(select(Ticket).options(selectinload(Ticket.messages))).one()


def recorded_url(log) -> str:
    return next(url for url, _, _ in log.requests if "/voice/recorded/" in url)


def test_a_foreign_caller_id_is_not_texted_but_asked_for_a_romanian_mobile(app, place_call, after_hours):
    caller, log = place_call(caller=UK_MOBILE, keys=["1", None], records=[30])
    assert any(ASKED in line for line in caller.heard)
    assert "447400123456" not in recorded_url(log)
    ticket = the_ticket(app)
    assert ticket.caller == UK_MOBILE and ticket.sms_to is None and ticket.messages == []


def test_a_foreign_caller_may_key_in_a_romanian_mobile(app, place_call, after_hours):
    _, log = place_call(caller=UK_MOBILE, keys=["1", "0722123456#"], records=[30])
    assert "sms=%2B40722123456" in recorded_url(log)
    assert the_ticket(app).sms_to == "+40722123456"


def test_a_keyed_foreign_mobile_is_refused_twice_then_the_call_goes_on(app, place_call, after_hours):
    caller, log = place_call(caller="+40215551234", keys=["1", CHINA_KEYED, CHINA_KEYED], records=[30])
    assert caller.transcript.count(REFUSED_RO) == 2
    assert "Continuăm fără SMS." in caller.heard
    assert "86139" not in recorded_url(log)
    ticket = the_ticket(app)
    assert ticket.sms_to is None and ticket.number


def test_a_keyed_foreign_mobile_then_a_romanian_one(app, place_call, after_hours):
    caller, log = place_call(caller="anonymous", keys=["1", CHINA_KEYED, "0722123456#"], records=[30])
    assert caller.transcript.count(REFUSED_RO) == 1
    assert the_ticket(app).sms_to == "+40722123456"


@pytest.mark.parametrize("path", ["/voice/recorded/technical", "/voice/recording-status/technical"])
def test_a_foreign_sms_number_in_a_signed_url_is_not_texted(app, twilio_post, path):
    twilio_post(f"{path}?lang=ro&sms=%2B8613912345678", caller="anonymous",
                RecordingSid="RE" + "1" * 32, RecordingUrl="https://api.twilio.com/x", RecordingDuration="12")
    ticket = the_ticket(app)
    assert ticket.sms_to is None and ticket.messages == []


def test_another_allowed_country_is_texted(config_dir: Path, app_config, place_call, after_hours):
    edit(config_dir / "routing.yaml", "  sms_countries: [RO] ", "  sms_countries: [RO, MD] ")
    app = create_app(app_config)
    ui = ScriptedCaller(["1"], [], [30])
    Call(BASE_URL, AUTH_TOKEN, WsgiTransport(app), ui, caller="+37369123456").run()
    assert the_ticket(app).sms_to == "+37369123456"


def test_sms_countries_defaults_to_romania(config_dir: Path):
    edit(config_dir / "routing.yaml", "  sms_countries: [RO] ", "  # ")
    assert load_routing(config_dir / "routing.yaml").hotline.sms_countries == ["RO"]


@pytest.mark.parametrize("value", ["[ro]", "[XX]", "[]", "RO"])
def test_a_wrong_sms_countries_is_refused_naming_the_file_and_key(config_dir: Path, value):
    edit(config_dir / "routing.yaml", "  sms_countries: [RO] ", f"  sms_countries: {value} ")
    with pytest.raises(ConfigError) as caught:
        load_routing(config_dir / "routing.yaml")
    message = str(caught.value)
    assert "routing.yaml: hotline.sms_countries" in message and "unknown key" not in message
