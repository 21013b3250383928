"""Alerts before a milestone is missed: routing.yaml's ``alert: {before: "2h", to: [...]}``.

A pass finds the open tickets of departments with ``alert:`` that have an unmet milestone
falling due within the lead, and sends each recipient one SMS per milestone through the
outbox, in the transaction that marks the milestone ``alerted_at``. Several workers may run
passes at once: each ticket's row is locked (PostgreSQL skips a ticket another worker or an
operator holds, and it is looked at again on the next pass; SQLite serialises writers), its
milestones are read again under that lock, and the outbox's unique (ticket, purpose) is the
backstop. Every bit of state is in the database, so a restart neither forgets nor repeats
an alert.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .config import Routing
from .db import Database
from .models import Callback, SmsMessage, Ticket, TicketMilestone, User
from .settings import HotlineConfig
from .sms.outbox import queue_sms
from .states import TicketStatus
from .tickets import history
from .tickets.queries import RiskWindows, milestone_due_within

log = logging.getLogger(__name__)

# The "at risk" window of a department without ``alert:``.
DEFAULT_RISK_WINDOW = timedelta(days=1)
# How often a dispatcher's loop looks for milestones to alert about.
SCAN_SECONDS = 60.0
# Tickets locked and handled in one transaction.
BATCH = 50


# -- the rule, free of the database -------------------------------------------------

def alert_due(due_at: datetime, met_at: datetime | None, alerted_at: datetime | None,
              lead: timedelta, now: datetime) -> bool:
    """A milestone is alerted about once, when it is unmet and falls due within ``lead``;
    not after it was missed (the alert says "expires at", and the list shows the missed)."""
    return met_at is None and alerted_at is None and due_at - lead <= now < due_at


def risk_window(routing: Routing, department: str) -> timedelta:
    """How long before a milestone a ticket of ``department`` counts as at risk."""
    dept = routing.departments.get(department)
    return dept.alert.lead if dept is not None and dept.alert is not None else DEFAULT_RISK_WINDOW


def risk_windows(routing: Routing, alerting_only: bool = False) -> RiskWindows:
    """The departments grouped by their risk window; with ``alerting_only``, only those with
    ``alert:``, else every department and ``DEFAULT_RISK_WINDOW`` for any other."""
    grouped: dict[timedelta, list[str]] = defaultdict(list)
    for key, dept in routing.departments.items():
        if dept.alert is not None or not alerting_only:
            grouped[risk_window(routing, key)].append(key)
    return RiskWindows(tuple((window, tuple(keys)) for window, keys in grouped.items()),
                       None if alerting_only else DEFAULT_RISK_WINDOW)


# -- the service ---------------------------------------------------------------------

@dataclass
class AlertPass:
    """What one or more passes did."""

    tickets: int = 0      # tickets locked and looked at
    milestones: int = 0   # milestones alerted about
    sms: int = 0          # SMS queued
    unreachable: int = 0  # recipients without a phone (noted in the ticket's history)
    callbacks: int = 0    # callback requests alerted about (not called back in time)

    def __iadd__(self, other: AlertPass) -> AlertPass:
        self.tickets += other.tickets
        self.milestones += other.milestones
        self.callbacks += other.callbacks
        self.sms += other.sms
        self.unreachable += other.unreachable
        return self


@dataclass(frozen=True)
class _Recipient:
    target: str            # as routing.yaml writes it: "user:ana" or "+40722123456"
    number: str | None     # where the SMS goes; None when there is nowhere
    problem: str = ""      # why not, for the history: "not_a_user" or "no_phone" (labels history_alert_<problem>)


def alert_milestones(session: Session, hotline: HotlineConfig, now: datetime, limit: int = BATCH) -> AlertPass:
    """Alert about every milestone due an alert now, on at most ``limit`` tickets. The caller
    commits: the SMS, ``alerted_at`` and the history event go together or not at all."""
    routing = hotline.routing
    windows = risk_windows(routing, alerting_only=True)
    if not windows.by_department:
        return AlertPass()
    due = exists().where(
        TicketMilestone.ticket_id == Ticket.id, TicketMilestone.met_at.is_(None),
        TicketMilestone.alerted_at.is_(None), TicketMilestone.due_at > now, milestone_due_within(windows, now),
    )
    tickets = session.scalars(
        select(Ticket).where(Ticket.status.in_(TicketStatus.OPEN), due)
        .order_by(Ticket.id).limit(limit).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    done = AlertPass(tickets=len(tickets))
    users = _user_phones(session, routing)
    for ticket in tickets:
        _alert_ticket(session, hotline, ticket, users, now, done)
    return done


def _user_phones(session: Session, routing: Routing) -> dict[str, str | None]:
    """The phones of the active console users the alerts name (None: no phone)."""
    names = {t.removeprefix("user:") for d in routing.departments.values() if d.alert
             for t in d.alert.to if t.startswith("user:")}
    if not names:
        return {}
    found = session.execute(select(User.name, User.phone).where(User.name.in_(names), User.active)).all()
    return dict(found)


# The problems of ``_Recipient`` as the log says them (the history says them in the reader's words).
_PROBLEMS = {"not_a_user": "not an active console user", "no_phone": "no phone (ivr user phone)"}


def _recipients(targets: list[str], users: dict[str, str | None]) -> list[_Recipient]:
    recipients = []
    for target in targets:
        if not target.startswith("user:"):
            recipients.append(_Recipient(target, target))
        elif (name := target.removeprefix("user:")) not in users:
            recipients.append(_Recipient(target, None, "not_a_user"))
        elif users[name] is None:
            recipients.append(_Recipient(target, None, "no_phone"))
        else:
            recipients.append(_Recipient(target, users[name]))
    return recipients


def _alert_ticket(session: Session, hotline: HotlineConfig, ticket: Ticket,
                  users: dict[str, str | None], now: datetime, done: AlertPass) -> None:
    alert = hotline.routing.departments[ticket.department].alert
    assert alert is not None
    # Read again under the ticket's lock: another worker may have alerted since our query began.
    milestones = session.scalars(
        select(TicketMilestone).where(TicketMilestone.ticket_id == ticket.id).order_by(TicketMilestone.due_at)
        .execution_options(populate_existing=True)
    ).all()
    recipients = _recipients(alert.to, users)
    for milestone in milestones:
        if alert_due(milestone.due_at, milestone.met_at, milestone.alerted_at, alert.lead, now):
            _alert_milestone(session, hotline, ticket, milestone, recipients, now, done)


def _alert_milestone(session: Session, hotline: HotlineConfig, ticket: Ticket, milestone: TicketMilestone,
                     recipients: list[_Recipient], now: datetime, done: AlertPass) -> None:
    routing = hotline.routing
    due_text = milestone.deadline.text(routing.timezone)
    prompts = hotline.prompt_set(routing.default_language)
    text = prompts.sms["milestone_alert"].format(
        company=routing.hotline.company, ticket=ticket.number, due=due_text,
        milestone=hotline.milestone_name(ticket.department, milestone.name, prompts.lang),
        department=routing.departments[ticket.department].name[prompts.lang],
    )
    milestone.alerted_at = now
    _tell(session, hotline, ticket, f"alert_{milestone.name}", text, recipients,
          {"milestone": milestone.name, "final": milestone.final, "due": history.due(milestone.deadline)}, now, done)
    done.milestones += 1


def _tell(session: Session, hotline: HotlineConfig, ticket: Ticket, purpose: str, text: str,
          recipients: list[_Recipient], what: dict, now: datetime, done: AlertPass) -> None:
    """Queue ``text`` once to every recipient with a phone, and note in the ticket's history who
    was told (``what``: the facts of the alert, as history data) and who could not be."""
    told, untold, numbers = [], [], set()
    for index, recipient in enumerate(recipients):
        if recipient.number is None:
            untold.append({"target": recipient.target, "problem": recipient.problem})
            log.warning("no alert SMS to %s: %s", recipient.target, _PROBLEMS[recipient.problem],
                        extra={"ticket": ticket.number})
            continue
        if recipient.number in numbers:
            continue  # two entries that name one phone: one SMS
        numbers.add(recipient.number)
        if _queue_once(session, hotline, ticket, f"{purpose}#{index}", text, recipient.number, now):
            done.sms += 1
        told.append({"target": recipient.target, "number": recipient.number})
    history.record(session, ticket, "system", "alerted", now, told=told, untold=untold, **what)
    done.unreachable += len(untold)


def _queue_once(session: Session, hotline: HotlineConfig, ticket: Ticket, purpose: str,
                text: str, to: str, now: datetime) -> bool:
    """Queue the alert SMS unless it already is; the unique (ticket, purpose) settles a race."""
    exists = select(SmsMessage.id).where(SmsMessage.ticket_id == ticket.id, SmsMessage.purpose == purpose)
    if session.scalar(exists) is not None:
        return False
    try:
        with session.begin_nested():
            queue_sms(session, hotline, ticket, purpose, text, now, to=to)
    except IntegrityError:
        return False
    return True


def run_alerts(database: Database, hotline: HotlineConfig, now: datetime) -> AlertPass:
    """Alert about everything due now, ``BATCH`` tickets per transaction."""
    total = AlertPass()
    while True:
        with database.session() as session, session.begin():
            done = alert_milestones(session, hotline, now)
        total += done
        if done.tickets < BATCH or done.milestones == 0:
            break
    while True:
        with database.session() as session, session.begin():
            done = alert_callbacks(session, hotline, now)
        total += done
        if done.callbacks < BATCH:
            break
    if total.callbacks:
        log.info("alerts: %d callback request(s) not called back in time", total.callbacks)
    if total.milestones:
        log.info("alerts: %d milestone(s), %d SMS queued, %d recipient(s) without a phone",
                 total.milestones, total.sms, total.unreachable)
    return total


@dataclass
class AlertSchedule:
    """``run_alerts`` at most every ``every`` seconds, for a dispatcher's loop (``ivr worker``
    and the dispatcher process of ``ivr serve``); the first call runs at once."""

    database: Database
    hotline: HotlineConfig
    clock: Callable[[], datetime]
    every: float = SCAN_SECONDS
    _next: float = 0.0

    def __call__(self) -> AlertPass | None:
        if time.monotonic() < self._next:
            return None
        # Set first: a failing database is tried again after ``every``, not on every loop.
        self._next = time.monotonic() + self.every
        try:
            return run_alerts(self.database, self.hotline, self.clock())
        except Exception:  # the database is down: the SMS the loop sends must not wait for alerts
            log.exception("alerts pass failed; tried again in %.0f s", self.every)
            return None


# -- callback requests not called back in time -------------------------------------------

def alert_callbacks(session: Session, hotline: HotlineConfig, now: datetime, limit: int = BATCH) -> AlertPass:
    """Alert a department's ``alert.to`` once about each callback request of theirs that nobody
    has called back by its due time (routing.yaml ``callback_within``), through the outbox like a
    milestone at risk. The caller commits; locked and read again like the milestones' pass."""
    routing = hotline.routing
    alerting = [key for key, dept in routing.departments.items() if dept.alert is not None]
    if not alerting:
        return AlertPass()
    callbacks = session.scalars(
        select(Callback).join(Ticket, Callback.ticket_id == Ticket.id)
        .where(Callback.done_at.is_(None), Callback.alerted_at.is_(None), Callback.due_at <= now,
               Ticket.status.in_(TicketStatus.OPEN), Ticket.department.in_(alerting))
        .order_by(Callback.id).limit(limit).with_for_update(of=Callback, skip_locked=True)
        .execution_options(populate_existing=True)
    ).all()
    done = AlertPass()
    users = _user_phones(session, routing)
    prompts = hotline.prompt_set(routing.default_language)
    for callback in callbacks:
        ticket, requested = callback.ticket, callback.requested_at.astimezone(routing.timezone).strftime("%d.%m.%Y %H:%M")
        dept = routing.departments[ticket.department]
        assert dept.alert is not None
        text = prompts.sms["callback_alert"].format(
            company=routing.hotline.company, ticket=ticket.number, requested=requested,
            department=dept.name[prompts.lang],
        )
        callback.alerted_at = now
        _tell(session, hotline, ticket, "alert_callback", text, _recipients(dept.alert.to, users),
              {"callback": callback.requested_at.isoformat()}, now, done)
        done.callbacks += 1
    return done
