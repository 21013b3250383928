"""Writing the call log: one row per CallSid, filled in by whichever webhook knows a fact.

Twilio's requests for one call may reach different processes in any order, and repeat; each
function here only adds what it knows to the row (creating it if it is the first to come),
so order and repeats do not matter. The row is closed by Twilio's status callback, or by
age when that never comes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..models import CallRecord, Ticket, User
from .events import OneStatement
from .outcome import FINAL_STATUSES, decide_outcome

# Twilio ends a call after 4 hours; a row still open well past that missed its status callback.
STALE_AFTER = timedelta(hours=6)


def call_row(session: Session, call_sid: str, now: datetime) -> CallRecord:
    """The call's row, locked for this transaction; created (started now) if it is not there yet."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(CallRecord).values(call_sid=call_sid, started_at=now, voicemail=False, errored=False)
        .on_conflict_do_nothing(index_elements=["call_sid"])
    )
    # Read afresh: call_started writes with a statement of its own, which a row this session
    # already holds (facts share a transaction, ivr.calls.events) would not show.
    return session.scalars(
        select(CallRecord).where(CallRecord.call_sid == call_sid).with_for_update().execution_options(populate_existing=True)
    ).one()


def _started(dialect) -> postgresql.Insert | sqlite.Insert:
    """The arrival of a call in one statement: its row, or the row's earliest start and the first
    caller and language it knew ("" counts as unknown, as ``or`` does in the other facts)."""
    calls = CallRecord.__table__
    insert = dialect.insert(calls)
    new = insert.excluded
    return insert.on_conflict_do_update(index_elements=[calls.c.call_sid], set_={
        calls.c.started_at: case((new.started_at < calls.c.started_at, new.started_at), else_=calls.c.started_at),
        calls.c.caller: func.coalesce(func.nullif(calls.c.caller, ""), new.caller),
        calls.c.language: func.coalesce(func.nullif(calls.c.language, ""), new.language),
    })


# Every call's first fact: a statement built once, as the ORM's read-then-update costs more than the menu.
_STARTED = {"postgresql": _started(postgresql), "sqlite": _started(sqlite)}


def arrival(call_sid: str, caller: str | None, language: str, now: datetime) -> OneStatement:
    """The fact of a call's arrival, for the call log's writer (which sends many at once)."""
    return OneStatement(_STARTED, {
        "call_sid": call_sid, "started_at": now, "caller": caller, "language": language, "voicemail": False, "errored": False,
    })


def call_started(session: Session, call_sid: str, caller: str | None, language: str, now: datetime) -> None:
    arrival(call_sid, caller, language, now)(session)


def department_chosen(session: Session, call_sid: str, department: str, language: str, now: datetime) -> None:
    row = call_row(session, call_sid, now)
    row.department, row.language = department, language


def offered(session: Session, call_sid: str, department: str, now: datetime) -> None:
    """The operators' phones start ringing for the caller."""
    row = call_row(session, call_sid, now)
    row.department = row.department or department
    row.offered_at = row.offered_at or now


def answered(session: Session, call_sid: str, target: str, now: datetime) -> None:
    """An operator picked up: ``target`` is the number, client: or sip: that Twilio dialled."""
    row = call_row(session, call_sid, now)
    if row.answered_at is not None:
        return  # the first to answer got the caller
    row.answered_at, row.answered_by = now, target[:120]
    row.answered_user = operator_for(session, target)


def dial_answered(session: Session, call_sid: str, talked_seconds: int, now: datetime) -> None:
    """The <Dial> ended answered: a call whose whisper went unheard (no url) still counts as
    answered, from when the conversation began; who answered is then not known."""
    row = call_row(session, call_sid, now)
    if row.answered_at is None:
        row.answered_at = max(now - timedelta(seconds=talked_seconds), row.offered_at or row.started_at)


def operator_for(session: Session, target: str) -> User | None:
    """The console user behind a dialled target: their phone, or their client: identity."""
    if target.startswith("client:"):
        return session.scalar(select(User).where(User.name == target.removeprefix("client:")))
    return session.scalar(select(User).where(User.phone == target)) if target.startswith("+") else None


def voicemail_reached(session: Session, call_sid: str, now: datetime) -> None:
    """The caller was asked to speak after the beep (a voicemail, or a message to a complaint)."""
    _flag(session, call_sid, now, reached_voicemail=True)


def voicemail_left(session: Session, call_sid: str, now: datetime) -> None:
    _flag(session, call_sid, now, voicemail=True)


def webhook_failed(session: Session, call_sid: str, now: datetime) -> None:
    _flag(session, call_sid, now, errored=True)


def _flag(session: Session, call_sid: str, now: datetime, **flags: bool) -> None:
    """Set ``flags`` on the call's row, created (started now) if it is not there yet: one
    statement, as every voicemail writes one (nothing to read first, unlike ``call_row``)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(CallRecord).values(call_sid=call_sid, started_at=now, **{"voicemail": False, "errored": False, **flags})
        .on_conflict_do_update(index_elements=["call_sid"], set_=flags)
    )


def conversation_recorded(session: Session, call_sid: str, recording_sid: str | None, url: str | None, now: datetime) -> None:
    row = call_row(session, call_sid, now)
    row.recording_sid = row.recording_sid or recording_sid
    row.recording_url = row.recording_url or url
    # A complaint registered during the conversation gets its recording too.
    for ticket in session.scalars(select(Ticket).where(Ticket.call_sid == call_sid, Ticket.recording_url.is_(None))):
        ticket.recording_sid, ticket.recording_url = row.recording_sid, row.recording_url


def status_reported(
    session: Session, call_sid: str, status: str, duration: int | None, caller: str | None, now: datetime
) -> None:
    """Twilio's call status callback; a final status closes the call, once."""
    row = call_row(session, call_sid, now)
    row.caller = row.caller or caller
    if row.ended_at is not None or status not in FINAL_STATUSES:
        return
    row.twilio_status, row.duration_seconds = status, duration
    _close(row, now)


def close_stale(session: Session, now: datetime, older_than: timedelta = STALE_AFTER) -> int:
    """Close the calls whose status callback never came; returns how many."""
    stale = session.scalars(
        select(CallRecord).where(CallRecord.ended_at.is_(None), CallRecord.started_at < now - older_than)
        .with_for_update(skip_locked=True)
    ).all()
    for row in stale:
        _close(row, now)
    return len(stale)


def _close(row: CallRecord, now: datetime) -> None:
    row.ended_at = now
    row.outcome = decide_outcome(
        answered=row.answered_at is not None, voicemail=row.voicemail, offered=row.offered_at is not None,
        reached_voicemail=row.reached_voicemail, errored=row.errored, twilio_status=row.twilio_status,
    )
