"""The console under attack: sessions that end when they should, framing and content headers,
sign-in throttling that neither locks a user out nor tells who exists, safe redirects, and
request values that must never give a 500."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.cli import main
from ivr import inputs

from conftest import AUTH_TOKEN
from console_client import PASSWORD, csrf, sign_in, voicemail

TEMPLATES = Path(__file__).resolve().parent.parent / "ivr" / "templates" / "console"
ATTACKER, OFFICE = "203.0.113.66", "198.51.100.7"


def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def _replay(app, cookie: str):
    """A fresh client presenting a saved session cookie: what a thief of the cookie would do."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get("/console/")


@pytest.fixture
def ivr(runner, monkeypatch, config_dir, database_url):
    """Run ``ivr ...`` on the test app's database; returns the click result."""
    monkeypatch.chdir(config_dir)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("IVR_DATABASE_URL", database_url)
    return lambda *args, input=None: runner.invoke(main, list(args), input=input)


# -- 15: a session ends on sign-out, password change and disable -------------------------------

def test_a_cookie_saved_before_sign_out_no_longer_works(app, users):
    client = app.test_client()
    sign_in(client, "ana")
    saved = _session_cookie(client)
    assert _replay(app, saved).status_code == 200
    client.post("/console/logout", data={"csrf_token": csrf(client.get("/console/"))})
    reply = _replay(app, saved)
    assert reply.status_code == 302 and "/console/login" in reply.location


def test_a_password_change_ends_every_session_and_the_old_password(app, users, ivr):
    client = app.test_client()
    sign_in(client, "ana")
    saved = _session_cookie(client)
    new = "a brand new passphrase"
    result = ivr("user", "passwd", "ana", input=f"{new}\n{new}\n")
    assert result.exit_code == 0, result.output
    assert "password of ana changed" in result.output
    assert _replay(app, saved).status_code == 302
    assert sign_in(app.test_client(), "ana", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "ana", new).status_code == 302


