"""A local, append-only journal of voicemail reports the database could not take.

One JSON line per report, appended and fsynced under a lock file, in the instance folder.
Replaying moves the journal aside (under the same lock) and works on the moved file, so an
append never lands in a file that a replay has already read. A replay that dies leaves its
moved file behind, and the next replay takes it up first; registering is keyed on the
CallSid, so doing a report twice never makes a second ticket.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..tickets.registration import VoicemailReport

log = logging.getLogger(__name__)

JOURNAL_NAME = "voicemail-journal.jsonl"
_VERSION = 1


@dataclass(frozen=True)
class JournalEntry:
    """A report as the hotline received it, and when: the registration time of its ticket."""

    received_at: datetime
    report: VoicemailReport

    def to_line(self) -> str:
        payload = {"v": _VERSION, "received_at": self.received_at.isoformat(), "report": dataclasses.asdict(self.report)}
        return json.dumps(payload, ensure_ascii=True) + "\n"

    @classmethod
    def from_line(cls, line: str) -> JournalEntry:
        """Raises ValueError (or TypeError/KeyError) for a line that is not an entry."""
        payload = json.loads(line)
        received_at = datetime.fromisoformat(payload["received_at"])
        if payload.get("v") != _VERSION or received_at.tzinfo is None:
            raise ValueError("not a journal entry of this version")
        return cls(received_at, VoicemailReport(**payload["report"]))


class Journal:
    """The journal in ``folder``: ``append`` from the webhooks, ``batches`` for the replay."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL_NAME
        self.rejected_path = self.folder / (JOURNAL_NAME + ".rejected")

    def append(self, entry: JournalEntry) -> None:
        """Write one entry durably: on return it is on disk. Raises OSError when it cannot be."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked("append"):
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, entry.to_line().encode("ascii"))
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                _fsync_folder(self.folder)

    def has_entries(self) -> bool:
        """Cheap enough to ask on every dispatcher pass: two stat calls and a directory listing."""
        return (self.path.exists() and self.path.stat().st_size > 0) or any(self._moved_files())

    def pending(self) -> int:
        """How many reports wait to be replayed (lines of the journal and of files being replayed)."""
        count = 0
        for path in self._waiting_files():
            try:
                with open(path, "rb") as fh:
                    count += sum(1 for line in fh if line.strip())
            except FileNotFoundError:  # replayed and removed meanwhile
                continue
        return count

    def call_sids(self) -> frozenset[str]:
        """The calls whose reports wait to be replayed (in the journal or in files being replayed)."""
        sids = set()
        for path in self._waiting_files():
            try:
                sids |= {entry.report.call_sid for entry in self.read(path) if isinstance(entry, JournalEntry)}
            except FileNotFoundError:  # replayed and removed meanwhile: now in the database
                continue
        return frozenset(sids)

    def _waiting_files(self) -> list[Path]:
        """The journal and the files being replayed: every report not yet a ticket."""
        return [self.path, *self._moved_files()] if self.path.exists() else list(self._moved_files())

    @contextmanager
    def replaying(self) -> Iterator[list[Path] | None]:
        """The files to replay, oldest first, while this process is the only replayer;
        None when another process is replaying right now."""
        if not self.folder.exists():
            yield []
            return
        with self._locked("replay", wait=False) as acquired:
            if not acquired:
                yield None
                return
            with self._locked("append"):
                if self.path.exists() and self.path.stat().st_size > 0:
                    self.path.rename(self.folder / f"{JOURNAL_NAME}.{time.time_ns()}.replaying")
                    _fsync_folder(self.folder)
            yield sorted(self._moved_files())

    def read(self, path: Path) -> Iterator[JournalEntry | str]:
        """The entries of a moved file; a line that is not an entry comes back as its text."""
        with open(path, encoding="ascii", errors="replace") as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    yield JournalEntry.from_line(line)
                except (ValueError, TypeError, KeyError):
                    yield line

    def reject(self, line: str) -> None:
        """Keep a line that can never be replayed where an administrator will find it."""
        with open(self.rejected_path, "a", encoding="ascii", errors="replace") as out:
            out.write(line if line.endswith("\n") else line + "\n")
            out.flush()
            os.fsync(out.fileno())

    def done(self, path: Path) -> None:
        """Forget a moved file whose every entry is now a ticket."""
        path.unlink(missing_ok=True)
        _fsync_folder(self.folder)

    def _moved_files(self) -> Iterator[Path]:
        return self.folder.glob(f"{JOURNAL_NAME}.*.replaying") if self.folder.exists() else iter(())

    @contextmanager
    def _locked(self, name: str, wait: bool = True) -> Iterator[bool]:
        fd = os.open(self.folder / f"{JOURNAL_NAME}.{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)  # closing releases the lock


def _fsync_folder(folder: Path) -> None:
    """Make a file's creation or renaming durable, not only its content."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
