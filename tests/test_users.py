"""Console accounts without HTTP: sign-in throttling per name and address, password change,
disabling and session generations, and the ``ivr user`` commands an administrator runs (list,
add, passwd, disable), on SQLite and (with IVR_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ivr.cli import main
from ivr.errors import AccountError, SignInThrottled
from ivr.models import SignInThrottle
from ivr.users import FORGET_FAILURES_AFTER, add_user, disable_user, end_sessions, find_user, set_password, sign_in

from conftest import AUTH_TOKEN, bucharest

NOW = bucharest(2026, 11, 27, 10, 0)
PASSWORD = "password-1"


@pytest.fixture
def session(upgraded_database):
    """A session on a fresh database holding operator ana; rolled back after the test."""
    with upgraded_database.session() as session:
        add_user(session, "ana", PASSWORD, "operator", NOW)
        session.flush()
        yield session
        session.rollback()


def _fail(session, name: str, source: str, times: int) -> None:
    for _ in range(times):
        assert sign_in(session, name, "wrong", NOW, source=source) is None


@pytest.mark.parametrize("name", ["ana", "nobody"])
def test_failures_are_counted_per_name_and_address(session, name):
    _fail(session, name, "10.0.0.66", 3)
    with pytest.raises(SignInThrottled) as throttled:
        sign_in(session, name, PASSWORD, NOW, source="10.0.0.66")
    assert throttled.value.wait_seconds == 2
    user = sign_in(session, name, PASSWORD, NOW + timedelta(seconds=2), source="10.0.0.66")
    assert (user.name if user else None) == (name if name == "ana" else None)


def test_a_right_password_from_a_quiet_address_goes_through(session):
    _fail(session, "ana", "10.0.0.66", 3)
    assert sign_in(session, "ana", PASSWORD, NOW, source="10.0.0.7").name == "ana"
    with pytest.raises(SignInThrottled):
        sign_in(session, "ana", PASSWORD, NOW, source="10.0.0.66")


def test_success_clears_the_pair_and_old_failures_are_forgotten(session):
    _fail(session, "ana", "10.0.0.7", 2)
    assert sign_in(session, "ana", PASSWORD, NOW, source="10.0.0.7") is not None
    _fail(session, "ana", "10.0.0.7", 2)   # two free tries again, not a throttled third
    _fail(session, "ghost", "10.0.0.66", 1)
    later = NOW + FORGET_FAILURES_AFTER + timedelta(minutes=1)
    assert sign_in(session, "ana", "wrong", later, source="10.0.0.9") is None
    rows = session.execute(select(SignInThrottle.name, SignInThrottle.source, SignInThrottle.failures)).all()
    assert rows == [("ana", "10.0.0.9", 1)]
    assert session.scalar(select(func.count()).select_from(SignInThrottle)) == 1


def test_password_change_disable_and_sign_out_bump_the_generation(session):
    ana = sign_in(session, "ana", PASSWORD, NOW)
    first = ana.session_generation
    end_sessions(session, ana.id)
    session.refresh(ana)
    assert ana.session_generation == first + 1
    set_password(session, "ana", "password-2")
    assert ana.session_generation == first + 2
    assert sign_in(session, "ana", PASSWORD, NOW, source="a") is None
    assert sign_in(session, "ana", "password-2", NOW, source="b") is ana
    disable_user(session, "ana")
    assert ana.session_generation == first + 3 and not ana.active
    assert sign_in(session, "ana", "password-2", NOW, source="c") is None
    with pytest.raises(AccountError, match='no user "ion"'):
        disable_user(session, "ion")
    with pytest.raises(AccountError, match="at least 8"):
        set_password(session, "ana", "short")


# -- ivr user ... ---------------------------------------------------------------------------------

RULE = "Password (at least 8 characters)"


@pytest.fixture
def ivr(runner, monkeypatch, config_dir, any_database_url, upgraded_database):
    """Run ``ivr ...`` on ``upgraded_database`` (the same database); returns click's result."""
    monkeypatch.chdir(config_dir)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("IVR_DATABASE_URL", any_database_url)
    monkeypatch.delenv("IVR_USER_PASSWORD", raising=False)
    return lambda *args, input=None: runner.invoke(main, list(args), input=input)


