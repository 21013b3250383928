"""Writing call-log facts in the background, so that no webhook waits for the database.

The menu must answer even when the database hangs (the caller is on the line), and the
call log is a record, not the complaint itself: a fact that cannot be written is logged and
dropped rather than held up. Tests and the status callback's caller use ``flush``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session

from ..db import Database

log = logging.getLogger(__name__)
Write = Callable[[Session], None]


class CallEvents:
    def __init__(self, database: Database, capacity: int = 10_000) -> None:
        self._database = database
        self._queue: queue.Queue[Write | None] = queue.Queue(capacity)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def record(self, write: Write) -> None:
        """Queue ``write(session)`` to run in its own transaction, soon, in order."""
        self._start()
        try:
            self._queue.put_nowait(write)
        except queue.Full:
            log.warning("call log: %d facts waiting for the database; this one is dropped", self._queue.qsize())

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued fact is written (or given up); False on timeout."""
        done = threading.Event()
        self.record(lambda _session: done.set())
        return done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> bool:
        """Write what is queued, then end the writer thread (a later ``record`` starts another);
        False if it did not end within ``timeout``. For an app that is done with, such as a
        test's: the writer otherwise waits for the next fact as long as the process lives."""
        with self._lock:  # held until the writer ends: a new one never runs beside it
            if self._thread is None:
                return True
            try:
                self._queue.put(None, timeout=timeout)
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
            write = self._queue.get()
            if write is None:  # stop()
                return
            try:
                with self._database.session() as session, session.begin():
                    write(session)
            except Exception:
                log.exception("call log: a fact could not be written")
