"""The SMS outbox: queueing a customer SMS in the caller's transaction, and recording what
Twilio later says about it. Sending is the dispatcher's job (``ivr.sms.dispatcher``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from ..models import SmsEarlyStatus, SmsMessage, Ticket
from ..settings import HotlineConfig
from ..states import SmsStatus
from ..tickets import history
from .text import to_gsm7
from .wakeup import announce_sms

# Twilio's statuses in the order a message goes through them; a late callback never moves back.
# An early status whose message is never recorded (another deployment's, or a test's) is forgotten.
EARLY_STATUS_KEPT = timedelta(days=2)
_PROGRESS = {"queued": 0, "accepted": 0, "sending": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}
CALLBACK_STATUSES = {"sent", "delivered", "undelivered", "failed"}


def queue_sms(
    session: Session, hotline: HotlineConfig, ticket: Ticket, purpose: str, text: str, now: datetime,
    to: str | None = None,
) -> SmsMessage | None:
    """Queue ``text`` (transliterated to GSM-7) for the ticket's SMS number, or for ``to`` (a
    supervisor's alert, filed under the ticket); None when there is no number. The dispatchers
    are woken when the caller's transaction commits."""
    number = ticket.sms_to if to is None else to
    if not number:
        return None
    message = SmsMessage(ticket=ticket, body=to_gsm7(text), **queued_sms_values(hotline, number, purpose, now))
    session.add(message)
    announce_sms(session)
    return message


def queued_sms_values(hotline: HotlineConfig, to: str, purpose: str, now: datetime) -> dict[str, Any]:
    """An outbox row waiting for its first attempt, without its ticket and its body. A new
    voicemail's registration SMS is written with these by a statement of its own (``ivr.tickets.registration``)."""
    hotline_section = hotline.routing.hotline
    return {
        "purpose": purpose, "to": to,
        "sender": None if hotline_section.messaging_service_sid else hotline_section.sms_sender,
        "messaging_service_sid": hotline_section.messaging_service_sid,
        "status": SmsStatus.QUEUED, "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now,
    }


def record_status_callback(
    session: Session, message_sid: str, status: str, error_code: int | None, now: datetime
) -> SmsMessage | None:
    """Twilio's status callback for an SMS: sent, delivered, undelivered or failed (with its code).
    One for a message whose SID is not recorded yet is kept, to be applied once it is."""
    if status not in CALLBACK_STATUSES:
        return None
    message = session.scalar(select(SmsMessage).where(SmsMessage.twilio_sid == message_sid).with_for_update())
    if message is None:
        session.add(SmsEarlyStatus(message_sid=message_sid, status=status, error_code=error_code, received_at=now))
        return None
    current = _PROGRESS.get(message.status, 0)
    # Twilio repeats callbacks and sends them out of order: a state once reached is not written
    # again (nor its history line), and an end (delivered, undelivered, failed) is the end, or a
    # late "undelivered" would offer to resend an SMS that was delivered.
    if status == message.status or _PROGRESS[status] < current or current == _PROGRESS["delivered"]:
        return message
    message.status, message.updated_at = status, now
    if error_code:
        message.error_code = error_code
    if message.ticket is not None:
        history.record(session, message.ticket, "twilio", "sms_status", now, purpose=message.purpose, to=message.to,
                       status=status, error=error_code or None)
    return message


def _recorded_early():
    return exists().where(SmsMessage.twilio_sid == SmsEarlyStatus.message_sid)


def early_statuses_due(session: Session, now: datetime) -> bool:
    """Whether ``apply_early_statuses`` has work: a kept status whose message's SID is recorded
    now, or one kept too long. A read, for a reading session: most passes find none."""
    too_old = exists().where(SmsEarlyStatus.received_at < now - EARLY_STATUS_KEPT)
    return bool(session.scalar(select(_recorded_early() | too_old)))


def apply_early_statuses(session: Session, now: datetime) -> int:
    """Apply the kept status callbacks whose message's SID is recorded now, in the order they
    came, and forget them; forget those kept too long. Rows another dispatcher is applying are
    skipped. Returns how many were applied."""
    early = session.scalars(
        select(SmsEarlyStatus).where(_recorded_early()).order_by(SmsEarlyStatus.id)
        .with_for_update(skip_locked=True)
    ).all()
    for row in early:
        record_status_callback(session, row.message_sid, row.status, row.error_code, now)
        session.delete(row)
    session.execute(delete(SmsEarlyStatus).where(SmsEarlyStatus.received_at < now - EARLY_STATUS_KEPT))
    return len(early)
