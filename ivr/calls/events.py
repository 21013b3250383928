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
BATCH = 100  # facts written in one transaction at most


class CallEvents:
    def __init__(self, database: Database, capacity: int = 10_000) -> None:
        self._database = database
        self._queue: queue.Queue[Write] = queue.Queue(capacity)
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
        self.record(_Written(done))
        return done.wait(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ivr-call-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            writes = [self._queue.get()]
            while len(writes) < BATCH:
                try:
                    writes.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(writes)

    def _write(self, writes: list[Write]) -> None:
        """The facts waiting together, in one transaction (one commit for a burst of calls);
        should it fail, each alone, so that a fact that cannot be written loses only itself."""
        try:
            with self._database.session() as session, session.begin():
                for write in writes:
                    write(session)
        except Exception:
            if len(writes) > 1:
                for write in writes:
                    self._write([write])
                return
            log.exception("call log: a fact could not be written")
        for write in writes:
            if isinstance(write, _Written):
                write.done.set()


class _Written:
    """``flush``'s marker: its event is set once the facts queued before it are committed."""

    def __init__(self, done: threading.Event) -> None:
        self.done = done

    def __call__(self, _session: Session) -> None:
        pass
