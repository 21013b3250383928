"""Odd input at the webhooks: whatever Twilio (or someone with a captured signature) sends,
a complaint is stored once or the caller is not told it was, and nothing answers 500."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ivr.models import Ticket

from conftest import CALL_SID

RECORDING_SID = "RE" + "a" * 32
RECORDING_URL = "https://api.twilio.com/2010-04-01/Accounts/AC00/Recordings/" + RECORDING_SID
ACTION = "/voice/recorded/technical?lang=ro&sms=%2B40722123456"
CALLBACK = "/voice/recording-status/technical?lang=ro&sms=%2B40722123456"


@pytest.fixture
def database_url(any_database_url):
    """These tests run on SQLite and, when IVR_TEST_DATABASE_URL is set, on PostgreSQL."""
    return any_database_url


def stored(app) -> list[Ticket]:
    with app.extensions["ivr.db"].session() as session:
        return session.scalars(select(Ticket)).all()


@pytest.mark.parametrize("field, value", [
    ("RecordingUrl", RECORDING_URL + "\x00"),
    ("RecordingSid", RECORDING_SID[:-1] + "\x00"),
    ("RecordingDuration", "²"),
    ("RecordingDuration", "①"),
])
def test_odd_recording_fields_still_register_the_complaint(app, twilio_post, field, value):
    fields = {"RecordingSid": RECORDING_SID, "RecordingUrl": RECORDING_URL, "RecordingDuration": "31", field: value}
    body = twilio_post(ACTION, **fields).get_data(as_text=True)
    [ticket] = stored(app)
    assert "Reclamația a fost înregistrată cu numărul R C, 2 0 2 6, 0 0 0 0 0 1." in body
    assert "\x00" not in (ticket.recording_url or "") + (ticket.recording_sid or "")
    assert twilio_post(CALLBACK, RecordingStatus="completed", **fields).status_code == 204
    assert len(stored(app)) == 1


def test_a_call_sid_with_a_trailing_newline_is_refused(app, client):
    from conftest import BASE_URL, sign

    data = {"CallSid": CALL_SID + "\n", "From": "+40722123456", "RecordingUrl": RECORDING_URL}
    for path in (ACTION, CALLBACK):
        assert client.post(path, data=data, headers=sign(BASE_URL + path, data)).status_code == 400
    assert stored(app) == []


def test_unicode_digits_in_the_menu_are_a_wrong_key_not_an_error(twilio_post):
    body = twilio_post("/voice/menu?lang=ro&attempt=²", Digits="²").get_data(as_text=True)
    assert "Nu am înțeles opțiunea dumneavoastră." in body
    assert "problemă tehnică" not in body


def test_sms_status_with_a_unicode_error_code_is_recorded_without_it(client):
    from conftest import BASE_URL, sign

    data = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "undelivered", "ErrorCode": "²"}
    reply = client.post("/sms/status", data=data, headers=sign(BASE_URL + "/sms/status", data))
    assert reply.status_code == 204


def test_sms_status_with_the_database_down_answers_503_not_an_html_500(app_config, empty_database_url, caplog):
    from ivr import create_app
    from conftest import BASE_URL, sign

    # No tables: the database cannot answer.
    app_config.update(DATABASE_URL=empty_database_url, DATABASE_AUTO_UPGRADE=False)
    down = create_app(app_config).test_client()
    data = {"MessageSid": "SM" + "b" * 32, "MessageStatus": "delivered"}
    reply = down.post("/sms/status", data=data, headers=sign(BASE_URL + "/sms/status", data))
    assert reply.status_code == 503
    assert reply.get_data(as_text=True) == "temporarily unavailable"
    assert "SMS status callback failed for MessageSid SM" in caplog.text


def test_a_keyed_in_number_in_unicode_digits_is_not_a_mobile(app_config):
    from ivr.phone import keyed_mobile

    assert keyed_mobile("0722123456", "RO") == "+40722123456"
    assert keyed_mobile("０７２２１２３４５６", "RO") is None  # full-width digits
    assert keyed_mobile("07²2123456", "RO") is None
