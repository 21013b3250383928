"""The SMS gateway: the real twilio client, over real HTTP, against a local Twilio stand-in."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from ivr.errors import SmsPermanentError, SmsTemporaryError
from ivr.sms.gateway import LogGateway, OutgoingSms, SentSms, TwilioGateway

from twilio_standin import TwilioStandin

SENDER = "+40215894141"
MOBILE = "+40722123456"
SERVICE_SID = "MG" + "a" * 32
CALLBACK = "https://hotline.example/sms/status"


@pytest.fixture
def gateway(twilio: TwilioStandin) -> TwilioGateway:
    """A TwilioGateway with the stand-in's credentials, pointed at the stand-in.

    The timeout is short so that a test of a dead line cannot hang the suite."""
    return TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=2.0)


@pytest.fixture
def since() -> datetime:
    """A moment just before the test sends anything."""
    return datetime.now(timezone.utc)


def sms(body: str = "Reclamatia dvs. are numarul R-2026-0042.", **fields) -> OutgoingSms:
    return OutgoingSms(to=MOBILE, body=body, sender=fields.pop("sender", SENDER), **fields)


def test_send_hands_the_message_to_twilio(gateway, twilio):
    sent = gateway.send(sms())

    assert sent.status == "queued"
    assert sent.sid.startswith("SM") and len(sent.sid) == 34
    [stored] = twilio.messages
    assert stored["sid"] == sent.sid
    assert (stored["to"], stored["from"], stored["body"]) == (MOBILE, SENDER, sms().body)
    assert stored["messaging_service_sid"] is None and stored["status_callback"] is None


def test_a_messaging_service_replaces_the_sender(gateway, twilio):
    sent = gateway.send(sms(messaging_service_sid=SERVICE_SID))

    [stored] = twilio.messages
    assert stored["messaging_service_sid"] == SERVICE_SID
    assert stored["from"] is None
    assert sent.status == "accepted"


def test_the_status_callback_is_passed_on(gateway, twilio):
    gateway.send(sms(status_callback=CALLBACK))

    assert twilio.messages[0]["status_callback"] == CALLBACK


def test_an_sms_needs_a_sender_or_a_service():
    with pytest.raises(ValueError):
        OutgoingSms(to=MOBILE, body="x", sender=None)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_throttling_are_temporary(gateway, twilio, status):
    twilio.fail_next(status=status)

    with pytest.raises(SmsTemporaryError) as caught:
        gateway.send(sms())

    assert str(status) in str(caught.value)
    assert twilio.messages == []
    assert twilio.requests == 1  # the client did not retry behind our back


def test_a_non_json_error_page_is_temporary_without_a_code(gateway, twilio):
    twilio.fail_next(status=502, body="<html><body>502 Bad Gateway</body></html>")

    with pytest.raises(SmsTemporaryError) as caught:
        gateway.send(sms())

    assert caught.value.code is None


def test_a_dropped_connection_is_temporary(gateway, twilio):
    twilio.drop_next()

    with pytest.raises(SmsTemporaryError, match="could not be reached"):
        gateway.send(sms())

    assert twilio.messages == []
    assert twilio.requests == 1


def test_an_unreachable_twilio_is_temporary(twilio):
    base_url = twilio.base_url
    twilio.stop()
    gateway = TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=base_url, timeout=2.0)

    with pytest.raises(SmsTemporaryError):
        gateway.send(sms())


@pytest.mark.parametrize(
    "code, message",
    [
        (21211, "The 'To' number +4072212345 is not a valid phone number."),
        (21610, "Attempt to send to unsubscribed recipient"),
        (21614, "'To' number is not a valid mobile number"),
    ],
)
def test_refusals_are_permanent_with_twilios_code(gateway, twilio, code, message):
    twilio.fail_next(status=400, code=code, message=message)

    with pytest.raises(SmsPermanentError) as caught:
        gateway.send(sms())

    assert caught.value.code == code
    assert message in str(caught.value)


def test_any_other_client_error_is_permanent(gateway, twilio):
    twilio.fail_next(status=403, code=20008, message="Resource not accessible with Test Account Credentials")

    with pytest.raises(SmsPermanentError) as caught:
        gateway.send(sms())

    assert caught.value.code == 20008


def test_wrong_credentials_are_permanent(twilio):
    gateway = TwilioGateway(twilio.account_sid, "wrong-token", base_url=twilio.base_url, timeout=2.0)

    with pytest.raises(SmsPermanentError) as caught:
        gateway.send(sms())

    assert caught.value.code == 20003
    assert "401" in str(caught.value)
    assert twilio.messages == []


def test_missing_credentials_are_refused_up_front():
    # twilio.rest.Client would otherwise pick up TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN from the environment.
    with pytest.raises(ValueError):
        TwilioGateway("", "")


def test_edge_and_region_do_not_mangle_the_base_url(twilio, monkeypatch):
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    gateway = TwilioGateway(twilio.account_sid, twilio.auth_token, base_url=twilio.base_url, timeout=2.0)

    assert gateway.send(sms()).sid == twilio.messages[0]["sid"]


def test_find_sent_finds_an_accepted_message(gateway, since):
    sent = gateway.send(sms())

    found = gateway.find_sent(MOBILE, sms().body, since)

    assert found == SentSms(sid=sent.sid, status="sent")


def test_find_sent_finds_a_message_whose_answer_was_lost(gateway, twilio, since):
    twilio.accept_then_drop_next()
    with pytest.raises(SmsTemporaryError):
        gateway.send(sms())

    found = gateway.find_sent(MOBILE, sms().body, since)

    [stored] = twilio.messages
    assert found is not None and found.sid == stored["sid"]


def test_find_sent_accepts_a_local_time(gateway):
    bucharest = datetime.now(ZoneInfo("Europe/Bucharest"))
    sent = gateway.send(sms())

    assert gateway.find_sent(MOBILE, sms().body, bucharest).sid == sent.sid


def test_find_sent_returns_none_when_nothing_matches(gateway, since):
    gateway.send(sms("Another text"))
    gateway.send(OutgoingSms(to="+40733000000", body=sms().body, sender=SENDER))

    assert gateway.find_sent(MOBILE, sms().body, since) is None


def test_find_sent_ignores_older_messages(gateway, since):
    gateway.send(sms())

    assert gateway.find_sent(MOBILE, sms().body, since + timedelta(minutes=5)) is None


def test_find_sent_classifies_failures_like_send(gateway, twilio, since):
    twilio.fail_next(status=500)
    with pytest.raises(SmsTemporaryError) as caught:
        gateway.find_sent(MOBILE, "x", since)
    assert caught.value.code == 20500

    twilio.drop_next()
    with pytest.raises(SmsTemporaryError):
        gateway.find_sent(MOBILE, "x", since)


def test_find_sent_with_wrong_credentials_is_permanent(twilio, since):
    gateway = TwilioGateway(twilio.account_sid, "wrong-token", base_url=twilio.base_url, timeout=2.0)

    with pytest.raises(SmsPermanentError) as caught:
        gateway.find_sent(MOBILE, "x", since)

    assert caught.value.code == 20003


def test_find_sent_needs_an_aware_time(gateway):
    with pytest.raises(ValueError):
        gateway.find_sent(MOBILE, "x", datetime.now())


def test_the_log_gateway_only_logs(caplog):
    gateway = LogGateway()

    with caplog.at_level(logging.INFO, logger="ivr.sms"):
        sent = gateway.send(sms())

    assert sent.status == "logged"
    assert sent.sid.startswith("LG") and len(sent.sid) == 34
    [record] = [r for r in caplog.records if r.name == "ivr.sms"]
    assert "not sent: no Twilio credentials" in record.getMessage()
    assert MOBILE in record.getMessage() and sms().body in record.getMessage()
    assert gateway.find_sent(MOBILE, sms().body, datetime.now(timezone.utc)) is None


def test_the_twilio_client_writes_no_line_per_request_in_a_configured_hotline(app, gateway, twilio, caplog):
    """twilio's HTTP client logs about eleven INFO lines per request (URL, headers); the hotline
    keeps it to warnings, so a busy outbox does not flood the log."""
    with caplog.at_level(logging.INFO):
        gateway.send(sms())
    assert twilio.messages and not [r.getMessage() for r in caplog.records if r.name.startswith("twilio")]


def test_one_gateway_sends_from_several_threads_each_with_its_own_client(gateway, twilio):
    """The dispatcher sends a batch from a few threads; each thread gets a client of its own (the
    twilio HTTP client keeps each request's state on itself), and every answer is its own SMS's."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        sent = list(pool.map(lambda i: (gateway.send(sms(f"SMS {i}")), gateway._client), range(12)))
    clients = {id(client) for _, client in sent}
    assert 1 < len(clients) <= 4
    by_sid = {m["sid"]: m["body"] for m in twilio.messages}
    assert [by_sid[result.sid] for result, _ in sent] == [f"SMS {i}" for i in range(12)]
