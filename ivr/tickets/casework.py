"""What operators do to a ticket. Every action is checked against the ticket's state and
the operator's rights, recorded in the history with who and when, and, where the customer
must be told, queues an SMS in the same transaction.

Callers load the ticket with its row locked (``get_ticket(..., for_update=True)``) in the
transaction that acts on it: two operators acting at once then run one after the other, and
the second one's checks see what the first one did.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from ..compensation import Compensation, compensation_for, formula_in_words
from ..errors import TicketClosed, TicketRefused, TicketTaken
from ..models import SmsMessage, Ticket, User
from ..phone import caller_from, sms_recipient
from ..settings import HotlineConfig
from ..sms.outbox import queue_sms
from ..sms.text import segments, to_gsm7
from ..states import SmsStatus, TicketStatus
from . import history, terms
from .registration import meet_milestones, unmeet_milestones
from .terms import TermsChange

MAX_TEXT = 1000


NotYourTicket = TicketTaken


@dataclass(frozen=True)
class SmsPreview:
    text: str
    parts: int


def can_act(user: User, ticket: Ticket) -> bool:
    """Supervisors act on every ticket; operators on their own and on untaken ones."""
    # The relationship, not the column: it is current even before the session flushes.
    assignee = ticket.assignee
    return user.is_supervisor or assignee is None or assignee.id == user.id


def check_can_act(user: User, ticket: Ticket) -> None:
    """Raise TicketTaken unless ``user`` may act on ``ticket``."""
    if not can_act(user, ticket):
        raise TicketTaken(ticket.number, ticket.assignee.name if ticket.assignee else "?")


def _record(session: Session, ticket: Ticket, user: User, kind: str, now: datetime, detail: str = "",
            **data: object) -> None:
    history.record(session, ticket, history.actor_of(user), kind, now, detail, **data)


def _closed_by(ticket: Ticket) -> str:
    """The user name of whoever gave the ticket its current (closed) status."""
    actor = next((e.actor for e in reversed(ticket.events) if e.kind == ticket.status), "")
    return actor.partition(":")[2] or (ticket.assignee.name if ticket.assignee else "?")


def _check(user: User, ticket: Ticket, *, open_only: bool = True) -> None:
    if open_only and ticket.status not in TicketStatus.OPEN:
        raise TicketClosed(ticket.number, ticket.status, _closed_by(ticket))
    check_can_act(user, ticket)


def check_can_change(user: User, ticket: Ticket) -> None:
    """What a preview checks before showing what an action would do: TicketClosed when the
    ticket is closed, TicketTaken when ``user`` may not act on it."""
    _check(user, ticket)


def _text(value: str, what: str) -> str:
    """The operator's text, trimmed; refused (``refused_empty_<what>``, ``refused_too_long``)
    when empty or too long. ``what``: note, progress, message, explanation, reason."""
    value = (value or "").strip()
    if not value:
        raise TicketRefused(f"empty_{what}", f"the {what} is empty")
    if len(value) > MAX_TEXT:
        raise TicketRefused("too_long", f"the {what} is longer than {MAX_TEXT} characters", max=str(MAX_TEXT))
    return value


def sms_text(hotline: HotlineConfig, ticket: Ticket, template: str, **values: str) -> SmsPreview:
    """The SMS a customer would get, as sent (GSM-7), and how many parts it costs."""
    prompts = hotline.prompt_set(ticket.language)
    text = to_gsm7(prompts.sms[template].format(ticket=ticket.number, company=hotline.routing.hotline.company, **values))
    return SmsPreview(text, segments(text))


def _notify(session: Session, hotline: HotlineConfig, ticket: Ticket, template: str, now: datetime, **values: str) -> SmsMessage | None:
    sent_before = sum(1 for m in ticket.messages if m.purpose.split("#")[0] == template and RESENT not in m.purpose)
    text = sms_text(hotline, ticket, template, **values).text
    return queue_sms(session, hotline, ticket, f"{template}#{sent_before + 1}", text, now)


def take(session: Session, ticket: Ticket, user: User, now: datetime) -> None:
    _check(user, ticket)
    previous = ticket.assignee.name if ticket.assignee else None
    ticket.assignee, ticket.status = user, TicketStatus.IN_PROGRESS
    meet_milestones(ticket, "taken", now)
    _record(session, ticket, user, "taken", now, previous=previous if previous != user.name else None)


def assign(session: Session, ticket: Ticket, supervisor: User, assignee: User, now: datetime) -> bool:
    """A supervisor gives an open ticket to a named, active operator (or supervisor): it is in
    work from then on, as if they had taken it. False (and nothing recorded) when it is theirs already."""
    if not supervisor.is_supervisor:
        raise TicketRefused("supervisors_only", "only supervisors assign tickets")
    if not assignee.active:
        raise TicketRefused("assignee_inactive", f"{assignee.name} is disabled", name=assignee.name)
    _check(supervisor, ticket)
    if ticket.assignee is not None and ticket.assignee.id == assignee.id:
        return False
    ticket.assignee, ticket.status = assignee, TicketStatus.IN_PROGRESS
    meet_milestones(ticket, "taken", now)
    history.record(session, ticket, history.actor_of(supervisor), "assigned", now, to=assignee.name)
    return True


def add_note(session: Session, ticket: Ticket, user: User, note: str, now: datetime) -> None:
    # Any colleague may leave an internal note, even on a ticket someone else holds: it neither
    # changes the ticket nor texts the customer, and it is where a text typed in a lost race goes.
    _record(session, ticket, user, "note", now, _text(note, "note"))


def _close(session, hotline, ticket, user, status, template, text, now) -> SmsMessage | None:
    _check(user, ticket)
    ticket.status, ticket.outcome, ticket.closed_at = status, text, now
    meet_milestones(ticket, "resolution", now)
    ticket.assignee = ticket.assignee or user
    message = _notify(session, hotline, ticket, template, now, message=text)
    _record(session, ticket, user, status, now, text, sms_to=message.to if message else None)
    return message


def progress(session: Session, hotline: HotlineConfig, ticket: Ticket, user: User, message: str, now: datetime) -> SmsMessage | None:
    """Tell the customer how their complaint is going; meets the ticket's progress milestones."""
    _check(user, ticket)
    text = _text(message, "progress")
    sms = _notify(session, hotline, ticket, "ticket_progress", now, message=text)
    meet_milestones(ticket, "progress", now)
    _record(session, ticket, user, "progress", now, text, sms_to=sms.to if sms else None)
    return sms


