"""Sessions that only read (``Database.reading``, and ``reading_connection`` for Core statements
alone): on SQLite they neither wait for the write lock nor hold it, they refuse to write, and
the pooled connection they leave behind writes again."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ivr.db import Database
from ivr.models import User

from conftest import transaction_left_open


@pytest.fixture
def database(upgraded_database: Database) -> Database:
    """The latest schema on SQLite (and PostgreSQL when configured), with one pooled connection,
    so that a reading session and a writing one take turns on the same connection."""
    database = Database.connect(upgraded_database.engine.url.render_as_string(hide_password=False),
                                pool_size=1, max_overflow=0)
    yield database
    database.engine.dispose()


@pytest.fixture(params=["reading", "reading_connection"])
def reading(request, database: Database):
    """One of the database's ways to read: ``with reading() as session_or_connection``."""
    return getattr(database, request.param)


def _users(reading) -> int:
    with reading() as session:
        return session.scalar(text("SELECT count(*) FROM users"))


def _add_user(session, name: str) -> None:
    session.add(User(name=name, password_hash="x", created_at=datetime.now(timezone.utc)))
    session.flush()


def test_a_read_neither_waits_for_a_writer_nor_sees_what_it_has_not_committed(reading, upgraded_database):
    with transaction_left_open(upgraded_database, lambda session: _add_user(session, "ana")):
        started = time.monotonic()
        assert _users(reading) == 0
        assert time.monotonic() - started < 5  # a write session would wait up to 30 s on SQLite
    assert _users(reading) == 1


def test_a_read_refuses_to_write_on_sqlite(database, reading):
    if database.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's reading sessions are sessions like any other")
    with pytest.raises(OperationalError, match="readonly"):
        with reading() as session:
            session.execute(text("INSERT INTO users (name, password_hash, created_at) VALUES ('ana', 'x', '2026-11-23')"))
            session.commit()
    assert _users(reading) == 0


def test_the_connection_a_read_used_writes_again(database, reading):
    assert _users(reading) == 0  # the pool's only connection, last used to read
    with database.session() as session, session.begin():
        _add_user(session, "ana")
    assert _users(reading) == 1
    with database.session() as session, session.begin():
        _add_user(session, "ion")
    assert _users(reading) == 2
