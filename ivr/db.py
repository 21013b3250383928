"""Database setup: the engine, sessions, and the migrations that shape the schema.

Nothing here commits on its own: callers open ``with db.session() as s, s.begin():``, or
``with db.reading() as s:`` for work that only reads.
"""

from __future__ import annotations

import ast
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from .errors import ConfigError, DatabaseNotUpgraded


log = logging.getLogger(__name__)
T = TypeVar("T")


class Base(DeclarativeBase):
    pass


def once_more_if_dead(attempt: Callable[[], T]) -> T:
    """``attempt()``, run once more when it met a pooled connection the server had closed (a
    restart of PostgreSQL, an idle timeout): by then the pool holds none of the old ones. For
    work that opens its own transaction and may safely run twice (a registration by CallSid, a
    call-log fact); anything else it raised is raised as it is."""
    try:
        return attempt()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("a pooled database connection was dead (%s); trying once more on a new one",
                    str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__)
        return attempt()


# A database that hangs must not hold a request for long: PostgreSQL gives up connecting,
# and cancels a statement or a lock wait, after these; a free pooled connection is waited
# for as long. Webhooks bound their own wait further (ivr.bounded).
CONNECT_TIMEOUT_SECONDS = 3
STATEMENT_TIMEOUT_MS = 3000
POOL_TIMEOUT_SECONDS = 5
# A pooled PostgreSQL connection is replaced after this long, before a firewall or a server's
# idle timeout drops it. Not pinged on every checkout (a round trip per transaction): a
# connection found dead fails its transaction, SQLAlchemy then replaces every connection of the
# pool opened before the failure, and work that may run twice runs again (``once_more_if_dead``).
POOL_RECYCLE_SECONDS = 300
# How long a SQLite transaction waits for another one's write lock before it fails.
SQLITE_BUSY_SECONDS = 30
# The execution option of ``Database.reading`` sessions.
READ_ONLY = "ivr_read_only"


def _postgres_connect_args(url: str) -> dict[str, Any]:
    """connect_timeout and statement/lock timeouts, keeping any ``options`` the URL gives
    (connect_args would otherwise replace the URL's own ``options``, such as a search_path)."""
    given = make_url(url).query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    timeouts = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={STATEMENT_TIMEOUT_MS}"
    return {"connect_timeout": CONNECT_TIMEOUT_SECONDS, "options": f"{given} {timeouts}".strip()}


def make_engine(url: str, **options: Any) -> Engine:
    """An engine tuned for the hotline: PostgreSQL gives up on a hung server within seconds;
    SQLite waits for its lock instead of failing."""
    if not url.startswith("sqlite"):
        options = {"pool_recycle": POOL_RECYCLE_SECONDS, "pool_timeout": POOL_TIMEOUT_SECONDS, **options}
        connect_args = {**_postgres_connect_args(url), **options.pop("connect_args", {})}
        return create_engine(url, connect_args=connect_args, **options)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, **options)

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction starts.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")

    writers = _OneWriterAtATime()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection) -> None:
        driver = connection.connection.driver_connection
        if connection.get_execution_options().get(READ_ONLY):
            _begin_reading(driver, connection.info)
            return
        _query_only(driver, connection.info, False)
        # Take the write lock up front: two processes that read then write would otherwise
        # deadlock on the lock upgrade and one would fail with "database is locked".
        writers.take(connection.info)
        try:
            _begin_immediate(driver)
        except BaseException:
            writers.give_back(connection.info)
            raise

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _sqlite_end(connection) -> None:
        writers.give_back(connection.info)

    @event.listens_for(engine, "checkin")
    def _sqlite_checkin(_dbapi_connection, record) -> None:
        writers.give_back(record.info)  # a transaction ended with its connection, never committed

    return engine


def _begin_reading(sqlite_connection: sqlite3.Connection, info: dict) -> None:
    """A deferred BEGIN on a connection that refuses writes: in WAL mode it reads the last
    commit without waiting for the write lock or holding it, and a write slipped into it fails
    at once ("attempt to write a readonly database") instead of upgrading its lock."""
    _query_only(sqlite_connection, info, True)
    sqlite_connection.execute("BEGIN")


_QUERY_ONLY = "ivr.query_only"


def _query_only(sqlite_connection: sqlite3.Connection, info: dict, on: bool) -> None:
    """Set the pooled connection's PRAGMA query_only, when it is not so already (``info``,
    the pool's record of the connection, remembers what it was last set to)."""
    if info.get(_QUERY_ONLY, False) != on:
        sqlite_connection.execute(f"PRAGMA query_only={'ON' if on else 'OFF'}")
        info[_QUERY_ONLY] = on