def compensation_due(hotline: HotlineConfig, ticket: Ticket, now: datetime) -> bool:
    """Whether resolving now owes the customer a compensation: the department names a rule
    and the resolution comes after the deadline day."""
    rule = hotline.routing.compensation_rule(ticket.department)
    return rule is not None and now.astimezone(hotline.routing.timezone).date() > compensation_due_on(hotline, ticket)


def compensation_due_on(hotline: HotlineConfig, ticket: Ticket) -> date:
    """The last day of the milestone a compensation counts lateness against (the legal one
    unless the department's ``compensation:`` names another)."""
    name = hotline.routing.departments[ticket.department].compensation_milestone
    return next((m.due_on for m in ticket.milestones if m.name == name), ticket.deadline_on)


def compensation_of(hotline: HotlineConfig, ticket: Ticket, monthly_value: Decimal | None, now: datetime) -> Compensation | None:
    """The compensation owed when resolving now, or None when none is; TicketError without
    the customer's monthly value when one is owed."""
    if not compensation_due(hotline, ticket, now):
        return None
    if monthly_value is None:
        raise TicketRefused("monthly_needed", "the customer's monthly value is needed to compute the compensation")
    rule = hotline.routing.compensation_rule(ticket.department)
    return compensation_for(rule, monthly_value, compensation_due_on(hotline, ticket),
                            now.astimezone(hotline.routing.timezone).date())


