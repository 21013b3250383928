"""The SMS dispatcher: delivers the outbox through the gateway, once per message.

Several dispatchers may run at once. A batch of messages is claimed (status ``sending``
with a lease) in one transaction, sent outside it (concurrently, a few at a time), and the
batch's outcomes written together in another. On PostgreSQL claims skip rows another
dispatcher has locked; SQLite serialises writers. Every retry, and every takeover of a
dispatcher that died mid-send (its lease expired), first asks Twilio whether the message
already left, so an answer lost on the way back never becomes a second SMS.

An idle dispatcher sleeps until the commit of a queued SMS wakes it (``ivr.sms.wakeup``), or
its poll comes round: the safety net for a wakeup that was lost, and for retries.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, or_, select, update
from sqlalchemy.orm import Session

from ..db import Database
from ..errors import SmsPermanentError, SmsTemporaryError
from ..models import SmsMessage, Ticket
from ..states import SmsStatus
from ..tickets import history
from .gateway import OutgoingSms, SentSms, SmsGateway
from .outbox import apply_early_statuses, early_statuses_due
from .wakeup import Wakeup, wakeup_for

log = logging.getLogger(__name__)

BACKOFF_FIRST = 1.0   # seconds before the first retry
BACKOFF_CAP = 60.0    # a long outage is retried every minute, for as long as it lasts

# What became of one attempt: Twilio took it, or a failure worth retrying, or one that is not.
SmsOutcome = SentSms | SmsTemporaryError | SmsPermanentError


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
    taken: frozenset[str] = frozenset()  # Twilio's messages recorded for other SMS with the same text


@dataclass
class Dispatcher:
    database: Database
    gateway: SmsGateway
    clock: Callable[[], datetime]
    status_callback: str | None = None
    lease: timedelta = timedelta(minutes=2)
    batch: int = 20
    # How many of a batch's messages are on their way to Twilio at once: the gateway's answer
    # time, not our CPU, bounds a dispatcher, so a few in flight multiply its rate.
    senders: int = 8
    # Work a dispatcher's loop also does, at most once per poll, such as replaying the journal.
    housekeeping: Callable[[], object] | None = None
    # How an idle loop learns that an SMS was queued; None: the database's (``ivr.sms.wakeup``).
    wakeup: Wakeup | None = None
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)

    def run_once(self) -> int:
        """Send what is due now; returns how many messages were handled."""
        claims = self._claim()
        if claims:
            self._record(claims, self._send_all(claims))
        self._apply_early_statuses()
        return len(claims)

    def drain(self) -> int:
        """Send until nothing is due now (retries scheduled later stay queued)."""
        total = 0
        while handled := self.run_once():
            total += handled
        return total

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Send until ``stop`` is set: at once when woken, else every ``poll_seconds`` or so."""
        wakeup = self.wakeup or wakeup_for(self.database)
        if (warm_up := getattr(self.gateway, "warm_up", None)) is not None:
            warm_up()
        log.info("SMS dispatcher started (%s)", type(self.gateway).__name__)
        housekeeping_due = 0.0
        try:
            while not stop.is_set():
                try:
                    if self.housekeeping is not None and time.monotonic() >= housekeeping_due:
                        housekeeping_due = time.monotonic() + poll_seconds
                        self.housekeeping()
                    if self.run_once():
                        continue
                except Exception:  # the database is down: keep trying, never die
                    log.exception("SMS dispatcher pass failed")
                    stop.wait(poll_seconds)  # waking early would only fail again
                    continue
                # Jittered, so that dispatchers started together do not poll in step.
                wakeup.wait(poll_seconds * random.uniform(0.8, 1.2), stop)
        finally:
            if self.wakeup is None:
                wakeup.close()
            self.close()

    def close(self) -> None:
        """Let the sending threads go (a later pass makes them again)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

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
                recovering = message.attempts > 0
                claims.append(_Claim(message.id, self._outgoing(message), message.created_at, recovering,
                                     _sids_of_twins(session, message) if recovering else frozenset()))
                message.status, message.locked_until = SmsStatus.SENDING, now + self.lease
                message.attempts += 1
                message.updated_at = now
            return claims

    def _apply_early_statuses(self) -> None:
        """Status callbacks that came before their SID was recorded (a batch's own, or one that
        raced a batch's recording), applied in a transaction of their own: looked for by a read,
        so a pass that finds none takes no write lock."""
        now = self.clock()
        with self.database.reading() as session:
            if not early_statuses_due(session, now):
                return
        with self.database.session() as session, session.begin():
            apply_early_statuses(session, now)

    def _outgoing(self, message: SmsMessage) -> OutgoingSms:
        return OutgoingSms(
            to=message.to, body=message.body, sender=message.sender,
            messaging_service_sid=message.messaging_service_sid, status_callback=self.status_callback,
        )

    def _send_all(self, claims: Sequence[_Claim]) -> list[SmsOutcome]:
        if len(claims) == 1 or self.senders <= 1:
            return [self._attempt(claim) for claim in claims]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.senders, thread_name_prefix="ivr-sms-send")
        return list(self._pool.map(self._attempt, claims))

    def _attempt(self, claim: _Claim) -> SmsOutcome:
        try:
            sms = claim.sms
            sent = self.gateway.find_sent(sms.to, sms.body, claim.created_at, claim.taken) if claim.recovering else None
            return sent or self.gateway.send(claim.sms)
        except (SmsTemporaryError, SmsPermanentError) as exc:
            return exc
        except Exception as exc:
            # Not the gateway's known failures (a bug, an answer it could not read): it may have
            # left, so it is retried, and the retry asks Twilio first. The batch's others are recorded.
            log.exception("SMS %s: sending failed unexpectedly", claim.id)
            return SmsTemporaryError(f"{type(exc).__name__}: {exc}")

    def _record(self, claims: Sequence[_Claim], outcomes: Sequence[SmsOutcome]) -> None:
        """Write a batch's outcomes in one transaction: the messages' new columns in bulk, by id,
        and their history in one INSERT (ORM objects would cost more than the sending)."""
        with self.database.session() as session, session.begin():
            now = self.clock()
            query = (
                select(SmsMessage.id, SmsMessage.ticket_id, Ticket.number, SmsMessage.attempts, SmsMessage.to,
                       SmsMessage.purpose)
                .outerjoin(Ticket, Ticket.id == SmsMessage.ticket_id)
                .where(SmsMessage.id.in_([claim.id for claim in claims])).order_by(SmsMessage.id)
                .with_for_update(of=SmsMessage)
            )
            messages = {message.id: message for message in session.execute(query)}
            outcomes = _without_taken_sids(session, claims, outcomes)
            changes, events = [], []
            for claim, outcome in zip(claims, outcomes):
                change, event = self._outcome(messages[claim.id], outcome, now)
                changes.append(change)
                events += [event] if event is not None else []
            session.execute(update(SmsMessage), changes)
            history.record_many(session, events)

    def _outcome(self, message: Row, outcome: SmsOutcome, now: datetime) -> tuple[dict[str, Any], history.Entry | None]:
        """A message's new columns after ``outcome``, and the event for its ticket's history (none for a retry)."""
        change: dict[str, Any] = {"id": message.id, "updated_at": now, "locked_until": None}
        if isinstance(outcome, SentSms):
            status, error_code = SmsStatus.LOGGED if outcome.status == "logged" else SmsStatus.SENT, None
            change.update(status=status, twilio_sid=outcome.sid, sent_at=now)
        elif isinstance(outcome, SmsTemporaryError):
            retry_at = now + backoff(message.attempts)
            change.update(status=SmsStatus.QUEUED, next_attempt_at=retry_at, error_code=outcome.code,
                          error_message=str(outcome))
            log.warning("SMS %s to %s: %s; retry at %s", message.id, message.to, outcome, retry_at,
                        extra={"ticket": message.number})
            return change, None
        else:
            status, error_code = SmsStatus.FAILED, outcome.code
            change.update(status=status, error_code=error_code, error_message=str(outcome))
            log.error("SMS %s to %s failed for good: %s", message.id, message.to, outcome,
                      extra={"ticket": message.number})
        if message.ticket_id is None:
            return change, None
        data = {"purpose": message.purpose, "to": message.to, "status": status, "error": error_code}
        return change, history.Entry(message.ticket_id, message.number, "system", "sms", now, data)


def _sids_of_twins(session: Session, message: SmsMessage) -> frozenset[str]:
    """Twilio's messages already recorded for the outbox's other SMS with the same recipient and
    text (the same acknowledgement for two calls): a retry looking for its own must skip them."""
    return frozenset(session.scalars(
        select(SmsMessage.twilio_sid).where(
            SmsMessage.to == message.to, SmsMessage.body == message.body,
            SmsMessage.twilio_sid.is_not(None), SmsMessage.id != message.id,
        )
    ))


def _without_taken_sids(session: Session, claims: Sequence[_Claim], outcomes: Sequence[SmsOutcome]) -> list[SmsOutcome]:
    """``outcomes``, but a message Twilio's log gave to two SMS (twins in one batch, or one
    recorded meanwhile) is kept by one only; the other is retried, and looks again past it.
    Recording it twice would break the batch's transaction on every pass."""
    found = [o.sid for o in outcomes if isinstance(o, SentSms)]
    batch = {claim.id for claim in claims}
    recorded = set(session.scalars(
        select(SmsMessage.twilio_sid).where(SmsMessage.twilio_sid.in_(found), SmsMessage.id.not_in(batch))
    )) if found else set()
    kept, seen = [], set()
    for outcome in outcomes:
        if isinstance(outcome, SentSms) and (outcome.sid in recorded or outcome.sid in seen):
            outcome = SmsTemporaryError(f"Twilio's message {outcome.sid} is another SMS's: looked for again")
        elif isinstance(outcome, SentSms):
            seen.add(outcome.sid)
        kept.append(outcome)
    return kept