def _user(database, name: str):
    with database.session() as session:
        return find_user(session, name)


def test_user_list_shows_who_may_sign_in(ivr, upgraded_database):
    assert ivr("user", "list").output == "no users yet: ivr user add NAME\n"
    with upgraded_database.session() as session, session.begin():
        add_user(session, "maria", PASSWORD, "supervisor", NOW)
        add_user(session, "ana", PASSWORD, "operator", NOW + timedelta(days=1), phone="+40215894141")
    assert ivr("user", "disable", "maria").exit_code == 0
    result = ivr("user", "list")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "NAME   ROLE        PHONE         ACTIVE         CREATED",
        "ana    operator    +40215894141  yes            2026-11-28 10:00",
        "maria  supervisor  -             no (disabled)  2026-11-27 10:00",
    ]


def test_the_password_prompt_states_the_rule_and_asks_again(ivr, upgraded_database):
    # A short password, then a repeat that differs: both asked again instead of giving up.
    result = ivr("user", "add", "elena", input="short\nlong-enough-1\nlong-enough-2\nlong-enough-1\nlong-enough-1\n")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(RULE)  # the rule, before anything is typed
    assert "the password needs at least 8 characters; try again" in result.output
    assert "do not match" in result.output and "user elena added as operator" in result.output
    with upgraded_database.session() as session:
        assert sign_in(session, "elena", "long-enough-1", NOW) is not None


def test_passwd_asks_again_and_ends_every_session(ivr, upgraded_database):
    with upgraded_database.session() as session, session.begin():
        add_user(session, "ana", PASSWORD, "operator", NOW)
    generation = _user(upgraded_database, "ana").session_generation
    result = ivr("user", "passwd", "ana", input="1234567\nnew-password\nnew-password\n")
    assert result.exit_code == 0, result.output
    assert result.output.count(RULE) == 2 and "password of ana changed" in result.output
    assert _user(upgraded_database, "ana").session_generation == generation + 1
    with upgraded_database.session() as session:
        assert sign_in(session, "ana", "new-password", NOW) is not None


def test_an_unknown_name_is_refused_before_the_password_is_typed(ivr):
    for command in (("user", "passwd", "nobody"), ("user", "disable", "nobody")):
        result = ivr(*command, input="irrelevant-1\nirrelevant-1\n")
        assert result.exit_code == 1 and 'no user "nobody"' in result.output
        assert RULE not in result.output


def test_an_existing_name_is_refused_before_the_password_is_typed(ivr, upgraded_database):
    with upgraded_database.session() as session, session.begin():
        add_user(session, "ana", PASSWORD, "operator", NOW)
    result = ivr("user", "add", "ana", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 1 and 'already a user "ana"' in result.output and RULE not in result.output


def test_a_short_password_given_without_a_prompt_fails_at_once(ivr, monkeypatch, upgraded_database):
    # Scripts pass it with IVR_USER_PASSWORD: no one could answer a prompt, so no prompt.
    monkeypatch.setenv("IVR_USER_PASSWORD", "short")
    result = ivr("user", "add", "dan")
    assert result.exit_code == 1 and "at least 8 characters" in result.output and RULE not in result.output
    assert _user(upgraded_database, "dan") is None
    monkeypatch.setenv("IVR_USER_PASSWORD", "long-enough-1")
    assert ivr("user", "add", "dan").exit_code == 0


def test_disable_signs_the_user_out_and_keeps_them_out(ivr, upgraded_database):
    with upgraded_database.session() as session, session.begin():
        add_user(session, "ana", PASSWORD, "operator", NOW)
    generation = _user(upgraded_database, "ana").session_generation
    result = ivr("user", "disable", "ana")
    assert result.exit_code == 0 and "user ana disabled; its sessions are signed out" in result.output
    ana = _user(upgraded_database, "ana")
    assert not ana.active and ana.session_generation == generation + 1
    with upgraded_database.session() as session:
        assert sign_in(session, "ana", PASSWORD, NOW) is None
