"""The SMS dispatcher: delivers the outbox through the gateway, once per message.

Several dispatchers may run at once. A message is claimed (status ``sending`` with a
lease) in one transaction, sent outside it, and its outcome written in another. On
PostgreSQL claims skip rows another dispatcher has locked; SQLite serialises writers.
Every retry, and every takeover of a dispatcher that died mid-send (its lease expired),
first asks Twilio whether the message already left, so an answer lost on the way back
never becomes a second SMS.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from . import history
from .db import Database
from .errors import SmsPermanentError, SmsTemporaryError
from .models import SmsMessage, SmsStatus
from .sms_gateway import OutgoingSms, SentSms, SmsGateway

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0   # seconds before the first retry
BACKOFF_CAP = 60.0    # a long outage is retried every minute, for as long as it lasts


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s, ... capped at a minute, with a little jitter so workers don't stampede."""
    seconds = min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_CAP)
    return timedelta(seconds=seconds * random.uniform(0.9, 1.1))


@dataclass(frozen=True)
class _Claim:
    id: int
    sms: OutgoingSms
    created_at: datetime
    recovering: bool


@dataclass
class Dispatcher:
    database: Database
    gateway: SmsGateway
    clock: Callable[[], datetime]
    status_callback: str | None = None
    lease: timedelta = timedelta(minutes=2)
    batch: int = 20
    # Work a dispatcher's loop also does before each pass, such as replaying the journal.
    housekeeping: Callable[[], object] | None = None

    def run_once(self) -> int:
        """Send what is due now; returns how many messages were handled."""
        claims = self._claim()
        for claim in claims:
            self._deliver(claim)
        return len(claims)

    def drain(self) -> int:
        """Send until nothing is due now (retries scheduled later stay queued)."""
        total = 0
        while handled := self.run_once():
            total += handled
        return total

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        log.info("SMS dispatcher started (%s)", type(self.gateway).__name__)
        while not stop.is_set():
            try:
                if self.housekeeping is not None:
                    self.housekeeping()
                if self.run_once():
                    continue
            except Exception:  # the database is down: keep trying, never die
                log.exception("SMS dispatcher pass failed")
            stop.wait(poll_seconds)

    def _claim(self) -> list[_Claim]:
        with self.database.session() as session, session.begin():
            now = self.clock()
            due = or_(
                and_(SmsMessage.status == SmsStatus.QUEUED, SmsMessage.next_attempt_at <= now),
                and_(SmsMessage.status == SmsStatus.SENDING, SmsMessage.locked_until <= now),
            )
            query = (
                select(SmsMessage).where(due).order_by(SmsMessage.next_attempt_at, SmsMessage.id)
                .limit(self.batch).with_for_update(skip_locked=True)
            )
            claims = []
            for message in session.scalars(query):
                # Any earlier attempt may have reached Twilio (a lost answer looks like a network
                # error), so a retry first asks whether the message already left.
                claims.append(_Claim(message.id, self._outgoing(message), message.created_at,
                                     recovering=message.attempts > 0))
                message.status, message.locked_until = SmsStatus.SENDING, now + self.lease
                message.attempts += 1
                message.updated_at = now
            return claims

    def _outgoing(self, message: SmsMessage) -> OutgoingSms:
        return OutgoingSms(
            to=message.to, body=message.body, sender=message.sender,
            messaging_service_sid=message.messaging_service_sid, status_callback=self.status_callback,
        )

    def _deliver(self, claim: _Claim) -> None:
        try:
            sent = self.gateway.find_sent(claim.sms.to, claim.sms.body, claim.created_at) if claim.recovering else None
            sent = sent or self.gateway.send(claim.sms)
        except SmsTemporaryError as exc:
            self._record(claim, retry=True, error=exc)
        except SmsPermanentError as exc:
            self._record(claim, retry=False, error=exc)
        else:
            self._record(claim, sent=sent)

    def _record(self, claim: _Claim, sent: SentSms | None = None, retry: bool = False,
                error: SmsTemporaryError | SmsPermanentError | None = None) -> None:
        with self.database.session() as session, session.begin():
            now = self.clock()
            message = session.get(SmsMessage, claim.id, with_for_update=True)
            message.updated_at, message.locked_until = now, None
            if sent is not None:
                message.status = SmsStatus.LOGGED if sent.status == "logged" else SmsStatus.SENT
                message.twilio_sid, message.sent_at = sent.sid, now
                error_code = None
            elif retry:
                message.status, message.next_attempt_at = SmsStatus.QUEUED, now + backoff(message.attempts)
                message.error_code, message.error_message = error.code, str(error)
                log.warning("SMS %s to %s: %s; retry at %s", message.id, message.to, error, message.next_attempt_at)
                return
            else:
                message.status, message.error_code, message.error_message = SmsStatus.FAILED, error.code, str(error)
                error_code = error.code
                log.error("SMS %s to %s failed for good: %s", message.id, message.to, error)
            if message.ticket is not None:
                history.record(session, message.ticket, "system", "sms", now, purpose=message.purpose, to=message.to,
                               status=message.status, error=error_code)
