"""Waking the SMS dispatchers when an SMS is queued, instead of letting it wait for their poll.

The transaction that queues an SMS announces it (``announce_sms``): on PostgreSQL with a
``NOTIFY``, which the server delivers to every listening dispatcher only if and when the
transaction commits; in this process by ringing a doorbell after the commit. A dispatcher
waits on a ``Wakeup``: a ``LISTEN`` connection on PostgreSQL; on SQLite the doorbell, and
the database file's ``data_version``, which moves whenever another connection (of any
process: ``ivr serve``'s dispatcher, ``ivr worker``) commits. A wakeup can be missed (a
listening connection that dropped), so dispatchers keep a slow poll as the safety net.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from ..db import Database
from ..models import SmsMessage
from ..states import SmsStatus

log = logging.getLogger(__name__)

SMS_CHANNEL = "ivr_sms"
# The SQLite watch and the stop flag are looked at this often while a dispatcher waits.
SQLITE_CHECK_SECONDS = 0.05
STOP_CHECK_SECONDS = 0.25

_ANNOUNCED = "ivr.sms_announced"


class Doorbell:
    """A counter of rings that threads wait to see move: a ring between two looks is never lost,
    and every waiter sees it (unlike one ``threading.Event`` shared by several dispatchers)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._rings = 0

    def ring(self) -> None:
        with self._changed:
            self._rings += 1
            self._changed.notify_all()

    @property
    def rings(self) -> int:
        return self._rings

    def wait(self, seen: int, seconds: float) -> bool:
        """True once the rings are no longer ``seen``; False after ``seconds`` without."""
        with self._changed:
            return self._changed.wait_for(lambda: self._rings != seen, seconds)


# Rung after each commit that queued an SMS in this process.
doorbell = Doorbell()


def announce_sms(session: Session) -> None:
    """Wake the dispatchers when ``session``'s transaction commits (nothing if it rolls back).
    Once per transaction: PostgreSQL folds identical notifications of a transaction anyway."""
    if session.info.get(_ANNOUNCED) is not None:
        return
    connection = session.connection()
    # Kept with the (sub)transaction it was made in: a savepoint rolled back takes it along.
    session.info[_ANNOUNCED] = session.get_nested_transaction() or session.get_transaction()
    if connection.dialect.name == "postgresql":
        # A driver-level statement: no autoflush, no ORM work; delivered at commit.
        connection.exec_driver_sql(f"NOTIFY {SMS_CHANNEL}")


@event.listens_for(Session, "after_commit")
def _ring_after_commit(session: Session) -> None:
    announced = session.info.get(_ANNOUNCED)
    if announced is None:
        return
    if session.in_nested_transaction():  # a savepoint released: its parent now holds the SMS
        if announced is session.get_nested_transaction():
            session.info[_ANNOUNCED] = announced.parent
        return
    del session.info[_ANNOUNCED]
    doorbell.ring()


@event.listens_for(Session, "after_transaction_end")
def _forget_after_rollback(session: Session, transaction: SessionTransaction) -> None:
    # Still the one announced in: it was rolled back (a commit rang or passed it on already).
    if session.info.get(_ANNOUNCED) is transaction:
        del session.info[_ANNOUNCED]


class Wakeup(Protocol):
    def wait(self, seconds: float, stop: threading.Event) -> bool:
        """Return True as soon as an SMS may have been queued since the last return (or since
        this was made), False after ``seconds`` without sign of one or once ``stop`` is set."""
        ...

    def close(self) -> None: ...


class LocalWakeup:
    """The doorbell alone: SMS queued by this process."""

    def __init__(self) -> None:
        self._seen = doorbell.rings

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if doorbell.wait(self._seen, min(left, STOP_CHECK_SECONDS)):
                self._seen = doorbell.rings
                return True
        return False

    def close(self) -> None:
        pass


class SqliteWakeup:
    """The doorbell, and commits by other processes seen through ``PRAGMA data_version``. Most
    commits are not SMS (a call logged, a note): one counts only while the outbox holds a message
    to send, since a dispatcher's pass takes SQLite's write lock, which the webhooks wait for."""

    # Read after the version, so that an SMS committed in between moves the version again.
    _OUTBOX_BUSY = (f"SELECT EXISTS (SELECT 1 FROM {SmsMessage.__tablename__} "
                    f"WHERE status IN ('{SmsStatus.QUEUED}', '{SmsStatus.SENDING}'))")

    def __init__(self, path: str) -> None:
        self._path = path
        self._watch: sqlite3.Connection | None = None
        self._seen_rings = doorbell.rings
        self._seen_version = self._version()

    def _version(self) -> int | None:
        try:
            if self._watch is None:
                # mode=rw: watching must never create a database file that is not there yet.
                uri = Path(self._path).resolve().as_uri() + "?mode=rw"
                self._watch = sqlite3.connect(uri, uri=True, timeout=1, isolation_level=None, check_same_thread=False)
            return self._watch.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            self.close()  # a file being replaced or not there yet: the poll covers it
            return None

    def _outbox_busy(self) -> bool:
        try:
            return self._watch is None or bool(self._watch.execute(self._OUTBOX_BUSY).fetchone()[0])
        except sqlite3.Error:
            return True  # cannot tell (a schema not there yet, the file replaced): let a pass look

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if doorbell.wait(self._seen_rings, min(left, SQLITE_CHECK_SECONDS)):
                self._seen_rings, self._seen_version = doorbell.rings, self._version()
                return True
            version = self._version()
            if version != self._seen_version:
                self._seen_version = version
                if self._outbox_busy():
                    return True
        return False

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None


class PostgresWakeup:
    """A connection of its own, in autocommit, listening on ``SMS_CHANNEL``. A lost one is made
    again at the next wait, which then returns True: a notification sent meanwhile is lost."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._connection = None
        self._failing = False
        self._listen()

    def _listen(self) -> bool:
        try:
            # Made by the engine's pool (its connect timeout and options), then taken out of it.
            pooled = self._database.engine.raw_connection()
            pooled.detach()
            connection = pooled.dbapi_connection
            connection.rollback()  # the pool's pre-ping may have opened a transaction
            connection.autocommit = True
            connection.execute(f"LISTEN {SMS_CHANNEL}")
        except Exception as exc:  # the database is away: the dispatcher's passes say so already
            if not self._failing:
                log.warning("SMS dispatcher cannot listen for new SMS (it polls meanwhile): %s", exc)
            self._failing = True
            return False
        self._connection, self._failing = connection, False
        return True

    def wait(self, seconds: float, stop: threading.Event) -> bool:
        if self._connection is None:
            if self._listen():
                return True
            stop.wait(seconds)
            return False
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            try:
                if list(self._connection.notifies(timeout=min(left, STOP_CHECK_SECONDS), stop_after=1)):
                    list(self._connection.notifies(timeout=0))  # the others: one pass serves them all
                    return True
            except Exception as exc:
                log.warning("SMS dispatcher lost its listening connection: %s", exc)
                self.close()
                stop.wait(max(deadline - time.monotonic(), 0))
                return False
        return False

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # already broken: nothing to release
                pass
            self._connection = None


def wakeup_for(database: Database) -> Wakeup:
    """How a dispatcher on ``database`` learns that an SMS was queued."""
    url = database.engine.url
    if url.get_backend_name() == "postgresql":
        return PostgresWakeup(database)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return SqliteWakeup(url.database)
    return LocalWakeup()
