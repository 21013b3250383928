"""Console users: adding them, and signing them in with repeated failures slowed down."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import AccountError, SignInThrottled
from .models import Role, User

log = logging.getLogger(__name__)
_hasher = PasswordHasher()
FREE_FAILURES = 3                      # wrong passwords allowed before each try must wait
MAX_WAIT = timedelta(minutes=15)
MIN_PASSWORD = 8
# Verifying against this keeps an unknown name as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")


def add_user(session: Session, name: str, password: str, role: str, now: datetime) -> User:
    name = name.strip()
    if not name or len(name) > 64 or not name.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise AccountError(f'"{name}" is not a user name (letters, digits, . - _)')
    if role not in Role.ALL:
        raise AccountError(f'"{role}" is not a role ({", ".join(Role.ALL)})')
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password needs at least {MIN_PASSWORD} characters")
    if session.scalar(select(User).where(User.name == name)):
        raise AccountError(f'there is already a user "{name}"')
    user = User(name=name, password_hash=_hasher.hash(password), role=role, created_at=now)
    session.add(user)
    return user


def _wait_after(failures: int) -> timedelta:
    return min(timedelta(seconds=2 ** (failures - FREE_FAILURES)), MAX_WAIT)


def sign_in(session: Session, name: str, password: str, now: datetime, source: str = "") -> User | None:
    """The user when name and password match; None otherwise. After FREE_FAILURES wrong
    passwords each further try must wait longer (1 s, 2 s, 4 s ... 15 min): SignInThrottled."""
    user = session.scalar(select(User).where(User.name == name.strip()).with_for_update())
    if user is not None and user.locked_until and user.locked_until > now:
        log.warning("sign-in of %s from %s refused: throttled until %s", name, source, user.locked_until)
        raise SignInThrottled(int((user.locked_until - now).total_seconds()) + 1)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= FREE_FAILURES:
                user.locked_until = now + _wait_after(user.failed_logins)
        log.warning("failed sign-in for %r from %s", name, source)
        return None
    user.failed_logins, user.locked_until = 0, None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user
