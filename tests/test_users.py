"""Console accounts without HTTP: sign-in throttling per name and address, password change,
disabling and session generations, on SQLite and (with IVR_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ivr.errors import AccountError, SignInThrottled
from ivr.models import SignInThrottle
from ivr.users import FORGET_FAILURES_AFTER, add_user, disable_user, end_sessions, set_password, sign_in

from conftest import bucharest

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
