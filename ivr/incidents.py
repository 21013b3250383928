"""Outage notices: incidents a supervisor declares, the callers who join them with one keypress,
and closing them, which can resolve every linked ticket with one SMS each.

Services: they take a session and the time, and never commit; the console and the voice
webhooks hold the transaction. Validation problems name the form field they belong to, so
the console can say which field is wrong in the operator's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from .errors import TicketError
from .inputs import clean_text
from .models import Incident, IncidentTicket, Ticket, User
from .settings import HotlineConfig
from .states import TicketSource, TicketStatus
from .tickets import casework
from .tickets.casework import SmsPreview
from .tickets.history import record
from .tickets.registration import final_due, find_by_call, once_per_call, open_ticket

MAX_AREA = 200
MAX_MESSAGE = 500   # spoken to every caller: a long one costs them their minute
MAX_RESOLUTION = casework.MAX_TEXT


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field of the declaration: ``reason`` names a console label
    (``incident_error_<reason>``), ``values`` fill it in."""

    field: str                       # departments | area | message_<lang> | starts | ends
    reason: str                      # required | too_long | unknown_department | not_after_start | over
    values: dict[str, object] = field(default_factory=dict)


class IncidentInvalid(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))


@dataclass(frozen=True)
class Declaration:
    """What the supervisor asked for; ``starts_at`` None means now."""

    departments: list[str]
    area: str
    messages: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None


def check_declaration(hotline: HotlineConfig, wanted: Declaration, now: datetime) -> list[Problem]:
    routing, problems = hotline.routing, []
    if not wanted.departments:
        problems.append(Problem("departments", "required"))
    unknown = [d for d in wanted.departments if d not in routing.departments]
    if unknown:
        problems.append(Problem("departments", "unknown_department", {"value": ", ".join(unknown)}))
    if len(wanted.area.strip()) > MAX_AREA:
        problems.append(Problem("area", "too_long", {"max": MAX_AREA}))
    for lang in routing.hotline.languages:
        text = wanted.messages.get(lang, "").strip()
        if not text:
            problems.append(Problem(f"message_{lang}", "required"))
        elif len(text) > MAX_MESSAGE:
            problems.append(Problem(f"message_{lang}", "too_long", {"max": MAX_MESSAGE}))
    if wanted.ends_at is None:
        problems.append(Problem("ends", "required"))
    elif wanted.ends_at <= max(wanted.starts_at or now, now):  # after its start, and not over already
        problems.append(Problem("ends", "not_after_start"))
    return problems


def declare(session: Session, hotline: HotlineConfig, wanted: Declaration, user: User, now: datetime) -> Incident:
    """A new incident; IncidentInvalid, naming each wrong field, when the declaration is not complete."""
    problems = check_declaration(hotline, wanted, now)
    if problems:
        raise IncidentInvalid(problems)
    order = list(hotline.routing.departments)
    incident = Incident(
        departments=sorted(set(wanted.departments), key=order.index),
        area=clean_text(wanted.area, MAX_AREA).strip() or None,
        messages={lang: clean_text(wanted.messages[lang], MAX_MESSAGE).strip() for lang in hotline.routing.hotline.languages},
        starts_at=wanted.starts_at or now, ends_at=wanted.ends_at, declared_at=now, declared_by=user.name,
    )
    session.add(incident)
    session.flush()
    return incident


# -- joining by phone ---------------------------------------------------------------------------

def join_department(hotline: HotlineConfig, incident: Incident) -> str:
    """The department of a ticket joined before the menu: the incident's first by menu digit."""
    departments = hotline.routing.departments
    known = [key for key in incident.departments if key in departments]
    return min(known, key=lambda key: departments[key].digit) if known else hotline.routing.hotline.fallback


