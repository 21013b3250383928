"""Callbacks: a caller who found no operator asks to be called back instead of leaving a
voicemail; an operator calls back from the console (Twilio rings the operator's phone first,
then the customer); Twilio's reports on those calls are logged on the ticket.

A request is a ticket as usual (number, deadline, registration SMS) with a ``Callback`` row,
due ``callback_within`` (routing.yaml) after it was made. An attempt (``CallbackCall``) learns
its outcome from whichever report comes first, in any order and however often Twilio repeats
it: the operator's leg's status callback, the customer's leg's status callback, and the
<Dial> action. The first outcome is logged once; only "answered" may replace another, and it
marks the request done. Overdue requests are alerted about by ``ivr.alerts``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from .call_dialer import CallDialer, DialError, OutgoingCall
from .db import Database
from .errors import TicketRefused
from .models import Callback, CallbackCall, Ticket, User
from .settings import HotlineConfig
from .states import CallbackOutcome, TicketSource, TicketStatus
from .tickets import history
from .tickets.registration import find_by_call, once_per_call, open_ticket

# Twilio's CallStatus values after which nothing more happens on a leg.
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# An attempt without an outcome this long after it was placed is over: its reports were lost.
IN_PROGRESS = timedelta(minutes=15)
_CUSTOMER_OUTCOMES = {"completed": CallbackOutcome.ANSWERED, "answered": CallbackOutcome.ANSWERED,
                      "busy": CallbackOutcome.BUSY, "no-answer": CallbackOutcome.NO_ANSWER}


@dataclass(frozen=True)
class CallbackRequest:
    """What the phone side knows when the caller asks to be called back."""

    call_sid: str
    department: str
    language: str
    caller: str | None       # E.164 of the caller's number; None when withheld
    number: str              # E.164: where to call back (their own number, or one they keyed in)
    sms_to: str | None       # the registration SMS's recipient, as for a voicemail
    hotline_number: str      # E.164: the number they called


# -- asking for a callback -------------------------------------------------------------

def request_callback(session: Session, hotline: HotlineConfig, request: CallbackRequest, now: datetime) -> Ticket:
    """The ticket of this call's callback request, made once however often the caller's keypress
    reaches us (the CallSid is unique: a loser of a race reads the winner's ticket)."""
    ticket = find_by_call(session, request.call_sid)
    if ticket is not None:
        return ticket
    return once_per_call(session, request.call_sid, lambda: _create(session, hotline, request, now))


def _create(session: Session, hotline: HotlineConfig, request: CallbackRequest, now: datetime) -> Ticket:
    within = hotline.routing.hotline.callback_span
    if within is None:
        raise ValueError("routing.yaml offers no callbacks (hotline.callback_within)")
    ticket = open_ticket(
        session, hotline, call_sid=request.call_sid, department=request.department, caller=request.caller,
        sms_to=request.sms_to, language=request.language, source=TicketSource.CALLBACK, now=now,
    )
    history.record(session, ticket, "caller", "registered", now,
                   detail=f"callback request; deadline {ticket.deadline_on.isoformat()}: "
                          f"{ticket.deadline_description} ({ticket.deadline_rule})")
    session.add(Callback(ticket=ticket, number=request.number, hotline_number=request.hotline_number,
                         requested_at=now, due_at=now + within))
    history.record(session, ticket, "caller", "callback_requested", now, detail=request.number,
                   number=request.number, due=(now + within).isoformat())
    session.flush()
    return ticket


# -- the console's list ------------------------------------------------------------------

def _waiting():
    return (select(Callback).join(Ticket, Callback.ticket_id == Ticket.id)
            .where(Callback.done_at.is_(None), Ticket.status.in_(TicketStatus.OPEN)))


def waiting_callbacks(session: Session, limit: int = 200) -> list[Callback]:
    """Requests not yet called back (on open tickets), oldest first, with their attempts."""
    query = _waiting().options(selectinload(Callback.ticket), selectinload(Callback.calls).selectinload(CallbackCall.user))
    return list(session.scalars(query.order_by(Callback.requested_at, Callback.id).limit(limit)))


def count_waiting(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(_waiting().subquery())) or 0


def callback_of(session: Session, ticket_id: int) -> Callback | None:
    return session.scalar(select(Callback).where(Callback.ticket_id == ticket_id))


def calling(attempt: CallbackCall, now: datetime) -> bool:
    """Whether the attempt may still be ringing or talking."""
    return attempt.outcome is None and now - attempt.placed_at < IN_PROGRESS


def attempt_under_way(callback: Callback, now: datetime) -> CallbackCall | None:
    """The request's attempt that may still be ringing or talking; None when there is none."""
    return next((attempt for attempt in callback.calls if calling(attempt, now)), None)


# -- calling back --------------------------------------------------------------------------

@dataclass(frozen=True)
class CallbackUrls:
    """The absolute URLs Twilio is given for an attempt: the TwiML the operator hears when they
    answer, and the status callback of their leg."""

    answer: Callable[[int], str]
    status: Callable[[int], str]


def place_callback(database: Database, hotline: HotlineConfig, dialer: CallDialer, callback_id: int,
                   user_id: int, phone: str, urls: CallbackUrls, now: datetime) -> int:
    """Ring the operator at ``phone``; Twilio then fetches ``urls.answer`` and, once they press 1,
    dials the customer. The attempt is committed before Twilio is asked (its reports may come
    before Calls.create answers) and no row is locked while Twilio is asked. Returns the attempt's
    id; raises ``TicketRefused`` (reason ``callback_done``, ``callback_calling``, ``ticket_closed``
    or ``callback_not_placed``)."""
    with database.session() as session, session.begin():
        attempt = start_attempt(session, callback_id, session.get(User, user_id), phone, now)
        call = OutgoingCall(to=phone, caller_id=attempt.callback.hotline_number, url=urls.answer(attempt.id),
                            status_callback=urls.status(attempt.id), ring_seconds=hotline.routing.hotline.dial_timeout)
        attempt_id = attempt.id
    try:
        sid = dialer.place(call)
    except DialError as exc:
        with database.session() as session, session.begin():
            attempt = session.get(CallbackCall, attempt_id, with_for_update=True)
            _finish(session, attempt, CallbackOutcome.NOT_PLACED, now, str(exc))
        raise TicketRefused("callback_not_placed", str(exc), why=str(exc)) from exc
    with database.session() as session, session.begin():
        attempt = session.get(CallbackCall, attempt_id, with_for_update=True)
        attempt.call_sid = attempt.call_sid or sid
    return attempt_id


def start_attempt(session: Session, callback_id: int, user: User, phone: str, now: datetime) -> CallbackCall:
    """A new attempt by ``user``, unless the request is done, its ticket closed, or another
    attempt is still under way (two operators must not both ring the customer)."""
    callback = session.get(Callback, callback_id, with_for_update=True)
    if callback is None:
        raise LookupError(callback_id)
    number = callback.ticket.number
    if callback.done_at is not None:
        raise TicketRefused("callback_done", f"{number} was already called back", number=number)
    if callback.ticket.status not in TicketStatus.OPEN:
        raise TicketRefused("ticket_closed", f"{number} is closed", number=number)
    busy = attempt_under_way(callback, now)
    if busy is not None:
        raise TicketRefused("callback_calling", f"{busy.user.name} is calling {number} back", number=number, name=busy.user.name)
    attempt = CallbackCall(callback=callback, user=user, operator_phone=phone, placed_at=now)
    session.add(attempt)
    history.record(session, callback.ticket, history.actor_of(user), "callback_placed", now,
                   detail=f"{user.name} {phone}", phone=phone)
    session.flush()
    return attempt


# -- Twilio's reports ----------------------------------------------------------------------

def _attempt(session: Session, attempt_id: int) -> CallbackCall | None:
    return session.get(CallbackCall, attempt_id, with_for_update=True, populate_existing=True)


def operator_leg_status(session: Session, attempt_id: int, call_sid: str, status: str, now: datetime) -> None:
    """The status callback of the call to the operator. It may come before Calls.create's answer
    was stored (its CallSid is then taken from here), repeated, or after the customer's report."""
    attempt = _attempt(session, attempt_id)
    if attempt is None or attempt.call_sid not in (None, call_sid):
        return  # not ours: a report for another call on this URL changes nothing
    attempt.call_sid = call_sid
    if attempt.operator_status in FINAL_STATUSES:
        return  # a repeat, or a late "ringing" after the end
    attempt.operator_status = status
    if status in FINAL_STATUSES and (status != "completed" or attempt.customer_dialled_at is None):
        _finish(session, attempt, CallbackOutcome.OPERATOR_MISSED, now)


def customer_dialled(session: Session, attempt_id: int, now: datetime) -> CallbackCall | None:
    """The operator pressed 1: the customer is being dialled."""
    attempt = _attempt(session, attempt_id)
    if attempt is not None and attempt.customer_dialled_at is None:
        attempt.customer_dialled_at = now
    return attempt


def customer_leg_status(session: Session, attempt_id: int, status: str, seconds: int | None, now: datetime,
                        call_sid: str | None = None) -> None:
    """The customer's leg: its status callback (CallStatus) or the <Dial> action (DialCallStatus)."""
    attempt = _attempt(session, attempt_id)
    if attempt is None:
        return
    attempt.customer_call_sid = attempt.customer_call_sid or call_sid
    if status not in FINAL_STATUSES | {"answered"} or attempt.customer_status is not None:
        return  # still ringing, or already known
    attempt.customer_status = "completed" if status == "answered" else status
    attempt.customer_seconds = seconds
    _finish(session, attempt, _CUSTOMER_OUTCOMES.get(status, CallbackOutcome.FAILED), now)


def _finish(session: Session, attempt: CallbackCall, outcome: str, now: datetime, why: str = "") -> None:
    """Log the attempt's outcome on the ticket once; "answered" may still replace an earlier
    guess (the operator's leg ended before the customer's report came), and marks the request done."""
    if attempt.outcome == outcome or (attempt.outcome is not None and outcome != CallbackOutcome.ANSWERED):
        return
    attempt.outcome, attempt.ended_at = outcome, now
    callback = attempt.callback
    if outcome == CallbackOutcome.ANSWERED and callback.done_at is None:
        callback.done_at = now
    seconds = f", {attempt.customer_seconds} s" if attempt.customer_seconds is not None else ""
    history.record(session, callback.ticket, "twilio", f"callback_{outcome}", now,
                   detail=f"{attempt.user.name} {attempt.operator_phone} → {callback.number}{seconds}" + (f": {why}" if why else ""),
                   operator=attempt.user.name, seconds=attempt.customer_seconds)