def resolution_message(hotline: HotlineConfig, ticket: Ticket, message: str, compensation: Compensation | None) -> str:
    """The operator's message, followed by the compensation in the customer's words."""
    if compensation is None:
        return message
    return f"{message} {formula_in_words(compensation, hotline.prompt_set(ticket.language).sms)}"


def resolve(session: Session, hotline: HotlineConfig, ticket: Ticket, user: User, message: str, now: datetime,
            monthly_value: Decimal | None = None) -> SmsMessage | None:
    text = _text(message, "message")
    compensation = compensation_of(hotline, ticket, monthly_value, now)
    closed = _close(session, hotline, ticket, user, TicketStatus.RESOLVED, "ticket_resolved",
                    resolution_message(hotline, ticket, text, compensation), now)
    if compensation is not None:
        _record(session, ticket, user, "compensation", now, **history.compensation_data(compensation))
    return closed


def reject(session: Session, hotline: HotlineConfig, ticket: Ticket, user: User, explanation: str, now: datetime) -> SmsMessage | None:
    return _close(session, hotline, ticket, user, TicketStatus.REJECTED, "ticket_rejected", _text(explanation, "explanation"), now)


def extend(session: Session, hotline: HotlineConfig, ticket: Ticket, user: User, reason: str, now: datetime) -> TermsChange:
    """Extend the milestones the department's extension rule names, with a reason the customer
    is sent along with the new date; see ``ivr.tickets.terms.plan_extension`` for the refusals."""
    _check(user, ticket)
    text = _text(reason, "reason")
    change = terms.extend(session, hotline, ticket, user, text, now)
    _notify(session, hotline, ticket, "ticket_extended", now, deadline=_told(hotline, change), message=text)
    return change


def reclassify(session: Session, hotline: HotlineConfig, ticket: Ticket, user: User, department: str,
               reason: str, now: datetime) -> TermsChange:
    """Move the ticket to ``department``: its milestones are counted again from the registration
    under that department's rules; the customer is told when the legal date changes."""
    _check(user, ticket)
    text = _text(reason, "reason")
    change = terms.reclassify(session, hotline, ticket, user, department, text, now)
    if change.legal_changed:
        _notify(session, hotline, ticket, "ticket_reclassified", now, deadline=_told(hotline, change),
                department=department_name(hotline, ticket))
    return change


def _told(hotline: HotlineConfig, change: TermsChange) -> str:
    return change.told.text(hotline.routing.timezone)


def department_name(hotline: HotlineConfig, ticket: Ticket) -> str:
    """The ticket's department as its customer knows it, in the customer's language."""
    names = hotline.routing.departments[ticket.department].name
    return names.get(ticket.language) or names[hotline.routing.default_language]


def reopen(session: Session, ticket: Ticket, user: User, now: datetime) -> None:
    _check(user, ticket, open_only=False)
    if ticket.status in TicketStatus.OPEN:
        raise TicketRefused("already_open", f"{ticket.number} is already open", number=ticket.number)
    was = ticket.status
    ticket.status, ticket.closed_at = TicketStatus.IN_PROGRESS, None
    unmeet_milestones(ticket, "resolution")
    _record(session, ticket, user, "reopened", now, was=was)


# -- an SMS that did not reach the customer ------------------------------------------------------
# A failed or undelivered customer SMS can be sent again, the same text, to the same number or to
# one the operator types. The new message's purpose is the first one's plus "-resend#n"
# ("ticket_resolved#1-resend#2"): the outbox's unique (ticket, purpose) and the ticket's row lock
# make a double click or two operators at once queue it once.

RESENT = "-resend#"
FAILED_SMS = (SmsStatus.UNDELIVERED, SmsStatus.FAILED)
_ALERT = "alert_"   # the supervisors' alerts are filed under the ticket too; they are not the customer's


def customer_messages(ticket: Ticket) -> list[SmsMessage]:
    """The SMS sent (or to be sent) to the customer, oldest first."""
    return [m for m in ticket.messages if not m.purpose.startswith(_ALERT)]


