"""Only Twilio may drive the hotline: every webhook checks X-Twilio-Signature."""

from __future__ import annotations

import pytest

from conftest import CALL_SID, sign

FORM = {"CallSid": CALL_SID, "From": "+40722123456", "To": "+40215894141"}
WEBHOOKS = [
    "/voice/incoming", "/voice/menu?lang=ro&attempt=1", "/voice/whisper/technical",
    "/voice/dial-status/technical?lang=ro", "/voice/sms-number/technical?lang=ro&asked=1",
    "/voice/client-code/technical?lang=ro&sms=&asked=1",
    "/voice/record/technical?lang=ro&take=2", "/voice/recorded/technical?lang=ro",
    "/voice/recording-status/technical?lang=ro",
]


@pytest.mark.parametrize("path", WEBHOOKS)
def test_unsigned_request_is_forbidden(client, path):
    assert client.post(path, data=FORM).status_code == 403


@pytest.mark.parametrize("path", WEBHOOKS)
def test_forged_signature_is_forbidden(client, path):
    headers = sign("http://localhost" + path, FORM, token="not-our-token")
    assert client.post(path, data=FORM, headers=headers).status_code == 403


def test_tampered_parameters_are_forbidden(client):
    headers = sign("http://localhost/voice/incoming", FORM)
    assert client.post("/voice/incoming", data={**FORM, "From": "+40700000000"}, headers=headers).status_code == 403


def test_tampered_query_string_is_forbidden(client):
    headers = sign("http://localhost/voice/menu?lang=ro&attempt=1", {**FORM, "Digits": "1"})
    assert client.post("/voice/menu?lang=en&attempt=1", data={**FORM, "Digits": "1"}, headers=headers).status_code == 403


def test_signed_request_is_answered(client):
    headers = sign("http://localhost/voice/incoming", FORM)
    reply = client.post("/voice/incoming", data=FORM, headers=headers)
    assert reply.status_code == 200
    assert reply.mimetype == "text/xml"


def test_behind_a_trusted_proxy_the_forwarded_url_is_checked(app_config):
    from ivr import create_app

    app_config["TRUSTED_PROXIES"] = 1
    client = create_app(app_config).test_client()
    public = "https://hotline.example.ro/voice/incoming"
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hotline.example.ro"}
    assert client.post("/voice/incoming", data=FORM, headers={**proxied, **sign(public, FORM)}).status_code == 200
    # Signed for the public URL but the proxy headers are missing: the URL differs, so refused.
    assert client.post("/voice/incoming", data=FORM, headers=sign(public, FORM)).status_code == 403


def test_ivr_public_url_wins(app_config):
    from ivr import create_app

    app_config["PUBLIC_URL"] = "https://ivr.example.ro/"
    client = create_app(app_config).test_client()
    path = "/voice/menu?lang=ro&attempt=1"
    assert client.post(path, data=FORM, headers=sign("https://ivr.example.ro" + path, FORM)).status_code == 200
    assert client.post(path, data=FORM, headers=sign("http://localhost" + path, FORM)).status_code == 403


def test_missing_call_sid_is_a_bad_request(client):
    form = {"From": "+40722123456"}
    assert client.post("/voice/incoming", data=form, headers=sign("http://localhost/voice/incoming", form)).status_code == 400


def test_get_is_not_allowed(client):
    assert client.get("/voice/incoming").status_code == 405




# The check computes one HMAC where RequestValidator.validate computes two: it must still accept
# and refuse exactly what the library does, whichever port form Twilio signed.
SIGNED_URLS = [
    "https://ivr.example.ro/voice/incoming", "https://ivr.example.ro:443/voice/incoming",
    "http://localhost/voice/menu?lang=ro&attempt=1", "http://localhost:80/voice/menu?lang=ro&attempt=1",
    "http://127.0.0.1:8000/voice/incoming", "https://ivr.example.ro:8443/voice/record/pl%C4%83%C8%9Bi?lang=ro",
]


@pytest.mark.parametrize("algorithm", [None, "HMAC_SHA1", "HMAC_SHA256", "HMAC_MD5"])
@pytest.mark.parametrize("requested", SIGNED_URLS)
@pytest.mark.parametrize("signed", SIGNED_URLS)
def test_the_signature_is_accepted_exactly_as_twilio_validates_it(requested, signed, algorithm):
    from werkzeug.datastructures import MultiDict
    from twilio.request_validator import RequestValidator

    from ivr.twilio_auth import signed_by_twilio

    validator = RequestValidator("our-token")
    form = MultiDict([*FORM.items(), ("Digits", "1"), ("Digits", "2")])
    signature = validator.compute_signature(signed, form, algorithm if algorithm != "HMAC_MD5" else None)
    for given in (signature, signature[:-2] + "x=", ""):
        expected = validator.validate(requested, form, given, algorithm)
        assert signed_by_twilio(validator, requested, form, given, algorithm) is expected
    # The two port forms of one URL are one signature; any other URL is not.
    same = requested.replace(":443/", "/").replace(":80/", "/") == signed.replace(":443/", "/").replace(":80/", "/")
    assert signed_by_twilio(validator, requested, form, signature, algorithm) is (same and algorithm != "HMAC_MD5")


def test_a_request_signed_with_the_default_port_is_answered(client):
    """Twilio signs some URLs with :443 or :80 although the request's Host has no port."""
    headers = sign("http://localhost:80/voice/incoming", FORM)
    assert client.post("/voice/incoming", data=FORM, headers=headers).status_code == 200
    headers = sign("http://localhost:8080/voice/incoming", FORM)
    assert client.post("/voice/incoming", data=FORM, headers=headers).status_code == 403
