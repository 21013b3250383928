"""Finding tickets for the console: the worklist, its counts, one ticket, the supervisor's overview."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session, selectinload

from .models import Ticket, TicketMilestone, TicketStatus, User
from .transcripts import transcript_matches

PER_PAGE = 25


@dataclass(frozen=True)
class RiskWindows:
    """How long before a milestone falls due its open ticket is at risk: one window per group
    of departments, and ``default`` (when given) for departments named in none."""

    by_department: tuple[tuple[timedelta, tuple[str, ...]], ...]
    default: timedelta | None = None


def milestone_due_within(windows: RiskWindows, now: datetime) -> ColumnElement[bool]:
    """SQL on TicketMilestone joined to its Ticket: due within its department's window of ``now``."""
    branches = [and_(Ticket.department.in_(keys), TicketMilestone.due_at <= now + window)
                for window, keys in windows.by_department]
    if windows.default is not None:
        named = [key for _, keys in windows.by_department for key in keys]
        branches.append(and_(Ticket.department.not_in(named), TicketMilestone.due_at <= now + windows.default))
    return or_(*branches)


@dataclass(frozen=True)
class TicketFilter:
    department: str = ""
    status: str = ""       # "" = all, "open", or one status
    overdue: bool = False
    at_risk: RiskWindows | None = None   # open, with an unmet milestone due within these windows
    search: str = ""
    page: int = 1
    registered_from: datetime | None = None     # the CSV export's range: from (inclusive) ...
    registered_before: datetime | None = None   # ... to (exclusive)


@dataclass
class TicketPage:
    tickets: list[Ticket]
    total: int
    page: int
    pages: int
    # Each open ticket's nearest unmet milestone, by ticket id.
    nearest: dict[int, TicketMilestone] = field(default_factory=dict)


def visible_to(user: User) -> ColumnElement[bool]:
    """Supervisors see every ticket; operators the untaken ones and their own."""
    if user.is_supervisor:
        return true()
    return or_(Ticket.assignee_id.is_(None), Ticket.assignee_id == user.id)


def _conditions(user: User | None, wanted: TicketFilter, now: datetime) -> list[ColumnElement[bool]]:
    """``user`` None: every ticket (an administrator's export on the server)."""
    conditions = [visible_to(user)] if user is not None else []
    if wanted.department:
        conditions.append(Ticket.department == wanted.department)
    if wanted.status == "open":
        conditions.append(Ticket.status.in_(TicketStatus.OPEN))
    elif wanted.status:
        conditions.append(Ticket.status == wanted.status)
    if wanted.overdue:
        conditions += [Ticket.status.in_(TicketStatus.OPEN), Ticket.deadline_at <= now]
    if wanted.at_risk is not None:
        unmet_due_soon = exists().where(
            TicketMilestone.ticket_id == Ticket.id, TicketMilestone.met_at.is_(None),
            milestone_due_within(wanted.at_risk, now),
        )
        conditions += [Ticket.status.in_(TicketStatus.OPEN), unmet_due_soon]
    if wanted.registered_from is not None:
        conditions.append(Ticket.registered_at >= wanted.registered_from)
    if wanted.registered_before is not None:
        conditions.append(Ticket.registered_at < wanted.registered_before)
    text = wanted.search.strip()
    if text:
        digits = "".join(c for c in text if c in "0123456789").lstrip("0")
        matches = [Ticket.number.ilike(f"%{text}%"), Ticket.client_code.ilike(f"%{text}%"), transcript_matches(text)]
        if len(digits) >= 4:
            matches += [Ticket.caller.like(f"%{digits}%"), Ticket.sms_to.like(f"%{digits}%")]
        conditions.append(or_(*matches))
    return conditions


