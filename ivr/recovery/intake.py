"""Taking a voicemail report: into a ticket when the database answers in time, else into the journal.

Twilio gives a webhook 15 seconds; a database that is down fails fast, but one that hangs
would hold the caller past that and they would hear an application error. So the
registration runs in a thread kept for it (``ivr.bounded``) and the webhook waits for it at
most ``deadline_seconds``. If it fails or is late, the report goes to the journal, and the caller
may hear "registered" only once one of the two holds it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from ..bounded import BoundedWork
from ..db import Database, once_more_if_dead
from ..deadlines import Deadline, milestones_for_department
from ..monitoring.context import about_call
from ..settings import HotlineConfig
from ..tickets.registration import Registration, VoicemailReport, voicemail_registration
from .journal import Journal, JournalEntry
from .replay import BackgroundReplay

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registered:
    """A ticket holds the report; ``number`` is None for an absent recording that made no ticket."""

    number: str | None
    deadline: Deadline | None
    milestones: dict[str, Deadline] = field(default_factory=dict)  # every milestone, for prompts that name one


@dataclass(frozen=True)
class Journaled:
    """The journal holds the report; its ticket, number and SMS follow when the database is back."""

    deadline: Deadline
    milestones: dict[str, Deadline] = field(default_factory=dict)


@dataclass(frozen=True)
class NotKept:
    """Neither the database nor the journal took the report: the caller must be told so."""


Outcome = Registered | Journaled | NotKept


class Intake:
    def __init__(
        self, database: Database, hotline: HotlineConfig, journal: Journal,
        deadline_seconds: float = 4.0, replay_interval: float = 10.0,
    ) -> None:
        self.database, self.hotline, self.journal = database, hotline, journal
        self.deadline_seconds = deadline_seconds
        self._registrations = BoundedWork("ivr-register")
        self._replay = BackgroundReplay(journal, database, hotline, replay_interval)

    def take(self, report: VoicemailReport, now: datetime) -> Outcome:
        try:
            return self._register_in_time(report, now)
        except Exception as exc:
            log.error("database could not register CallSid %s (%s); journaling it", report.call_sid, _why(exc))
        try:
            self.journal.append(JournalEntry(now, report))
        except OSError:
            log.exception("journal could not keep CallSid %s either: this complaint is NOT registered", report.call_sid)
            return NotKept()
        self._replay.start()
        due = milestones_for_department(self.hotline.routing, report.department, now)
        return Journaled(next(m.deadline for m in due if m.final), {m.name: m.deadline for m in due})

    @staticmethod
    def _registered(registration: Registration | None) -> Registered:
        if registration is None:
            return Registered(None, None)
        return Registered(registration.number, registration.deadline, registration.milestones)

    def _register_in_time(self, report: VoicemailReport, now: datetime) -> Registered:
        def attempt() -> Registration | None:
            with self.database.session() as session, session.begin():
                return voicemail_registration(session, self.hotline, report, now)

        def register() -> Registered:
            with about_call(report.call_sid):
                return self._registered(once_more_if_dead(attempt))

        # Should a late transaction commit after all, the replay finds its ticket by CallSid.
        return self._registrations.run(register, self.deadline_seconds)


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
