"""Each test's own database: a SQLite file, or a schema of the PostgreSQL database that
IVR_TEST_DATABASE_URL names, empty or at the latest schema (a copy of the run's template,
``SchemaTemplate``). conftest.py's fixtures hand them out; ``benchmarks/test_suite.py``
measures them."""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

POSTGRES_URL = os.environ.get("IVR_TEST_DATABASE_URL")
NO_POSTGRES = "PostgreSQL: set IVR_TEST_DATABASE_URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test (.ci/run does)"


def _postgres_schema_url(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


@functools.cache
def _postgres_admin_engine():
    """One engine for the tests' CREATE and DROP SCHEMA, rather than a connection per statement."""
    from sqlalchemy import create_engine

    return create_engine(POSTGRES_URL)


def _postgres_admin(sql: str) -> None:
    from sqlalchemy import text

    with _postgres_admin_engine().begin() as connection:
        connection.execute(text(sql))


class SchemaTemplate:
    """The latest schema, made once per session by the real migrations and copied into each
    test's database. SQLite gets a copy of the upgraded file (under a millisecond, where Alembic
    took 0.1 to 0.3 s); PostgreSQL gets the statements the migrations ran, replayed in the test's
    own schema without Alembic (a third of its time, or less). Every test still has a database
    of its own, dropped after it."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._sqlite: Path | None = None
        self._postgres: list[tuple[str, Any]] | None = None

    def sqlite_file(self) -> Path:
        if self._sqlite is None:
            from ivr.db import Database

            self._folder = Path(tempfile.mkdtemp(prefix="ivr-template-"))
            path = self._folder / "ivr-template.sqlite3"
            database = Database.connect(f"sqlite:///{path}")
            database.upgrade()
            database.engine.dispose()
            # The last connection's close folds the write-ahead log into the file: only the
            # file itself is copied.
            assert not path.with_name(path.name + "-wal").exists()
            self._sqlite = path
        return self._sqlite

    def postgres_statements(self) -> list[tuple[str, Any]]:
        """The statements Alembic sent while upgrading an empty schema, reads left out. They
        name no schema (the search_path picks it), so they make the same tables in another."""
        if self._postgres is None:
            from sqlalchemy import event

            from ivr.db import Database

            schema = "ivr_template_" + secrets.token_hex(6)
            _postgres_admin(f"CREATE SCHEMA {schema}")
            database = Database.connect(_postgres_schema_url(schema))
            sent: list[tuple[str, Any]] = []

            @event.listens_for(database.engine, "before_cursor_execute")
            def keep(_connection, _cursor, statement, parameters, _context, _executemany) -> None:
                sent.append((statement, parameters))

            try:
                database.upgrade()
            finally:
                database.engine.dispose()
                _drop_schema(schema)
            self._postgres = [(s, p) for s, p in sent if s.lstrip().split(None, 1)[0].upper() not in ("SELECT", "SET")]
        return self._postgres

    def copy_sqlite(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.sqlite_file(), path)

    def create_postgres_schema(self, schema: str, upgraded: bool) -> None:
        """A schema, empty or with the template's tables: sent in one go (psycopg's pipeline),
        as the round trips of one statement after another cost more than the statements."""
        statements = self.postgres_statements() if upgraded else []
        with _postgres_admin_engine().begin() as connection:
            driver = connection.connection.driver_connection
            with driver.pipeline(), driver.cursor() as cursor:
                cursor.execute(f"CREATE SCHEMA {schema}")
                cursor.execute(f"SET LOCAL search_path TO {schema}")
                for statement, parameters in statements:
                    cursor.execute(statement, parameters)

    def remove(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


SCHEMA_TEMPLATE = SchemaTemplate()


def remove_template() -> None:
    """The template's folder and the admin connections go (at the end of a run)."""
    SCHEMA_TEMPLATE.remove()
    if POSTGRES_URL:
        _postgres_admin_engine().dispose()


def database_url_for(kind: str, tmp_path: Path, upgraded: bool = False):
    """A database of ``kind`` of its own: a SQLite file, or a PostgreSQL schema. Empty, or with
    ``upgraded`` at the latest schema (a copy of the session's template, see SchemaTemplate).
    A generator: the PostgreSQL schema is dropped when it resumes."""
    if kind == "sqlite":
        path = tmp_path / "ivr-test.sqlite3"
        if upgraded:
            SCHEMA_TEMPLATE.copy_sqlite(path)
        yield f"sqlite:///{path}"
        return
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    schema = "ivr_test_" + secrets.token_hex(6)
    SCHEMA_TEMPLATE.create_postgres_schema(schema, upgraded)
    try:
        yield _postgres_schema_url(schema)
    finally:
        _drop_schema(schema)


def _drop_schema(schema: str) -> None:
    """Drop a test's schema; a background writer of an app the test made (the call log, the
    journal replay) may still hold a lock for a moment, so a deadlock is tried again."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(5):
        try:
            _postgres_admin(f"DROP SCHEMA {schema} CASCADE")
            return
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(0.5)