def join(
    session: Session, hotline: HotlineConfig, incident_id: int, *, call_sid: str, department: str | None,
    caller: str | None, sms_to: str | None, language: str, now: datetime,
) -> Ticket | None:
    """The ticket of a caller who pressed the key to join the incident: a number, the deadline
    and the registration SMS as for a voicemail, linked to the incident. A repeated webhook
    finds the call's ticket instead of making another, and a caller who joined before (from
    the same number, in another call) finds theirs. None when the incident is closed (or
    unknown): the caller then leaves a voicemail as usual."""
    existing = find_by_call(session, call_sid)
    if existing is not None:
        return existing
    # Shared: joins go on together, but wait for a supervisor closing it (who holds it for
    # update), and then see it closed rather than join a ticket the closing never resolves.
    incident = session.scalar(select(Incident).where(Incident.id == incident_id).with_for_update(read=True))
    if incident is None or incident.closed_at is not None:
        return None
    joined_before = _open_ticket_of(session, incident.id, caller or sms_to)
    if joined_before is not None:
        return joined_before
    if department not in hotline.routing.departments:
        department = join_department(hotline, incident)

    def joined() -> Ticket:
        ticket = open_ticket(
            session, hotline, call_sid=call_sid, department=department, caller=caller, sms_to=sms_to,
            language=language, source=TicketSource.INCIDENT, now=now,
        )
        session.add(IncidentTicket(incident=incident, ticket=ticket))
        record(session, ticket, "caller", "registered", now, via="incident", incident=incident.id,
               deadline=final_due(ticket))
        session.flush()
        return ticket

    return once_per_call(session, call_sid, joined)  # the same keypress reported twice at once: one ticket


def _open_ticket_of(session: Session, incident_id: int, number: str | None) -> Ticket | None:
    """The open ticket this number joined the incident with, if any (a withheld caller has none to find)."""
    if number is None:
        return None
    return session.scalar(
        select(Ticket).join(IncidentTicket, IncidentTicket.ticket_id == Ticket.id)
        .where(IncidentTicket.incident_id == incident_id, Ticket.status.in_(TicketStatus.OPEN),
               (Ticket.caller == number) | (Ticket.sms_to == number))
        .limit(1)
    )


# -- reading ----------------------------------------------------------------------------------

def get_incident(session: Session, incident_id: int, *, for_update: bool = False) -> Incident | None:
    query = select(Incident).where(Incident.id == incident_id)
    return session.scalar(query.with_for_update() if for_update else query)


def list_incidents(session: Session, now: datetime, limit: int = 200) -> list[Incident]:
    """Active incidents first (the one ending soonest on top), then those still to come, then
    the ended and closed ones, the latest first."""
    active = (Incident.closed_at.is_(None)) & (Incident.starts_at <= now) & (Incident.ends_at > now)
    upcoming = (Incident.closed_at.is_(None)) & (Incident.starts_at > now)
    rank = case((active, 0), (upcoming, 1), else_=2)
    ordered = select(Incident).order_by(
        rank, case((active, Incident.ends_at), else_=None), Incident.starts_at.desc(), Incident.id.desc(),
    )
    return list(session.scalars(ordered.limit(limit)))


def tickets_of(session: Session, incident_id: int, *, open_only: bool = False, for_update: bool = False) -> list[Ticket]:
    query = (
        select(Ticket).join(IncidentTicket, IncidentTicket.ticket_id == Ticket.id)
        .where(IncidentTicket.incident_id == incident_id).order_by(Ticket.id)
    )
    if open_only:
        query = query.where(Ticket.status.in_(TicketStatus.OPEN))
    if for_update:
        query = query.with_for_update(of=Ticket)
    return list(session.scalars(query.options(
        selectinload(Ticket.events), selectinload(Ticket.messages), selectinload(Ticket.assignee),
        selectinload(Ticket.milestones),
    )))


