"""The incidents callers are told of, kept in memory for the voice webhooks.

The notice is played at the start of a call, which must answer even when the database hangs:
so the incidents that are not closed and not yet over are read in the background every
``ttl`` seconds (a call waits at most ``first_wait`` for the very first read), and whether one
is active is decided from its times at each call. When the database cannot be read, callers
hear no notice (fail open): a stale list could announce an outage that is over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..db import Database
from ..models import Incident

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """What a caller needs of an incident."""

    id: int
    departments: frozenset[str]
    messages: dict[str, str]
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at


class ActiveIncidents:
    def __init__(self, database: Database, clock: Callable[[], datetime], ttl: float = 15.0, first_wait: float = 1.0) -> None:
        self._database, self._clock, self._ttl, self._first_wait = database, clock, ttl, first_wait
        self._notices: list[Notice] | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._loading: threading.Thread | None = None
        self._loaded = threading.Event()

    def active(self, now: datetime) -> list[Notice]:
        """The incidents active at ``now``, the latest started first; [] when unknown."""
        if self._ttl <= 0:
            self.reload()
        elif time.monotonic() - self._loaded_at > self._ttl:
            self._refresh_in_background()
            if self._notices is None:
                self._loaded.wait(self._first_wait)
        if not self._notices:
            return []  # the usual case, asked by every call's arrival
        notices = [n for n in self._notices if n.active(now)]
        return sorted(notices, key=lambda n: (n.starts_at, n.id), reverse=True)

    def reload(self) -> None:
        """Read them now (after this process declared or closed one, so its next call knows)."""
        try:
            with self._database.reading() as session:
                rows = session.scalars(
                    select(Incident).where(Incident.closed_at.is_(None), Incident.ends_at > self._clock())
                ).all()
                notices = [
                    Notice(i.id, frozenset(i.departments), dict(i.messages), i.starts_at, i.ends_at) for i in rows
                ]
        except Exception:
            log.exception("incidents could not be read; callers hear no outage notice until they can")
            self._notices = []
            self._loaded.set()
            return
        self._notices, self._loaded_at = notices, time.monotonic()
        self._loaded.set()

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._loading is None or not self._loading.is_alive():
                self._loading = threading.Thread(target=self.reload, name="ivr-incidents", daemon=True)
                self._loading.start()