def _begin_immediate(sqlite_connection: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, tried again every millisecond while another process holds the lock.

    SQLite's busy handler would sleep up to 100 ms between tries, so a process that writes
    transaction after transaction (the SMS dispatcher draining the outbox) would get the lock
    back before the sleeper woke, for seconds on end."""
    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    sqlite_connection.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                sqlite_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.001)
    finally:
        sqlite_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")


class _OneWriterAtATime:
    """This process's SQLite transactions, queued one at a time on a lock of their own.

    SQLite lets one transaction write at a time (and every one is a writer here: BEGIN
    IMMEDIATE). Left to SQLite, a waiting transaction sleeps in its busy handler, up to 100 ms
    between tries, and whichever tries first when the lock is free gets it: under load a few
    wait a second or more behind later ones. Here a thread waits on this lock and takes it as
    soon as it is released: at the commit (an instant before SQLite's own lock goes), and
    at the latest when the connection returns to the pool. Other processes (``ivr worker``,
    the dispatcher of ``ivr serve``) are waited for by ``_begin_immediate``.
    """

    _HELD = "ivr.sqlite_writer"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def take(self, info: dict) -> None:
        if not self._lock.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise sqlite3.OperationalError("database is locked (by another transaction of this process)")
        info[self._HELD] = True

    def give_back(self, info: dict) -> None:
        if info.pop(self._HELD, False):
            self._lock.release()


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]
    read_engine: Engine  # ``engine`` with READ_ONLY set: what ``readers`` and ``reading_connection`` use

    @classmethod
    def connect(cls, url: str, **options: Any) -> Database:
        try:
            engine = make_engine(sqlalchemy_url(url), **options)
        except (ArgumentError, ImportError) as exc:
            raise ConfigError([f"IVR_DATABASE_URL: not a database URL the hotline can use ({exc})"]) from None
        read_engine = engine.execution_options(**{READ_ONLY: True})
        return cls(engine, sessionmaker(engine, expire_on_commit=False), sessionmaker(read_engine, expire_on_commit=False), read_engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for work that only reads. On SQLite it neither waits for the write lock
        nor holds it (every ``session`` takes it at its start, see make_engine), so a caller's
        lookup or a page does not queue behind tickets being written, nor hold them up; it
        refuses to write. On PostgreSQL it is a session like any other."""
        with self.readers() as session:
            yield session

    @contextmanager
    def reading_connection(self) -> Iterator[Connection]:
        """``reading`` for Core statements alone: a connection, without an ORM session around
        it. A mobile caller's arrival reads one statement, for which the session's own
        bookkeeping cost as much as the query."""
        with self.read_engine.connect() as connection:
            yield connection

    def upgrade(self) -> None:
        """Bring the schema to the latest migration. A schema already there is left alone
        without starting Alembic, which reads every migration script each time."""
        if not self.at_latest_schema() and self.current_revisions() != latest_revisions():
            upgrade_schema(self.engine)

    def current_revisions(self) -> set[str]:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())

    def require_current_schema(self) -> None:
        """Raise DatabaseNotUpgraded unless the schema is at the latest migration, so that a
        server never starts on tables it does not know (OperationalError when unreachable)."""
        if self.at_latest_schema():
            return  # known without importing alembic
        current, latest = self.current_revisions(), latest_revisions()
        if current != latest:
            where = self.engine.url.render_as_string(hide_password=True)
            raise DatabaseNotUpgraded(
                f"the database {where} is at schema {', '.join(sorted(current)) or 'none'}, this version needs "
                f"{', '.join(sorted(latest))}: run `ivr db upgrade` first"
            )

    def at_latest_schema(self) -> bool:
        """True when the database says it is at the migrations' latest revisions, told without
        alembic (importing it is ~0.25 s of each start on SQLite); False when it is not, or
        has no alembic_version yet, or script_heads cannot read the scripts: alembic decides
        then. An unreachable database raises OperationalError, as alembic would."""
        heads = script_heads()
        if heads is None:
            return False
        with self.engine.connect() as connection:
            try:
                current = {row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")}
            except DBAPIError:
                return False  # no such table: never upgraded
        return current == heads


MIGRATIONS = Path(__file__).parent / "migrations" / "versions"


@cache
def script_heads() -> frozenset[str] | None:
    """The revisions no other migration script revises, as alembic finds them, from the scripts'
    ``revision`` and ``down_revision`` lines; None when a script is not the plain kind alembic
    generates (a revision that is not a text, branch labels, depends_on)."""
    revised: set[str] = set()
    revisions: set[str] = set()
    for path in MIGRATIONS.glob("*.py"):
        values = _module_constants(path)
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str) or values.get("branch_labels") or values.get("depends_on"):
            return None
        downs = (down,) if down is None or isinstance(down, str) else down
        if not isinstance(downs, tuple) or not all(d is None or isinstance(d, str) for d in downs):
            return None
        revisions.add(revision)
        revised.update(d for d in downs if d is not None)
    return frozenset(revisions - revised) or None


_NOT_A_LITERAL = object()


def _module_constants(path: Path) -> dict[str, Any]:
    """What a module assigns to names at its top level (``x = 'a'``, ``x: str = 'a'``):
    the literal, or ``_NOT_A_LITERAL``."""
    constants: dict[str, Any] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target = node.target
        else:
            continue
        if isinstance(target, ast.Name):
            try:
                constants[target.id] = ast.literal_eval(node.value)
            except ValueError:
                constants[target.id] = _NOT_A_LITERAL
    return constants


def alembic_config(engine: Engine | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "ivr:migrations")
    config.attributes["engine"] = engine
    return config


@cache
def latest_revisions() -> frozenset[str]:
    """The revisions the migrations end at, read once: the scripts do not change while the
    process runs."""
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def init_app(app) -> Database:
    """Wire the database into a Flask app; the embedded SQLite is upgraded on start."""
    database = Database.connect(app.config["DATABASE_URL"], **app.config.get("DATABASE_OPTIONS", {}))
    if app.config.get("DATABASE_AUTO_UPGRADE", app.config["DATABASE_URL"].startswith("sqlite")):
        if not database.at_latest_schema():
            database.upgrade()
    app.extensions["ivr.db"] = database
    return database


def sqlalchemy_url(url: str) -> str:
    """The URL as SQLAlchemy needs it. Hosting providers write PostgreSQL as ``postgres://`` or
    ``postgresql://``; the first is unknown to SQLAlchemy and the second picks a driver the
    hotline does not ship, so both mean psycopg 3."""
    scheme, separator, rest = url.partition("://")
    if separator and scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return url
