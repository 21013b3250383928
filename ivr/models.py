"""The tables: complaint tickets, their history, their yearly number sequence, the SMS outbox,
console users, the call log, transcripts, caller messages, incidents and callbacks. The states
their rows record are the plain constants of ``ivr.states``."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, TypeDecorator, UniqueConstraint, false
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from .db import Base
from .deadlines import Deadline
from .states import Role, SmsStatus, TicketSource, TicketStatus


class UtcDateTime(TypeDecorator):
    """Stored as UTC on every database (SQLite has no time zones) and read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        utc = value.astimezone(timezone.utc)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class User(Base):
    """Someone who signs in to the operator console."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default=Role.OPERATOR)
    active: Mapped[bool] = mapped_column(default=True)
    # Kept in the session cookie at sign-in; bumping it ends every session signed in before.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # E.164: the phone this operator answers the hotline on (routing.yaml's "user:NAME").
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR


class SignInThrottle(Base):
    """Recent failed sign-ins for one user name from one client address (known names and
    unknown ones alike), and until when that pair must wait."""

    __tablename__ = "sign_in_throttles"
    __table_args__ = (UniqueConstraint("name", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class TicketSequence(Base):
    """The last ticket number given in a year; its row lock makes numbers gapless."""

    __tablename__ = "ticket_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (UniqueConstraint("year", "sequence"), UniqueConstraint("call_sid", "call_complaint"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    year: Mapped[int]
    sequence: Mapped[int] = mapped_column(index=True)  # a caller keys in a complaint's last digits
    department: Mapped[str] = mapped_column(String(64), index=True)
    # Indexed: every mobile caller's arrival looks up their complaints by either number.
    caller: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164; None when withheld
    sms_to: Mapped[str | None] = mapped_column(String(20), index=True)
    language: Mapped[str] = mapped_column(String(8))
    call_sid: Mapped[str] = mapped_column(String(34), index=True)
    # A call gives one complaint; an operator may register a second one on the same call.
    call_complaint: Mapped[int] = mapped_column(default=1, server_default="1")
    source: Mapped[str] = mapped_column(String(16), default=TicketSource.VOICEMAIL, server_default="voicemail")
    recording_sid: Mapped[str | None] = mapped_column(String(34))
    recording_url: Mapped[str | None] = mapped_column(String(300))
    recording_duration: Mapped[int | None]
    recording_status: Mapped[str | None] = mapped_column(String(16))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    deadline_on: Mapped[date]
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    deadline_rule: Mapped[str] = mapped_column(String(64))
    deadline_description: Mapped[str] = mapped_column(String(200))
    extended: Mapped[bool] = mapped_column(default=False)
    extension_count: Mapped[int] = mapped_column(default=0, server_default="0")
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.REGISTERED, index=True)
    client_code: Mapped[str | None] = mapped_column(String(32))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(Text)  # what the customer was told on resolving or rejecting
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    assignee: Mapped[User | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )
    messages: Mapped[list[SmsMessage]] = relationship(back_populates="ticket", order_by="SmsMessage.id")
    milestones: Mapped[list[TicketMilestone]] = relationship(
        back_populates="ticket", order_by="TicketMilestone.id", cascade="all, delete-orphan"
    )


class TicketMilestone(Base):
    """One of a ticket's deadlines (routing.yaml's milestones), when it fell due and when it was met."""

    __tablename__ = "ticket_milestones"
    __table_args__ = (UniqueConstraint("ticket_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(200))
    met_by: Mapped[str] = mapped_column(String(20))       # registration_sms | taken | progress | resolution
    final: Mapped[bool] = mapped_column(default=False)    # the legal term, also in the ticket's deadline columns
    timed: Mapped[bool] = mapped_column(default=False)    # due at a time of day (an hours rule)
    due_on: Mapped[date]
    due_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    met_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # When the department's supervisors were warned that it is about to fall due (once).
    alerted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    ticket: Mapped[Ticket] = relationship(back_populates="milestones")

    def missed(self, now: datetime) -> bool:
        return (self.met_at or now) >= self.due_at

    @property
    def deadline(self) -> Deadline:
        """The milestone as the deadline arithmetic and the texts know it."""
        return Deadline(self.due_on, self.due_at, self.rule, self.description, self.timed)


class TicketEvent(Base):
    """One line of a ticket's history; rows are only ever added."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(64))  # "caller", "twilio", "system", "operator:ana"
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    # What happened, as data ({"from": "ana"}, {"deadline": "2026-12-04"}): rendered in the reader's
    # language by the console (``ivr.tickets.history``). None on events written before it existed.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class SmsMessage(Base):
    """The SMS outbox: written in the same transaction as the event it tells the customer of."""

    __tablename__ = "sms_messages"
    __table_args__ = (UniqueConstraint("ticket_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    to: Mapped[str] = mapped_column(String(20))
    sender: Mapped[str | None] = mapped_column(String(20))
    messaging_service_sid: Mapped[str | None] = mapped_column(String(34))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=SmsStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    twilio_sid: Mapped[str | None] = mapped_column(String(34), unique=True)
    error_code: Mapped[int | None]
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    ticket: Mapped[Ticket | None] = relationship(back_populates="messages")


class SmsEarlyStatus(Base):
    """A status callback that came before its dispatcher recorded the message's SID (Twilio
    answers the send, then calls back at once, while the batch's outcomes are still being
    written): kept until the SID is recorded, then applied (``sms.outbox.apply_early_statuses``)."""

    __tablename__ = "sms_early_statuses"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(34), index=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None]
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class CallRecord(Base):
    """One row per call to the hotline (keyed on Twilio's CallSid), from the first ring to its end."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(34), unique=True)
    caller: Mapped[str | None] = mapped_column(String(20), index=True)  # E.164; None when withheld
    language: Mapped[str | None] = mapped_column(String(8))
    department: Mapped[str | None] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    offered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())   # operators' phones started ringing
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answered_by: Mapped[str | None] = mapped_column(String(120))         # the number or client:/sip: that picked up
    answered_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    voicemail: Mapped[bool] = mapped_column(default=False)
    reached_voicemail: Mapped[bool] = mapped_column(default=False, server_default=false())  # heard the beep
    errored: Mapped[bool] = mapped_column(default=False)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    twilio_status: Mapped[str | None] = mapped_column(String(16))
    duration_seconds: Mapped[int | None]
    outcome: Mapped[str | None] = mapped_column(String(24), index=True)   # CallOutcome, once ended
    recording_sid: Mapped[str | None] = mapped_column(String(34))        # the operator conversation
    recording_url: Mapped[str | None] = mapped_column(String(300))
    no_complaint_reason: Mapped[str | None] = mapped_column(Text)
    no_complaint_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    answered_user: Mapped[User | None] = relationship(foreign_keys=[answered_user_id])

    @property
    def seconds_to_answer(self) -> int | None:
        if self.answered_at is None or self.offered_at is None:
            return None
        return max(int((self.answered_at - self.offered_at).total_seconds()), 0)


class Transcription(Base):
    """One Real-Time Transcription of a voicemail (Twilio's TranscriptionSid), keyed on the call:
    its segments may arrive before the ticket exists, and a ticket finds them by its CallSid."""

    __tablename__ = "transcriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(34), unique=True)
    call_sid: Mapped[str] = mapped_column(String(34), index=True)
    language: Mapped[str | None] = mapped_column(String(16))   # the BCP-47 code Twilio reports (ro-RO)
    status: Mapped[str] = mapped_column(String(16))             # TranscriptionStatus
    error: Mapped[str | None] = mapped_column(Text)             # transcription-error's words and code
    first_event_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TranscriptSegment(Base):
    """One final stretch of what the caller said, in the order Twilio numbered it (SequenceId).
    Written once: a repeated event finds its (transcription, sequence) taken and changes nothing."""

    __tablename__ = "transcript_segments"
    __table_args__ = (UniqueConstraint("transcription_sid", "sequence_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transcription_sid: Mapped[str] = mapped_column(String(34))
    call_sid: Mapped[str] = mapped_column(String(34), index=True)
    sequence_id: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Float)  # 0-1, as the engine rated it
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CallerMessage(Base):
    """A message a caller left by phone for a complaint they already have: a voicemail attached
    to that ticket (no new ticket, no new number), one per call like a ticket's voicemail."""

    __tablename__ = "caller_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    call_sid: Mapped[str] = mapped_column(String(34), unique=True)
    caller: Mapped[str | None] = mapped_column(String(20))  # E.164; None when withheld
    recording_sid: Mapped[str | None] = mapped_column(String(34))
    recording_url: Mapped[str | None] = mapped_column(String(300))
    recording_duration: Mapped[int | None]
    recording_status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    # A backref, so that the Ticket class above stays as it is (other tables join it in parallel).
    ticket: Mapped[Ticket] = relationship(backref=backref("caller_messages", order_by="CallerMessage.id"))


class Incident(Base):
    """An outage a supervisor declared: callers to its departments hear its message while it is
    active (``starts_at`` <= now < ``ends_at``, not closed) and may join it with one keypress."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    departments: Mapped[list[str]] = mapped_column(JSON)          # routing.yaml department keys
    area: Mapped[str | None] = mapped_column(String(200))         # "Cluj", for the operators
    messages: Mapped[dict[str, str]] = mapped_column(JSON)        # language -> what callers hear
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    declared_at: Mapped[datetime] = mapped_column(UtcDateTime())
    declared_by: Mapped[str] = mapped_column(String(64))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    # What the linked tickets' customers were told on closing; None when they were left open.
    resolution: Mapped[str | None] = mapped_column(Text)

    links: Mapped[list[IncidentTicket]] = relationship(back_populates="incident", order_by="IncidentTicket.id")

    def active(self, now: datetime) -> bool:
        return self.closed_at is None and self.starts_at <= now < self.ends_at


class IncidentTicket(Base):
    """A ticket registered by a caller who joined an incident (a ticket joins at most one)."""

    __tablename__ = "incident_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)

    incident: Mapped[Incident] = relationship(back_populates="links")
    ticket: Mapped[Ticket] = relationship()


class Callback(Base):
    """A caller's request to be called back when no operator answered; one per ticket."""

    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    number: Mapped[str] = mapped_column(String(20))          # E.164: where the customer wants the call
    hotline_number: Mapped[str] = mapped_column(String(20))  # E.164: the number they called, shown to both
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)  # routing.yaml's callback_within
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)  # the customer answered
    # When the department's alert went out because nobody had called back by due_at (once).
    alerted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    ticket: Mapped[Ticket] = relationship()
    calls: Mapped[list[CallbackCall]] = relationship(back_populates="callback", order_by="CallbackCall.id")


class CallbackCall(Base):
    """One attempt to call back: the operator's phone first, then (after they press 1) the customer."""

    __tablename__ = "callback_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    operator_phone: Mapped[str] = mapped_column(String(20))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    call_sid: Mapped[str | None] = mapped_column(String(34), unique=True)  # the operator's leg
    operator_status: Mapped[str | None] = mapped_column(String(16))       # its last CallStatus
    customer_dialled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    customer_call_sid: Mapped[str | None] = mapped_column(String(34))
    customer_status: Mapped[str | None] = mapped_column(String(16))       # the customer's final CallStatus
    customer_seconds: Mapped[int | None]
    outcome: Mapped[str | None] = mapped_column(String(16))               # CallbackOutcome, once known
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    callback: Mapped[Callback] = relationship(back_populates="calls")
    user: Mapped[User] = relationship()
