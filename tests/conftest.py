"""Shared fixtures: an app on the shipped configuration, a settable clock, a signed client
and a softphone that places whole calls through the WSGI stack."""

from __future__ import annotations

import functools
import threading
import os
import secrets
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.softphone import Call, ScriptedCaller, WsgiTransport

import built_once

ROOT = Path(__file__).resolve().parent.parent
# The tests' routing.yaml: the shipped menu and hours with every kind of term (see its header).
TEST_ROUTING = ROOT / "tests" / "routing.yaml"
BUCHAREST = ZoneInfo("Europe/Bucharest")
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
BASE_URL = "http://localhost"
CALL_SID = "CA" + "1" * 32
POSTGRES_URL = os.environ.get("IVR_TEST_DATABASE_URL")
# PostgreSQL runs only with IVR_TEST_DATABASE_URL, but its tests are always collected, so that
# without it they show as skipped with the reason rather than vanish.
DATABASES = ["sqlite", "postgresql"]


NO_POSTGRES = "PostgreSQL: set IVR_TEST_DATABASE_URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test (.ci/run does)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Without IVR_TEST_DATABASE_URL, a test's PostgreSQL variant is skipped before its set-up
    starts (a folder, a copy of the configuration) rather than at its database."""
    if POSTGRES_URL:
        return
    for item in items:
        params = getattr(item, "callspec", None) and item.callspec.params
        if params and "postgresql" in (params.get("any_database_url"), params.get("any_empty_database_url")):
            item.add_marker(pytest.mark.skip(reason=NO_POSTGRES))


def bucharest(*args: int) -> datetime:
    """A wall-clock time in the hotline's timezone."""
    return datetime(*args, tzinfo=BUCHAREST)


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True, scope="session")
def instance_elsewhere(tmp_path_factory) -> Path:
    """The instance folder (secret key, trial token, local database) of every app and ``ivr``
    command a test makes, in a temporary folder: the tests write nothing into the working tree."""
    folder = tmp_path_factory.mktemp("instance")
    os.environ["IVR_INSTANCE_DIR"] = str(folder)
    return folder


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashes():
    """Passwords hashed by argon2 at its lowest cost in the tests' own process. The shipped cost
    (64 MiB, 3 passes, 4 lanes) is meant to be slow: 0.1 to 1 s for each user a test adds and
    each sign-in, on a busy 2-core machine. What the tests check (right or wrong password,
    throttling, rehashing on sign-in) does not depend on the cost; ``ivr`` processes the tests
    start hash at the shipped cost."""
    from argon2 import PasswordHasher

    import ivr.users

    quick = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ivr.users, "_hasher", quick)
        patch.setattr(ivr.users, "_dummy_hash", lambda: quick.hash("not a real password"))
        yield


@pytest.fixture(autouse=True, scope="session")
def built_once_per_run():
    """The console's templates, the URL rules and the configuration, which every app a test
    makes would build again from the same sources, built once for the run (see built_once)."""
    with built_once.everything():
        yield


