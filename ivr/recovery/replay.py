"""Turning the journal back into tickets once the database answers again.

Run from the web process that journaled (a background thread), from every ``ivr worker``
and dispatcher pass, and by ``ivr recover``. Each entry is registered in its own
transaction at the time the caller spoke; registering is keyed on the CallSid, so an entry
replayed twice, or one whose slow first attempt committed after all, makes no second ticket.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..db import Database
from ..settings import HotlineConfig
from ..tickets.registration import VoicemailReport, voicemail_registration
from .journal import Journal, JournalEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayResult:
    registered: int = 0     # entries now in the database (new tickets or reports merged into one)
    rejected: int = 0       # lines that are not entries, kept aside in the .rejected file
    busy: bool = False      # another process is replaying right now
    pending: bool = False   # the database failed again: the rest waits for the next replay


def _as_configured(report: VoicemailReport, hotline: HotlineConfig) -> VoicemailReport:
    """routing.yaml may have changed since the call: an unknown department or language falls back."""
    routing = hotline.routing
    department = report.department if report.department in routing.departments else routing.hotline.fallback
    language = report.language if report.language in routing.hotline.languages else routing.default_language
    return dataclasses.replace(report, department=department, language=language)


def replay_journal(journal: Journal, database: Database, hotline: HotlineConfig) -> ReplayResult:
    """Register every journaled report; stops at the first database failure and keeps the rest."""
    registered = rejected = 0
    with journal.replaying() as files:
        if files is None:
            return ReplayResult(busy=True)
        for path in files:
            outcome = _replay_file(journal, path, database, hotline)
            registered, rejected = registered + outcome.registered, rejected + outcome.rejected
            if outcome.pending:
                return ReplayResult(registered, rejected, pending=True)
            journal.done(path)
    if registered or rejected:
        log.info("journal replayed: %d report(s) registered, %d line(s) rejected", registered, rejected)
    return ReplayResult(registered, rejected)


def _replay_file(journal: Journal, path: Path, database: Database, hotline: HotlineConfig) -> ReplayResult:
    registered = rejected = 0
    for entry in journal.read(path):
        if not isinstance(entry, JournalEntry):
            log.error("journal line is not a report; kept in %s: %r", journal.rejected_path, entry[:200])
            journal.reject(entry)
            rejected += 1
            continue
        try:
            with database.session() as session, session.begin():
                voicemail_registration(session, hotline, _as_configured(entry.report, hotline), entry.received_at)
        except Exception:
            log.exception("journal replay stopped at CallSid %s; it is kept for the next try", entry.report.call_sid)
            return ReplayResult(registered, rejected, pending=True)
        registered += 1
    return ReplayResult(registered, rejected)


def replay_if_pending(journal: Journal, database: Database, hotline: HotlineConfig) -> ReplayResult | None:
    """A replay when the journal holds anything (a stat call when it does not); for polling loops."""
    return replay_journal(journal, database, hotline) if journal.has_entries() else None


class BackgroundReplay:
    """Replays the journal every ``interval`` seconds in a daemon thread until it is empty.

    Started by the web process when it journals a report, so that a hotline served by
    gunicorn alone, with no worker, still turns its journal into tickets."""

    def __init__(self, journal: Journal, database: Database, hotline: HotlineConfig, interval: float = 10.0) -> None:
        self._journal, self._database, self._hotline = journal, database, hotline
        self._interval = interval
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ivr-journal-replay", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self._interval)
            try:
                replay_journal(self._journal, self._database, self._hotline)
            except Exception:
                log.exception("journal replay failed; retrying in %s s", self._interval)
            with self._lock:
                # Decided under the lock that start() takes: an entry appended after this
                # check finds no thread and starts a new one.
                if not self._journal.has_entries():
                    self._thread = None
                    return