def ticket_counts(session: Session, incident_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per incident: (linked tickets, of which still open)."""
    if not incident_ids:
        return {}
    still_open = func.sum(case((Ticket.status.in_(TicketStatus.OPEN), 1), else_=0))
    rows = session.execute(
        select(IncidentTicket.incident_id, func.count(Ticket.id), still_open)
        .join(Ticket, Ticket.id == IncidentTicket.ticket_id)
        .where(IncidentTicket.incident_id.in_(incident_ids)).group_by(IncidentTicket.incident_id)
    )
    return {incident_id: (total, int(opened or 0)) for incident_id, total, opened in rows}


def incident_of(session: Session, ticket_id: int) -> Incident | None:
    return session.scalar(
        select(Incident).join(IncidentTicket, IncidentTicket.incident_id == Incident.id)
        .where(IncidentTicket.ticket_id == ticket_id)
    )


def incident_ids_of(session: Session, ticket_ids: list[int], chunk: int = 500) -> dict[int, int]:
    """ticket id -> incident id, for the tickets that joined one (read in chunks: a long export
    must not exceed the database's limit on bound values)."""
    found: dict[int, int] = {}
    for start in range(0, len(ticket_ids), chunk):
        part = ticket_ids[start:start + chunk]
        found.update((ticket_id, incident_id) for ticket_id, incident_id in session.execute(
            select(IncidentTicket.ticket_id, IncidentTicket.incident_id).where(IncidentTicket.ticket_id.in_(part))
        ))
    return found


# -- closing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClosePreview:
    """What closing with ``message`` would send: one SMS per customer language as that customer
    gets it, how many SMS go out, and the tickets that would stay open (a compensation is owed:
    an operator resolves those one by one, with the customer's monthly value)."""

    samples: list[tuple[str, SmsPreview]]   # (ticket number, its SMS), one per language
    resolved: int
    sms: int
    left_open: list[str]


def resolution_text(message: str) -> str:
    """The message every linked ticket's customer gets; TicketError when empty or too long."""
    text = clean_text(message, MAX_RESOLUTION + 1).strip()
    if not text:
        raise TicketError("the message to the customers is empty")
    if len(text) > MAX_RESOLUTION:
        raise TicketError(f"the message to the customers is longer than {MAX_RESOLUTION} characters")
    return text


def _owes_compensation(hotline: HotlineConfig, ticket: Ticket, now: datetime) -> bool:
    return casework.compensation_due(hotline, ticket, now)


def preview_close(session: Session, hotline: HotlineConfig, incident: Incident, message: str, now: datetime) -> ClosePreview:
    text = resolution_text(message)
    samples, languages, resolved, sms, left_open = [], set(), 0, 0, []
    for ticket in tickets_of(session, incident.id, open_only=True):
        if _owes_compensation(hotline, ticket, now):
            left_open.append(ticket.number)
            continue
        resolved += 1
        sms += 1 if ticket.sms_to else 0
        if ticket.language not in languages:
            languages.add(ticket.language)
            samples.append((ticket.number, casework.sms_text(hotline, ticket, "ticket_resolved", message=text)))
    return ClosePreview(samples, resolved, sms, left_open)


@dataclass(frozen=True)
class Closed:
    resolved: list[str]
    left_open: list[str]
    already: bool = False   # it was closed before (a second click): nothing was done


def close(session: Session, hotline: HotlineConfig, incident_id: int, user: User, message: str, now: datetime) -> Closed | None:
    """Close the incident; with a message, resolve each of its open tickets with one SMS.

    The incident's row is locked first, then its tickets': a second close (a double click,
    two supervisors) waits, then finds it closed and does nothing. None for an unknown incident."""
    incident = get_incident(session, incident_id, for_update=True)
    if incident is None:
        return None
    if incident.closed_at is not None:
        return Closed([], [], already=True)
    text = resolution_text(message) if message.strip() else ""
    resolved, left_open = [], []
    for ticket in tickets_of(session, incident.id, open_only=True, for_update=True) if text else []:
        if _owes_compensation(hotline, ticket, now):  # it needs the customer's monthly value
            left_open.append(ticket.number)
            continue
        casework.resolve(session, hotline, ticket, user, text, now)
        resolved.append(ticket.number)
    incident.closed_at, incident.closed_by, incident.resolution = now, user.name, text or None
    return Closed(resolved, left_open)