def first_purpose(message: SmsMessage) -> str:
    """The purpose of the SMS that ``message`` sends again, or its own when it is no resend."""
    return message.purpose.split(RESENT)[0]


def resendable(ticket: Ticket) -> list[SmsMessage]:
    """The customer SMS that failed and were not sent again since (the latest try of each text)."""
    latest = {first_purpose(m): m for m in customer_messages(ticket)}
    return [m for m in latest.values() if m.status in FAILED_SMS]


def last_sms_failed(ticket: Ticket) -> SmsMessage | None:
    """The ticket's last customer SMS when it failed or was not delivered, else None."""
    messages = customer_messages(ticket)
    return messages[-1] if messages and messages[-1].status in FAILED_SMS else None


def sms_number(hotline: HotlineConfig, text: str) -> str | None:
    """A number an operator typed ("0722 123 456", "+40722123456") as E.164 when the hotline may
    text it: a mobile of routing.yaml's hotline.sms_countries, as for callers; else None."""
    section = hotline.routing.hotline
    return sms_recipient(caller_from(text[:32], section.holidays), section.sms_countries)


def resend_sms(session: Session, hotline: HotlineConfig, ticket: Ticket, user: User, message_id: int,
               now: datetime) -> SmsMessage:
    """Queue the failed SMS ``message_id`` again, the same text to the same number."""
    check_can_act(user, ticket)
    failed = _failed_message(ticket, message_id)
    return _send_again(session, hotline, ticket, user, failed, failed.to, now)


def send_sms_to(session: Session, hotline: HotlineConfig, ticket: Ticket, user: User, message_id: int,
                number: str, now: datetime, *, keep: bool = False) -> SmsMessage:
    """Queue the failed SMS ``message_id`` again, the same text to ``number`` (as typed). With
    ``keep`` the ticket's later SMS go to that number too; else the ticket's number stays."""
    check_can_act(user, ticket)
    failed = _failed_message(ticket, message_id)
    to = sms_number(hotline, number)
    if to is None:
        raise TicketRefused("sms_number_invalid", f"{number!r} is not a mobile we may text",
                            countries=", ".join(hotline.routing.hotline.sms_countries))
    if keep and to != ticket.sms_to:
        history.record(session, ticket, history.actor_of(user), "sms_number_changed", now,
                       before=ticket.sms_to or "", after=to)
        ticket.sms_to = to
    return _send_again(session, hotline, ticket, user, failed, to, now)


def _failed_message(ticket: Ticket, message_id: int) -> SmsMessage:
    message = next((m for m in customer_messages(ticket) if m.id == message_id), None)
    if message is None:
        raise TicketRefused("sms_unknown", f"{ticket.number} has no SMS {message_id}")
    again = next((m for m in customer_messages(ticket)
                  if m.id > message.id and first_purpose(m) == first_purpose(message)), None)
    if again is not None:
        raise TicketRefused("sms_already_resent", f"SMS {message.purpose} was sent again as {again.purpose}",
                            name=_resent_by(ticket, again.purpose), to=again.to)
    if message.status not in FAILED_SMS:
        raise TicketRefused("sms_not_failed", f"SMS {message.purpose} is {message.status}")
    return message


def _resent_by(ticket: Ticket, purpose: str) -> str:
    event = next((e for e in reversed(ticket.events) if e.kind == "sms_resent" and (e.data or {}).get("purpose") == purpose), None)
    return event.actor.partition(":")[2] if event is not None else "?"


def _send_again(session: Session, hotline: HotlineConfig, ticket: Ticket, user: User, failed: SmsMessage,
                to: str, now: datetime) -> SmsMessage:
    first = first_purpose(failed)
    tries = sum(1 for m in ticket.messages if m.purpose.startswith(first + RESENT))
    purpose = f"{first}{RESENT}{tries + 1}"
    message = queue_sms(session, hotline, ticket, purpose, failed.body, now, to=to)
    assert message is not None  # ``to`` is a number
    history.record(session, ticket, history.actor_of(user), "sms_resent", now,
                   purpose=purpose, first=first, to=to, failed_to=failed.to)
    return message
