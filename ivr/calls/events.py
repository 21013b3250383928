"""Writing call-log facts in the background, so that no webhook waits for the database.

The menu must answer even when the database hangs (the caller is on the line), and the
call log is a record, not the complaint itself: a fact that cannot be written is logged and
dropped rather than held up. Tests and the status callback's caller use ``flush``.

The facts are written together, in one transaction: the writer lets the first wait a moment
for others. A commit (a disk flush) per fact would cost more than the menu that caused it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.orm import Session

from ..db import Database, once_more_if_dead

log = logging.getLogger(__name__)
Write = Callable[[Session], None]
# At most this many facts share a transaction: on SQLite it holds the one write lock meanwhile.
BATCH = 100
# How long a fact waits for others to share its transaction (a flush does not wait): long
# enough that each of several web workers, with its share of the calls, still writes many facts
# a commit (at 50 ms, four workers' commits cost a quarter of a ticket's CPU in
# benchmarks/tickets.py), short enough that nobody watching the calls page notices.
LINGER_SECONDS = 0.25


@dataclass(frozen=True)
class OneStatement:
    """A fact that is one prebuilt statement (one per dialect) and its values. The consecutive
    ones of a batch that share their statement go to the database together, as one executemany:
    a call's arrival is every call's first fact, and a statement apiece cost more than the menu."""

    statements: Mapping[str, Executable]  # by dialect name: "postgresql", "sqlite"
    values: dict[str, Any]

    def statement(self, session: Session) -> Executable:
        return self.statements[session.get_bind().dialect.name]

    def __call__(self, session: Session) -> None:
        session.execute(self.statement(session), self.values)


def _together(writes: list[Write]) -> Iterator[list[Write]]:
    """The writes in their order, consecutive OneStatement facts of one statement grouped."""
    group: list[Write] = []
    for write in writes:
        joins = (group and isinstance(write, OneStatement) and isinstance(group[0], OneStatement)
                 and write.statements is group[0].statements)
        if group and not joins:
            yield group
            group = []
        group.append(write)
    if group:
        yield group


class _Flushed(threading.Event):
    """Put in the queue by ``flush``: set once every fact before it is committed (or given up)."""


class _Stop(_Flushed):
    """Put in the queue by ``stop``: a flush after which the writer ends."""


class CallEvents:
    def __init__(self, database: Database, capacity: int = 10_000) -> None:
        self._database = database
        self._queue: queue.Queue[Write | _Flushed] = queue.Queue(capacity)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._hurry = threading.Event()  # a flush is waiting: write what is queued now
        self._dropped = 0  # facts dropped since the queue last had room: told once, then counted
        self._dropped_lock = threading.Lock()

    def record(self, write: Write) -> None:
        """Queue ``write(session)`` to run soon, in order, in a transaction of its own or shared
        with the facts queued with it (if one of them fails, each is tried again alone)."""
        self._put(write)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued fact is written (or given up); False on timeout."""
        done = _Flushed()
        self._start()
        self._hurry.set()
        try:
            self._queue.put(done, timeout=timeout)  # a full queue is waited for: a flush is never dropped
        except queue.Full:
            return False
        return done.wait(timeout)

    def _put(self, item: Write) -> None:
        self._start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            # A line per dropped fact would flood the log just when calls pour in.
            with self._dropped_lock:
                self._dropped += 1
                first = self._dropped == 1
            if first:
                log.warning("call log: %d facts waiting for the database; new facts are dropped until it catches up",
                            self._queue.qsize())

    def _tell_dropped(self) -> None:
        with self._dropped_lock:
            dropped, self._dropped = self._dropped, 0
        if dropped:
            log.warning("call log: %d facts were dropped while the database could not keep up", dropped)

    def stop(self, timeout: float = 10.0) -> bool:
        """Write what is queued, then end the writer thread (a later ``record`` starts another);
        False if it did not end within ``timeout``. For an app that is done with, such as a
        test's: the writer otherwise waits for the next fact as long as the process lives."""
        with self._lock:  # held until the writer ends: a new one never runs beside it
            if self._thread is None:
                return True
            try:
                self._queue.put(_Stop(), timeout=timeout)
                self._hurry.set()
            except queue.Full:
                return False
            self._thread.join(timeout)
            if self._thread.is_alive():
                return False
            self._thread = None
            return True

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ivr-call-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch, flushed = self._next_batch()
            if batch:
                self._write(batch)
            self._tell_dropped()
            if flushed is not None:
                flushed.set()
            if isinstance(flushed, _Stop):
                return

    def _next_batch(self) -> tuple[list[Write], _Flushed | None]:
        """The facts waiting, up to BATCH, after a moment for more when there are few (waiting
        for the first if none is); and the flush that ends them, if one does."""
        batch: list[Write] = []
        item = self._queue.get()
        if not isinstance(item, _Flushed) and self._queue.qsize() < BATCH:
            self._hurry.wait(LINGER_SECONDS)
        self._hurry.clear()
        while True:
            if isinstance(item, _Flushed):
                return batch, item
            batch.append(item)
            if len(batch) >= BATCH:
                return batch, None
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, None

    def _write(self, batch: list[Write]) -> None:
        if len(batch) > 1:
            try:
                self._transaction(batch)
                return
            except Exception:
                log.warning("call log: %d facts written together failed; each is tried alone", len(batch))
        for write in batch:
            try:
                self._transaction([write])
            except Exception:
                log.exception("call log: a fact could not be written")

    def _transaction(self, writes: list[Write]) -> None:
        def attempt() -> None:  # facts add what they know, so writing them twice is harmless
            with self._database.session() as session, session.begin():
                for group in _together(writes):
                    if len(group) == 1:
                        group[0](session)
                    else:  # OneStatement facts: in order, row by row, in one executemany
                        session.execute(group[0].statement(session), [fact.values for fact in group])

        once_more_if_dead(attempt)
