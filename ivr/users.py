"""Console users: adding them, changing their password, disabling them, and signing them in.

Repeated failed sign-ins are slowed down per (user name, client address): an attacker who
knows a name cannot keep its user out from elsewhere, and an unknown name is throttled
exactly like a known one, so the answers never tell which names exist. A user's session
generation, kept in the session cookie, ends every session when it is bumped (sign-out,
password change, disable).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .errors import AccountError, SignInThrottled
from .models import SignInThrottle, User
from .phone import caller_from
from .states import Role

log = logging.getLogger(__name__)
_hasher = PasswordHasher()
FREE_FAILURES = 3                      # wrong passwords allowed before each try must wait
MAX_WAIT = timedelta(minutes=15)
FORGET_FAILURES_AFTER = timedelta(days=1)  # a pair quiet this long starts again with free tries
MIN_PASSWORD = 8


@cache
def _dummy_hash() -> str:
    """Verifying against this keeps an unknown name as slow as a wrong password. Made on the
    first sign-in, not at import: one hash costs ~0.4 s, which every start-up (and every `ivr`
    command) would pay otherwise."""
    return _hasher.hash("not a real password")


def add_user(session: Session, name: str, password: str, role: str, now: datetime, phone: str | None = None) -> User:
    name = name.strip()
    if not name or len(name) > 64 or not name.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise AccountError(f'"{name}" is not a user name (letters, digits, . - _)')
    if role not in Role.ALL:
        raise AccountError(f'"{role}" is not a role ({", ".join(Role.ALL)})')
    check_password(password)
    if session.scalar(select(User).where(User.name == name)):
        raise AccountError(f'there is already a user "{name}"')
    user = User(name=name, password_hash=_hasher.hash(password), role=role, created_at=now)
    session.add(user)
    if phone:
        set_phone(session, user, phone)
    return user


def set_phone(session: Session, user: User | str, phone: str | None) -> None:
    """The phone the user answers hotline calls on (E.164, +40...), or None to remove it."""
    user = _named(session, user) if isinstance(user, str) else user
    if not phone:
        user.phone = None
        return
    parsed = caller_from(phone, "ZZ")  # no home region: the number must carry its country code
    if parsed.e164 is None or not phone.strip().startswith("+"):
        raise AccountError(f'"{phone}" is not a phone number such as +40215894141')
    taken = session.scalar(select(User).where(User.phone == parsed.e164, User.name != user.name))
    if taken is not None:
        raise AccountError(f"{parsed.e164} is already the phone of {taken.name}")
    user.phone = parsed.e164


def check_password(password: str) -> None:
    """Raise AccountError when ``password`` breaks the rule (MIN_PASSWORD characters or more)."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")


def _named(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name.strip()).with_for_update())
    if user is None:
        raise AccountError(f'there is no user "{name.strip()}"')
    return user


def find_user(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name.strip()))


def all_users(session: Session) -> list[User]:
    """Every console user, disabled ones included, by name."""
    return list(session.scalars(select(User).order_by(User.name)))


def set_password(session: Session, name: str, password: str) -> User:
    """Give ``name`` a new password and end all of its sessions."""
    check_password(password)
    user = _named(session, name)
    user.password_hash = _hasher.hash(password)
    user.session_generation += 1
    return user


def disable_user(session: Session, name: str) -> User:
    """Refuse ``name``'s sign-ins from now on and end all of its sessions."""
    user = _named(session, name)
    user.active = False
    user.session_generation += 1
    return user


def end_sessions(session: Session, user_id: int) -> None:
    """Sign the user out everywhere: every cookie carrying the old generation stops working."""
    session.execute(update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1))


def _wait_after(failures: int) -> timedelta:
    return min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_WAIT)


def _throttle_key(name: str, source: str) -> tuple[str, str]:
    return name.strip()[:64], source[:64]


def _record_failure(session: Session, name: str, source: str, now: datetime) -> None:
    """Count a failure for the pair; from FREE_FAILURES on, the pair must wait longer each time."""
    session.execute(delete(SignInThrottle).where(SignInThrottle.last_failure_at < now - FORGET_FAILURES_AFTER))
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(SignInThrottle).values(name=name, source=source, failures=0, last_failure_at=now)
                    .on_conflict_do_nothing())
    throttle = session.scalar(select(SignInThrottle).where(SignInThrottle.name == name, SignInThrottle.source == source)
                              .with_for_update())
    throttle.failures += 1
    throttle.last_failure_at = now
    if throttle.failures >= FREE_FAILURES:
        throttle.locked_until = now + _wait_after(throttle.failures)


def sign_in(session: Session, name: str, password: str, now: datetime, source: str = "") -> User | None:
    """The user when name and password match and the user is active; None otherwise. After
    FREE_FAILURES wrong tries for a name from one address, each further try from there must
    wait longer (1 s, 2 s, 4 s ... 15 min): SignInThrottled, for known and unknown names alike."""
    key = _throttle_key(name, source)
    throttle = session.scalar(select(SignInThrottle).where(SignInThrottle.name == key[0], SignInThrottle.source == key[1]))
    if throttle is not None and throttle.locked_until and throttle.locked_until > now:
        log.warning("sign-in of %r from %s refused: throttled until %s", name, source, throttle.locked_until)
        raise SignInThrottled(int((throttle.locked_until - now).total_seconds()) + 1)
    dummy = _dummy_hash()  # before the lookup: the first sign-in pays it whatever the name, never only an unknown one
    user = session.scalar(select(User).where(User.name == name.strip()))
    try:
        _hasher.verify(user.password_hash if user else dummy, password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        _record_failure(session, *key, now)
        log.warning("failed sign-in for %r from %s", name, source)
        return None
    if throttle is not None:
        session.delete(throttle)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user