def test_passwd_refuses_unknown_users_and_short_passwords(users, ivr):
    unknown = ivr("user", "passwd", "nobody", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert unknown.exit_code == 1 and 'no user "nobody"' in unknown.output
    short = ivr("user", "passwd", "ana", input="short\nshort\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output


def test_disabling_a_user_ends_their_sessions_and_sign_ins(app, users, ivr):
    client = app.test_client()
    sign_in(client, "ana")
    saved = _session_cookie(client)
    result = ivr("user", "disable", "ana")
    assert result.exit_code == 0 and "user ana disabled" in result.output
    assert _replay(app, saved).status_code == 302
    assert sign_in(app.test_client(), "ana").status_code == 401
    assert ivr("user", "disable", "nobody").exit_code == 1


# -- 16: framing and content headers --------------------------------------------------------------

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _assert_protected(reply) -> None:
    for header, value in SECURITY_HEADERS.items():
        assert reply.headers.get(header) == value, (reply.request.path, header)
    policy = reply.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_every_console_response_carries_the_security_headers(app, db, clock, users):
    [number] = voicemail(app, db, clock)
    client = app.test_client()
    _assert_protected(client.get("/console/"))            # a redirect to sign in
    _assert_protected(client.get("/console/login"))
    _assert_protected(sign_in(client, "ana", "wrong password"))
    _assert_protected(sign_in(client, "ana"))
    for path in ("/console/", f"/console/tickets/{number}", "/console/overview", "/console/no-such-page",
                 "/console/language/en", "/static/console.css"):
        _assert_protected(client.get(path))


def test_templates_have_no_inline_script_or_style():
    for template in TEMPLATES.glob("*.html"):
        source = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", source), template.name
        assert not re.search(r"\son[a-z]+\s*=", source), template.name
        assert not re.search(r"\sstyle\s*=|<style", source), template.name
        assert "javascript:" not in source, template.name


# -- 17: throttling per name and address, the same answer for every name --------------------------

def _try(app, name: str, password: str, address: str):
    """Sign in from ``address``; returns (status, the flash message shown)."""
    client = app.test_client()
    token = csrf(client.get("/console/login", environ_base={"REMOTE_ADDR": address}))
    reply = client.post("/console/login", data={"csrf_token": token, "name": name, "password": password},
                        environ_base={"REMOTE_ADDR": address})
    flash = re.search(r'<p class="flash[^"]*"[^>]*>([^<]*)</p>', reply.get_data(as_text=True))
    return reply.status_code, flash.group(1) if flash else ""


def test_known_and_unknown_names_get_the_same_answers(app, users, caplog):
    for name in ("ana", "nobody"):
        answers = [_try(app, name, "wrong password", ATTACKER) for _ in range(4)]
        assert answers[:3] == [(401, "Utilizator sau parolă greșită.")] * 3, name
        assert answers[3][0] == 429 and answers[3][1].startswith("Prea multe încercări greșite"), name
    assert _try(app, "ana", "wrong password", ATTACKER) == _try(app, "nobody", "wrong password", ATTACKER)
    assert "failed sign-in for 'nobody' from 203.0.113.66" in caplog.text
    assert "failed sign-in for 'ana' from 203.0.113.66" in caplog.text


def test_an_attacker_cannot_lock_a_user_out_from_another_address(app, users, caplog):
    for _ in range(6):
        _try(app, "ana", "wrong password", ATTACKER)
    assert _try(app, "ana", PASSWORD, ATTACKER)[0] == 429   # the attacker's address waits, even when right
    assert _try(app, "ana", PASSWORD, OFFICE)[0] == 302     # ana in the office is not kept out
    assert _try(app, "ana", PASSWORD, ATTACKER)[0] == 429   # and her success frees no other address
    assert caplog.text.count("failed sign-in for 'ana' from 203.0.113.66") >= 3


# -- 18: redirect targets -------------------------------------------------------------------------

UNSAFE_TARGETS = [
    "https://evil.example/", "//evil.example/", "/\\evil.example/", "\\\\evil.example", "http:/console/",
    "/console/\r\nSet-Cookie: stolen=1", "/console/\n", "/console/\x00", "/console/\x7f", "/console/\u2028",
    "javascript:alert(1)", "", " /console/", "console/",
]


@pytest.mark.parametrize("target", UNSAFE_TARGETS)
def test_unsafe_redirect_targets_are_refused(target):
    assert inputs.safe_redirect_target(target) is None


@pytest.mark.parametrize("target", ["/console/", "/console/?status=open&page=2", "/console/tickets/RC-2026-000001"])
def test_same_site_paths_are_redirect_targets(target):
    assert inputs.safe_redirect_target(target) == target


@pytest.mark.parametrize("target", UNSAFE_TARGETS)
def test_sign_in_never_follows_an_unsafe_next(app, users, target):
    client = app.test_client()
    token = csrf(client.get("/console/login"))
    reply = client.post("/console/login", query_string={"next": target},
                        data={"csrf_token": token, "name": "ana", "password": PASSWORD})
    assert reply.status_code == 302 and reply.location == "/console/"


def test_sign_in_follows_a_safe_next(app, users):
    client = app.test_client()
    token = csrf(client.get("/console/login"))
    reply = client.post("/console/login?next=/console/%3Fstatus%3Dopen",
                        data={"csrf_token": token, "name": "ana", "password": PASSWORD})
    assert reply.location == "/console/?status=open"


@pytest.mark.parametrize("referrer", ["https://evil.example/", "https://evil.example/console/", "//evil.example/",
                                      "http://localhost.evil.example/console/", "javascript:alert(1)"])
def test_language_switch_never_redirects_off_site(app, users, referrer):
    reply = app.test_client().get("/console/language/en", headers={"Referer": referrer})
    assert reply.status_code == 302 and reply.location == "/console/"


def test_language_switch_returns_to_the_page_it_was_asked_from(app, users):
    reply = app.test_client().get("/console/language/en", headers={"Referer": "http://localhost/console/?status=open"})
    assert reply.location == "/console/?status=open"


@pytest.mark.parametrize("shown_at, page", [
    ("/console/tickets/RC-2026-000001/resolve", "/console/tickets/RC-2026-000001"),   # a preview, a refusal
    ("/console/calls/CA" + "1" * 32 + "/complaint", "/console/calls/CA" + "1" * 32),  # a form sent back with its error
])
def test_language_switch_from_a_page_a_form_was_answered_with_opens_its_page(app, users, shown_at, page):
    """The address of a page the console answered a form with takes only that form: switching
    language there opens the page it belongs to, not the console's "action not allowed"."""
    reply = app.test_client().get("/console/language/en", headers={"Referer": "http://localhost" + shown_at})
    assert reply.location == page


# -- 10: numbers in the query ---------------------------------------------------------------------

@pytest.mark.parametrize("page", ["²", "①", "٣", "1" * 40, "-1", "0"])
def test_odd_page_numbers_show_the_first_page(app, db, clock, users, page):
    [number] = voicemail(app, db, clock)
    client = app.test_client()
    sign_in(client, "ana")
    reply = client.get("/console/", query_string={"page": page})
    assert reply.status_code == 200 and number in reply.get_data(as_text=True)
