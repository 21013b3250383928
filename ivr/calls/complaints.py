"""Complaints taken live: an operator registers what the caller said, or notes that the call
was not a complaint. Same numbering, deadlines and SMS as a voicemail (``ivr.tickets.registration``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..errors import TicketRefused
from ..inputs import clean_text
from ..models import CallRecord, Ticket, User
from ..settings import HotlineConfig
from ..states import TicketSource, TicketStatus
from ..tickets import history
from ..tickets.registration import final_due, find_by_call, once_per_call, open_ticket

MAX_SUMMARY = 1000


def tickets_of_call(session: Session, call_sid: str) -> list[Ticket]:
    return list(session.scalars(select(Ticket).where(Ticket.call_sid == call_sid).order_by(Ticket.call_complaint)))


def next_complaint(session: Session, call_sid: str) -> int:
    """The number the call's next complaint would have: 1, or one past the last registered."""
    last = session.scalar(select(func.max(Ticket.call_complaint)).where(Ticket.call_sid == call_sid))
    return (last or 0) + 1


def register_live(
    session: Session, hotline: HotlineConfig, call: CallRecord, operator: User, *, department: str,
    summary: str, client_code: str, sms_to: str | None, complaint: int, now: datetime,
) -> Ticket:
    """The ticket of the call's ``complaint``-th complaint, registered by ``operator``.

    ``complaint`` comes from the form the operator saw (``next_complaint`` when it was drawn),
    so the same form posted twice finds the ticket it made instead of making another."""
    if department not in hotline.routing.departments:
        raise TicketRefused("unknown_department", f"unknown department {department!r}")
    summary = clean_text(summary, MAX_SUMMARY).strip()
    if not summary:
        raise TicketRefused("empty_summary", "the summary of the complaint is empty")
    existing = find_by_call(session, call.call_sid, complaint)
    if existing is not None:
        return existing

    def registered() -> Ticket:
        ticket = open_ticket(
            session, hotline, call_sid=call.call_sid, department=department, caller=call.caller, sms_to=sms_to,
            language=call.language or hotline.routing.default_language, source=TicketSource.OPERATOR,
            now=now, complaint=complaint,
        )
        ticket.assignee, ticket.status = operator, TicketStatus.IN_PROGRESS
        ticket.client_code = clean_text(client_code, 32).strip() or None
        ticket.recording_sid, ticket.recording_url = call.recording_sid, call.recording_url
        history.record(session, ticket, history.actor_of(operator), "registered", now, summary,
                       via="operator", deadline=final_due(ticket))
        session.flush()
        return ticket

    return once_per_call(session, call.call_sid, registered, complaint)  # the same form posted twice at once: one ticket


def mark_no_complaint(session: Session, call: CallRecord, operator: User, reason: str, now: datetime) -> None:
    """The call was not a complaint (an information request, a wrong number): say why."""
    reason = clean_text(reason, MAX_SUMMARY).strip()
    if not reason:
        raise TicketRefused("empty_no_complaint_reason", "say why the call was not a complaint")
    call.no_complaint_reason, call.no_complaint_by_id = reason, operator.id
