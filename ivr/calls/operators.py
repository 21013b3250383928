"""The phones of console users whom routing.yaml names as operators ("user:ana").

Dialling happens in the menu step, which must answer even when the database hangs; so the
phones are kept in memory and refreshed in the background, and a call never waits for more
than the very first load."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import select

from ..db import Database
from ..models import User

log = logging.getLogger(__name__)


class OperatorPhones:
    def __init__(self, database: Database, ttl: float = 30.0, first_wait: float = 1.0) -> None:
        self._database, self._ttl, self._first_wait = database, ttl, first_wait
        self._phones: dict[str, str] | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._loading: threading.Thread | None = None
        self._loaded = threading.Event()

    def phone_of(self, name: str) -> str | None:
        """The active user's phone, as last read from the database; None if unknown."""
        if self._ttl <= 0:
            self._load()
        elif time.monotonic() - self._loaded_at > self._ttl:
            self._refresh_in_background()
            if self._phones is None:
                self._loaded.wait(self._first_wait)
        return (self._phones or {}).get(name)

    def _refresh_in_background(self) -> None:
        with self._lock:
            if self._loading is None or not self._loading.is_alive():
                self._loading = threading.Thread(target=self._load, name="ivr-operator-phones", daemon=True)
                self._loading.start()

    def _load(self) -> None:
        try:
            with self._database.reading() as session:
                rows = session.execute(
                    select(User.name, User.phone).where(User.active.is_(True), User.phone.is_not(None))
                ).all()
        except Exception:
            log.exception("operators' phones could not be read; the last known are used")
            return
        self._phones, self._loaded_at = {name: phone for name, phone in rows}, time.monotonic()
        self._loaded.set()