@pytest.fixture(autouse=True)
def call_log_writers_end(monkeypatch):
    """After each test, the call log writers of the apps it made end, once they have written
    what they hold. Each waits for the next fact as long as the process lives: by the end of a
    session, hundreds of threads keeping their database engines alive, every garbage collection
    slower, and minutes spent collecting them when pytest exits."""
    from ivr.calls.events import CallEvents

    made: list[CallEvents] = []
    init = CallEvents.__init__

    def remembered(self: CallEvents, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(CallEvents, "__init__", remembered)
    yield
    for events in made:
        events.stop(5)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the tests' routing.yaml and the shipped prompts/ that a test may edit."""
    shutil.copy(TEST_ROUTING, tmp_path / "routing.yaml")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    return tmp_path


@pytest.fixture
def clock() -> FakeClock:
    """The app's clock, set to Tuesday 17 November 2026 at 10:00 in Bucharest (all open; in the
    past, so that an SMS queued at that time is due for a worker running on the real clock)."""
    return FakeClock(bucharest(2026, 11, 17, 10, 0))


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


@pytest.fixture(autouse=True, scope="session")
def _schema_template_cleanup():
    """The template's folder and the admin connections go when the session ends."""
    yield SCHEMA_TEMPLATE
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


@pytest.fixture
def database_url(tmp_path: Path):
    """A SQLite database file at the latest schema. Test modules about persistence override
    this fixture with ``any_database_url`` to run on PostgreSQL too."""
    yield from database_url_for("sqlite", tmp_path, upgraded=True)


@pytest.fixture(params=DATABASES)
def any_database_url(request, tmp_path: Path):
    """A database at the latest schema: SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    yield from database_url_for(request.param, tmp_path, upgraded=True)


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path):
    """A database without any table, of the same kind as ``database_url``: a database that was
    never upgraded, or one that is down for every write."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    yield from database_url_for(kind, tmp_path / "empty")


@pytest.fixture(params=DATABASES)
def any_empty_database_url(request, tmp_path: Path):
    """A database without any table: SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    yield from database_url_for(request.param, tmp_path)


@pytest.fixture
def upgraded_database(any_database_url):
    """A Database at the latest schema: SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    from ivr.db import Database

    database = Database.connect(any_database_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def twilio():
    """A running local stand-in of Twilio's REST API (Messages, recordings) that accepts the
    tests' AUTH_TOKEN; stopped after the test."""
    from twilio_standin import TwilioStandin

    with TwilioStandin(auth_token=AUTH_TOKEN) as standin:
        yield standin


@pytest.fixture
def app_config(config_dir: Path, clock: FakeClock, tmp_path: Path, database_url: str) -> dict:
    """The test_config given to create_app; tests may change it before asking for ``app``."""
    return {
        "TESTING": True,
        "ROUTING_FILE": str(config_dir / "routing.yaml"),
        "PROMPTS_DIR": str(config_dir / "prompts"),
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_URL": None,
        "CLOCK": clock,
        "DATABASE_URL": database_url,
        "DATABASE_AUTO_UPGRADE": True,
        "JOURNAL_DIR": str(tmp_path / "journal"),
    }


@pytest.fixture
def app(app_config: dict):
    """The hotline on a copy of the shipped configuration."""
    app = create_app(app_config)
    yield app
    # The call log's writer may still be in a transaction: let it finish before the schema goes.
    app.extensions["ivr.call_events"].stop(5)
    app.extensions["ivr.db"].engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner():
    """Click's runner for the ``ivr`` command."""
    from click.testing import CliRunner

    return CliRunner()


def sign(url: str, data: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, data)}


@pytest.fixture
def twilio_post(client):
    """Post a form to a path exactly as Twilio would: signed, with the call's parameters."""

    def post(path: str, caller: str = "+40722123456", **fields: str):
        data = {"CallSid": CALL_SID, "AccountSid": "AC" + "0" * 32, "From": caller, "To": "+40215894141", **fields}
        return client.post(path, data=data, headers=sign(BASE_URL + path, data))

    return post


@pytest.fixture
def place_call(app):
    """Place a whole call through the WSGI stack: ``place_call(keys=[...], dials=[...], records=[...])``
    returns (caller, log): what the caller heard and what happened on the line."""

    def place(caller: str = "+40722123456", keys=(), dials=(), records=()):
        ui = ScriptedCaller(list(keys), list(dials), list(records))
        call = Call(BASE_URL, AUTH_TOKEN, WsgiTransport(app), ui, caller=caller)
        return ui, call.run()

    return place


@contextmanager
def transaction_left_open(database, write: Callable[[Any], None]) -> Iterator[None]:
    """Within the block, another thread's transaction has run ``write(session)`` and is still
    open: on SQLite it holds the write lock, on PostgreSQL the locks of the rows it wrote."""
    writing, release = threading.Event(), threading.Event()

    def hold() -> None:
        with database.session() as session, session.begin():
            write(session)
            writing.set()
            release.wait(20)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        assert writing.wait(10)
        yield
    finally:
        release.set()
        thread.join(10)
