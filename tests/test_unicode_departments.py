"""Department keys written with diacritics (``plăți``): Twilio signs the URL as it sent it,
percent-encoded, and every webhook of such a department must still pass the signature check."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from ivr import create_app
from ivr.config import load_routing
from ivr.errors import ConfigError
from ivr.models import Ticket

from conftest import AUTH_TOKEN, CALL_SID, edit, sign
from servers import hotline_env, server_process, waitress_thread

ENCODED = "/voice/record/pl%C4%83%C8%9Bi?lang=ro&take=2"
FORM = {"CallSid": CALL_SID, "From": "+40722123456", "To": "+40215894141"}


@pytest.fixture
def app_with_plati(config_dir: Path, app_config: dict):
    """The hotline whose payments department is keyed ``plăți`` in routing.yaml."""
    edit(config_dir / "routing.yaml", "  payments:\n", "  plăți:\n")
    return create_app(app_config)


def test_a_whole_call_to_a_department_with_diacritics(app_with_plati):
    from ivr.softphone import Call, ScriptedCaller, WsgiTransport

    ui = ScriptedCaller(["2"], ["no-answer"], [20])
    log = Call("http://localhost", AUTH_TOKEN, WsgiTransport(app_with_plati), ui).run()
    assert {status for _, _, status in log.requests} <= {200, 204}
    assert any("/voice/dial-status/pl%C4%83%C8%9Bi" in url for url, _, _ in log.requests)
    assert "Reclamația a fost înregistrată cu numărul" in ui.transcript
    with app_with_plati.extensions["ivr.db"].session() as session:
        assert session.scalars(select(Ticket.department)).one() == "plăți"


def test_signed_for_the_encoded_url_is_accepted_and_the_decoded_one_refused(app_with_plati):
    client = app_with_plati.test_client()
    assert client.post(ENCODED, data=FORM, headers=sign("http://localhost" + ENCODED, FORM)).status_code == 200
    decoded = "http://localhost/voice/record/plăți?lang=ro&take=2"
    assert client.post(ENCODED, data=FORM, headers=sign(decoded, FORM)).status_code == 403


def test_the_path_is_requoted_when_the_server_gives_no_raw_uri(app_with_plati):
    client = app_with_plati.test_client()
    bare = {"REQUEST_URI": None, "RAW_URI": None}  # a server that does not pass the request line on
    reply = client.post(ENCODED, data=FORM, headers=sign("http://localhost" + ENCODED, FORM), environ_overrides=bare)
    assert reply.status_code == 200


def test_under_waitress_the_url_as_sent_is_checked(app_with_plati):
    import requests

    with waitress_thread(app_with_plati) as base:
        url = base + ENCODED
        assert requests.post(url, data=FORM, headers=sign(url, FORM), timeout=10).status_code == 200
        decoded = base + "/voice/record/plăți?lang=ro&take=2"
        assert requests.post(url, data=FORM, headers=sign(decoded, FORM), timeout=10).status_code == 403


@pytest.mark.slow
def test_under_gunicorn_the_url_as_sent_is_checked(app_with_plati, config_dir: Path, tmp_path: Path):
    import requests

    with server_process("gunicorn", hotline_env(config_dir, tmp_path)) as base:
        url = base + ENCODED
        assert requests.post(url, data=FORM, headers=sign(url, FORM), timeout=10).status_code == 200


@pytest.mark.parametrize("key", ["a/b", "two words", "50%", "tehnic.", "ta#x", ""])
def test_a_department_key_that_cannot_be_a_url_segment_is_refused(config_dir: Path, key):
    edit(config_dir / "routing.yaml", "  payments:\n", f'  "{key}":\n')
    with pytest.raises(ConfigError) as caught:
        load_routing(config_dir / "routing.yaml")
    message = str(caught.value)
    assert "routing.yaml" in message and f"departments.{key}" in message and "letters" in message


def test_romanian_letters_make_a_valid_key(config_dir: Path):
    edit(config_dir / "routing.yaml", "  payments:\n", "  plăți_și-facturi:\n")
    assert "plăți_și-facturi" in load_routing(config_dir / "routing.yaml").departments
