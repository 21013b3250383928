"""Behind a reverse proxy: which URL the signature is checked against. X-Forwarded-* headers
count only with IVR_TRUSTED_PROXIES, IVR_PUBLIC_URL overrides everything, and waitress
(``ivr serve``) and gunicorn behave the same."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

from ivr import create_app
from ivr.errors import ConfigError

from conftest import CALL_SID, sign
from servers import hotline_env, server_process

# Runs whole programs for seconds: started first (conftest), left out by -m "not slow".
pytestmark = pytest.mark.slow

PATH = "/voice/incoming"
FORM = {"CallSid": CALL_SID, "From": "+40722123456", "To": "+40215894141"}
PUBLIC = "https://hotline.example.ro"
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "hotline.example.ro"}
SERVERS = ["waitress", "gunicorn"]


def signed_post(base: str, signed_for: str, headers: dict[str, str] | None = None) -> int:
    """Post to ``base`` a webhook signed for the URL ``signed_for``; the status code."""
    headers = {**(headers or {}), **sign(signed_for + PATH, FORM)}
    return requests.post(base + PATH, data=FORM, headers=headers, timeout=10).status_code


@pytest.fixture
def server_env(config_dir: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a hotline process on a copy of the configuration and its own SQLite."""
    return hotline_env(config_dir, tmp_path)


@pytest.mark.parametrize("kind", SERVERS)
def test_one_trusted_proxy_gives_the_public_url(kind, server_env):
    with server_process(kind, {**server_env, "IVR_TRUSTED_PROXIES": "1"}) as base:
        assert signed_post(base, PUBLIC, FORWARDED) == 200
        assert signed_post(base, PUBLIC) == 403  # the proxy did not say so: another URL
        assert signed_post(base, base) == 200


@pytest.mark.parametrize("kind", SERVERS)
def test_without_trusted_proxies_forwarded_headers_are_ignored(kind, server_env):
    with server_process(kind, server_env) as base:
        assert signed_post(base, PUBLIC, FORWARDED) == 403
        assert signed_post(base, base, FORWARDED) == 200
        # gunicorn trusts X-Forwarded-Proto from loopback by default: not here.
        assert signed_post(base, base.replace("http:", "https:"), {"X-Forwarded-Proto": "https"}) == 403


@pytest.mark.parametrize("kind", SERVERS)
def test_ivr_public_url_overrides_every_header(kind, server_env):
    env = {**server_env, "IVR_PUBLIC_URL": "https://ivr.example.ro", "IVR_TRUSTED_PROXIES": "1"}
    with server_process(kind, env) as base:
        assert signed_post(base, "https://ivr.example.ro", FORWARDED) == 200
        assert signed_post(base, "https://ivr.example.ro") == 200
        assert signed_post(base, PUBLIC, FORWARDED) == 403
        assert signed_post(base, base) == 403


def test_forged_forwarded_headers_change_nothing_by_default(client, caplog):
    forged = {**FORWARDED, "X-Forwarded-For": "203.0.113.9"}
    with caplog.at_level(logging.WARNING, logger="ivr.twilio_auth"):
        assert client.post(PATH, data=FORM, headers={**forged, **sign(PUBLIC + PATH, FORM)}).status_code == 403
    assert "203.0.113.9" not in caplog.text
    assert client.post(PATH, data=FORM, headers={**forged, **sign("http://localhost" + PATH, FORM)}).status_code == 200


def test_two_trusted_proxies_take_the_second_last_values(app_config):
    app_config["TRUSTED_PROXIES"] = 2
    client = create_app(app_config).test_client()
    chained = {"X-Forwarded-Proto": "http, https, https", "X-Forwarded-Host": "evil.example, hotline.example.ro, lb.internal"}
    assert client.post(PATH, data=FORM, headers={**chained, **sign(PUBLIC + PATH, FORM)}).status_code == 200


@pytest.mark.parametrize("value", ["-1", "one", "²", "99"])
def test_a_wrong_number_of_trusted_proxies_is_refused(monkeypatch, app_config, value):
    monkeypatch.setenv("IVR_TRUSTED_PROXIES", value)
    app_config.pop("TRUSTED_PROXIES", None)
    with pytest.raises(ConfigError, match="IVR_TRUSTED_PROXIES"):
        create_app(app_config)
