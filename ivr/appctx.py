"""What the delivery layer reads from the running app: the hotline's configuration and the clock."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from .bounded import BoundedWork
from .call_dialer import CallDialer
from .calls.events import CallEvents
from .calls.incidents import ActiveIncidents
from .calls.operators import OperatorPhones
from .db import Database
from .recordings import RecordingStore
from .recovery.intake import Intake
from .settings import HotlineConfig


def hotline() -> HotlineConfig:
    return current_app.extensions["ivr.hotline"]


def now() -> datetime:
    """The current instant, timezone-aware; tests replace the clock through the app config."""
    return current_app.config["CLOCK"]()


def bounded_work() -> BoundedWork:
    """Threads for the database work a webhook waits for only so long (``ivr.bounded``)."""
    return current_app.extensions["ivr.bounded_work"]


def database() -> Database:
    return current_app.extensions["ivr.db"]


def recording_store() -> RecordingStore | None:
    """None in a local trial without Twilio credentials."""
    return current_app.extensions.get("ivr.recordings")


def intake() -> Intake:
    """Where voicemail reports go: the database in time, else the local journal."""
    return current_app.extensions["ivr.intake"]


def call_events() -> CallEvents:
    """The call log's background writer."""
    return current_app.extensions["ivr.call_events"]


def operator_phones() -> OperatorPhones:
    """Console users' phones, for routing.yaml's "user:NAME" operators."""
    return current_app.extensions["ivr.operator_phones"]


def incidents() -> ActiveIncidents:
    """The incidents callers are told of, kept in memory (``ivr.calls.incidents``)."""
    return current_app.extensions["ivr.incidents"]


def call_dialer() -> CallDialer | None:
    """What places callback calls through Twilio; None in a local trial without Twilio credentials."""
    return current_app.extensions.get("ivr.call_dialer")