def list_tickets(session: Session, user: User, wanted: TicketFilter, now: datetime) -> TicketPage:
    """Open tickets first, the nearest deadline first."""
    conditions = _conditions(user, wanted, now)
    total = session.scalar(select(func.count()).select_from(Ticket).where(*conditions)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(wanted.page, 1), pages)
    open_first = case((Ticket.status.in_(TicketStatus.OPEN), 0), else_=1)
    query = (
        select(Ticket).where(*conditions).options(selectinload(Ticket.assignee))
        .order_by(open_first, Ticket.deadline_at, Ticket.id).offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    )
    tickets = list(session.scalars(query))
    return TicketPage(tickets, total, page, pages, nearest_unmet_milestones(session, tickets))


def nearest_unmet_milestones(session: Session, tickets: list[Ticket]) -> dict[int, TicketMilestone]:
    """The unmet milestone due first of each open ticket among ``tickets`` (one page)."""
    ids = [t.id for t in tickets if t.status in TicketStatus.OPEN]
    if not ids:
        return {}
    unmet = session.scalars(
        select(TicketMilestone).where(TicketMilestone.ticket_id.in_(ids), TicketMilestone.met_at.is_(None))
        .order_by(TicketMilestone.due_at.desc(), TicketMilestone.id.desc())
    )
    return {m.ticket_id: m for m in unmet}  # the last written per ticket is its earliest


def all_tickets(session: Session, user: User | None, wanted: TicketFilter, now: datetime) -> list[Ticket]:
    """Every ticket of the filter, no pages, oldest first: for the CSV export."""
    return list(session.scalars(
        select(Ticket).where(*_conditions(user, wanted, now)).order_by(Ticket.registered_at, Ticket.id)
    ))


def counts(session: Session, user: User) -> tuple[dict[str, int], dict[str, int]]:
    """Open tickets per department, and all tickets per status, that ``user`` can see."""
    per_department = dict(session.execute(
        select(Ticket.department, func.count()).where(visible_to(user), Ticket.status.in_(TicketStatus.OPEN))
        .group_by(Ticket.department)
    ).all())
    per_status = dict(session.execute(
        select(Ticket.status, func.count()).where(visible_to(user)).group_by(Ticket.status)
    ).all())
    return per_department, per_status


def get_ticket(session: Session, number: str, *, for_update: bool = False) -> Ticket | None:
    """The ticket with its history, SMS and assignee. ``for_update`` locks its row until the
    transaction ends (SELECT ... FOR UPDATE), so that two operators' actions run one after the other."""
    query = select(Ticket).where(Ticket.number == number)
    if for_update:
        query = query.with_for_update()
    return session.scalar(
        query.options(selectinload(Ticket.events), selectinload(Ticket.messages), selectinload(Ticket.assignee))
    )


@dataclass
class Overview:
    days: list[date]
    registered: dict[str, Counter] = field(default_factory=dict)   # department -> local day -> count
    closed: int = 0
    closed_in_time: int = 0
    overdue: list[Ticket] = field(default_factory=list)

    @property
    def share_in_time(self) -> float | None:
        return self.closed_in_time / self.closed if self.closed else None


def overview(session: Session, now: datetime, timezone: ZoneInfo, days: int = 14) -> Overview:
    """Tickets registered per day and department, share closed within the deadline, the overdue."""
    today = now.astimezone(timezone).date()
    result = Overview([today - timedelta(days=n) for n in range(days - 1, -1, -1)])
    since = datetime.combine(result.days[0], datetime.min.time(), timezone)
    registered: dict[str, Counter] = defaultdict(Counter)
    for department, at in session.execute(select(Ticket.department, Ticket.registered_at).where(Ticket.registered_at >= since)):
        registered[department][at.astimezone(timezone).date()] += 1
    result.registered = dict(registered)
    closed = session.execute(select(Ticket.closed_at, Ticket.deadline_at).where(Ticket.closed_at.is_not(None))).all()
    result.closed = len(closed)
    result.closed_in_time = sum(1 for closed_at, deadline_at in closed if closed_at < deadline_at)
    result.overdue = list(session.scalars(
        select(Ticket).where(Ticket.status.in_(TicketStatus.OPEN), Ticket.deadline_at <= now)
        .options(selectinload(Ticket.assignee)).order_by(Ticket.deadline_at)
    ))
    return result
