"""Finding tickets for the console: the worklist, its counts, one ticket, the supervisor's overview."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from ..calls.stats import days_between, local_range
from ..models import SmsMessage, Ticket, TicketEvent, TicketMilestone, User
from ..states import SmsStatus, TicketStatus
from ..transcripts import transcript_matches

PER_PAGE = 25
# The columns the work list sorts on (``TicketFilter.sort``); "" is its default order.
SORTS = ("number", "registered", "deadline", "next", "department", "status", "assignee")
_STATUS_ORDER = (TicketStatus.REGISTERED, TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.REJECTED)
SMS_NOT_DELIVERED = (SmsStatus.UNDELIVERED, SmsStatus.FAILED)


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


def at_risk(windows: RiskWindows, now: datetime) -> list[ColumnElement[bool]]:
    """SQL on Ticket: open, with an unmet milestone due within its department's window of ``now``."""
    unmet_due_soon = exists().where(
        TicketMilestone.ticket_id == Ticket.id, TicketMilestone.met_at.is_(None), milestone_due_within(windows, now),
    )
    return [Ticket.status.in_(TicketStatus.OPEN), unmet_due_soon]


@dataclass(frozen=True)
class TicketFilter:
    department: str = ""
    status: str = ""       # "" = all, "open", or one status
    overdue: bool = False
    at_risk: RiskWindows | None = None   # open, with an unmet milestone due within these windows
    search: str = ""
    mine: bool = False            # assigned to the user who asks
    unassigned: bool = False      # open and taken by nobody
    sms_failed: bool = False      # the last SMS to the customer was not delivered
    sort: str = ""                # one of SORTS; "" = open first, nearest deadline first
    descending: bool = False
    department_order: tuple[str, ...] = ()   # department keys by their name in the reader's language
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
    # The ids of the page's tickets whose last SMS was not delivered.
    sms_failed: set[int] = field(default_factory=set)


def last_sms_not_delivered() -> ColumnElement[bool]:
    """SQL on Ticket: the last SMS queued for its customer failed or was not delivered (a
    later SMS that went through clears the flag: the customer has heard from us since)."""
    later = aliased(SmsMessage)
    last = select(func.max(later.id)).where(later.ticket_id == Ticket.id).correlate(Ticket).scalar_subquery()
    return exists().where(SmsMessage.id == last, SmsMessage.status.in_(SMS_NOT_DELIVERED)).correlate(Ticket)


def _like(text: str) -> str:
    """``%text%`` for LIKE, the user's own ``%`` and ``_`` taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_matches(text: str) -> ColumnElement[bool] | None:
    """A ticket number or client code containing ``text``, or a caller or SMS number in any
    usual writing: 0722 123 456, 0722123456, +40722123456, 0040722123456, 40722123456 and
    722123456 all find +40722123456 (the national 0 and the 00 prefix are dropped, and what is
    left is looked for inside the stored E.164 number), or words of the voicemail's transcript."""
    text = text.strip()
    if not text:
        return None
    matches = [Ticket.number.ilike(_like(text), escape="\\"), Ticket.client_code.ilike(_like(text), escape="\\"),
               transcript_matches(text)]
    digits = "".join(c for c in text if c in "0123456789").lstrip("0")
    if len(digits) >= 4 and all(c in "0123456789 +-./()" for c in text):
        matches += [Ticket.caller.like(f"%{digits}%"), Ticket.sms_to.like(f"%{digits}%")]
    return or_(*matches)


def _conditions(user: User | None, wanted: TicketFilter, now: datetime) -> list[ColumnElement[bool]]:
    """Every signed-in user reads every ticket (acting on one is ``casework.can_act``'s
    business); ``user`` is whom "mine" means, None on the server (an administrator's export)."""
    conditions: list[ColumnElement[bool]] = []
    if wanted.department:
        conditions.append(Ticket.department == wanted.department)
    if wanted.status == "open":
        conditions.append(Ticket.status.in_(TicketStatus.OPEN))
    elif wanted.status:
        conditions.append(Ticket.status == wanted.status)
    if wanted.overdue:
        conditions += [Ticket.status.in_(TicketStatus.OPEN), Ticket.deadline_at <= now]
    if wanted.at_risk is not None:
        conditions += at_risk(wanted.at_risk, now)
    if wanted.mine and user is not None:
        conditions.append(Ticket.assignee_id == user.id)
    if wanted.unassigned:
        conditions += [Ticket.status.in_(TicketStatus.OPEN), Ticket.assignee_id.is_(None)]
    if wanted.sms_failed:
        conditions.append(last_sms_not_delivered())
    if wanted.registered_from is not None:
        conditions.append(Ticket.registered_at >= wanted.registered_from)
    if wanted.registered_before is not None:
        conditions.append(Ticket.registered_at < wanted.registered_before)
    found = search_matches(wanted.search)
    if found is not None:
        conditions.append(found)
    return conditions


def _nearest_due() -> ColumnElement:
    """SQL on Ticket: when its nearest unmet milestone falls due (NULL when all are met)."""
    return (select(func.min(TicketMilestone.due_at))
            .where(TicketMilestone.ticket_id == Ticket.id, TicketMilestone.met_at.is_(None))
            .scalar_subquery())


def _order(wanted: TicketFilter) -> list:
    """ORDER BY for the list: the chosen column (NULLs last either way, as on both databases
    alike), then the ticket's id so that pages never overlap."""
    open_first = case((Ticket.status.in_(TicketStatus.OPEN), 0), else_=1)
    if wanted.sort not in SORTS:
        return [open_first, Ticket.deadline_at, Ticket.id]
    keys = {
        "number": [Ticket.year, Ticket.sequence],
        "registered": [Ticket.registered_at],
        "deadline": [Ticket.deadline_at],
        "next": [_nearest_due()],
        "department": [case({k: i for i, k in enumerate(wanted.department_order)}, value=Ticket.department,
                            else_=len(wanted.department_order)) if wanted.department_order else Ticket.department],
        "status": [case({s: i for i, s in enumerate(_STATUS_ORDER)}, value=Ticket.status, else_=len(_STATUS_ORDER))],
        "assignee": [select(User.name).where(User.id == Ticket.assignee_id).scalar_subquery()],
    }[wanted.sort]
    order = []
    for key in keys:
        order += [case((key.is_(None), 1), else_=0), key.desc() if wanted.descending else key.asc()]
    return [*order, Ticket.id.desc() if wanted.descending else Ticket.id]


def list_tickets(session: Session, user: User, wanted: TicketFilter, now: datetime) -> TicketPage:
    """One page of the filter, in its sort order (by default open tickets first, the nearest
    deadline first); a page past the last is the last."""
    conditions = _conditions(user, wanted, now)
    total = session.scalar(select(func.count()).select_from(Ticket).where(*conditions)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(wanted.page, 1), pages)
    query = (
        select(Ticket).where(*conditions).options(selectinload(Ticket.assignee))
        .order_by(*_order(wanted)).offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    )
    tickets = list(session.scalars(query))
    ids = [t.id for t in tickets]
    failed = set(session.scalars(select(Ticket.id).where(Ticket.id.in_(ids), last_sms_not_delivered()))) if ids else set()
    return TicketPage(tickets, total, page, pages, nearest_unmet_milestones(session, tickets), failed)


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


@dataclass(frozen=True)
class ListCounts:
    """The figures above the work list, over every ticket."""

    per_department: dict[str, int]   # open tickets
    per_status: dict[str, int]
    overdue: int                      # open, past their deadline
    unassigned: int                   # open, taken by nobody
    mine: int                         # open, taken by the user who asks
    sms_failed: int                   # the last SMS to the customer was not delivered
    at_risk: int                      # open, with an unmet milestone due soon (``at_risk``)


def counts(session: Session, user: User, now: datetime, risk: RiskWindows) -> ListCounts:
    """Open tickets per department, all tickets per status, and the list's alarms."""
    is_open = Ticket.status.in_(TicketStatus.OPEN)
    per_department = dict(session.execute(
        select(Ticket.department, func.count()).where(is_open).group_by(Ticket.department)
    ).all())
    per_status = dict(session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())

    def count(*where: ColumnElement[bool]) -> int:
        return session.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0

    return ListCounts(
        per_department, per_status,
        overdue=count(is_open, Ticket.deadline_at <= now),
        unassigned=count(is_open, Ticket.assignee_id.is_(None)),
        mine=count(is_open, Ticket.assignee_id == user.id),
        sms_failed=count(last_sms_not_delivered()),
        at_risk=count(*at_risk(risk, now)),
    )


def list_version(session: Session) -> str:
    """Changes whenever any ticket does: every change to a ticket writes a history event, and
    an SMS's status moves its ``updated_at``. Two MAX lookups (the first on a primary key), cheap
    enough for every open list to ask every few seconds; the database answers, so any worker can."""
    last_event = session.scalar(select(func.max(TicketEvent.id))) or 0
    last_sms = session.scalar(select(func.max(SmsMessage.updated_at)))
    return f"{last_event}.{int(last_sms.timestamp() * 1000) if last_sms else 0}"


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
class DepartmentFigures:
    """One department's tickets in the overview's range."""

    registered: int = 0
    closed: int = 0
    closed_in_time: int = 0

    @property
    def closed_late(self) -> int:
        return self.closed - self.closed_in_time


@dataclass
class FailedSms:
    """A ticket whose last customer SMS failed or was not delivered, and that SMS."""

    ticket: Ticket
    message: SmsMessage


@dataclass
class Overview:
    """The supervisor's figures for the local days ``days`` (one range for all of them); the
    overdue tickets are those overdue now, whenever registered."""

    days: list[date]
    registered: dict[str, Counter] = field(default_factory=dict)   # department -> local day -> count
    per_department: dict[str, DepartmentFigures] = field(default_factory=dict)
    closed: int = 0
    closed_in_time: int = 0
    overdue: TicketPage = field(default_factory=lambda: TicketPage([], 0, 1, 1))
    failed_sms: list[FailedSms] = field(default_factory=list)   # the latest PER_PAGE
    failed_sms_total: int = 0

    @property
    def share_in_time(self) -> float | None:
        return self.closed_in_time / self.closed if self.closed else None

    @property
    def registered_total(self) -> int:
        return sum(f.registered for f in self.per_department.values())

    def registered_on(self, day: date) -> dict[str, int]:
        return {department: per_day[day] for department, per_day in self.registered.items() if per_day[day]}


def overview(session: Session, now: datetime, timezone: ZoneInfo, first: date, last: date, page: int = 1) -> Overview:
    """Tickets registered per day and department and closed within the deadline, from ``first``
    to ``last`` (local days, inclusive); the overdue tickets (page ``page``); the tickets whose
    last SMS to the customer failed, of the SMS sent in the range."""
    result = Overview(days_between(first, last))
    start, end = local_range(result.days[0], result.days[-1], timezone)
    figures: dict[str, DepartmentFigures] = defaultdict(DepartmentFigures)
    registered: dict[str, Counter] = defaultdict(Counter)
    in_range = select(Ticket.department, Ticket.registered_at).where(Ticket.registered_at >= start, Ticket.registered_at < end)
    for department, at in session.execute(in_range):
        registered[department][at.astimezone(timezone).date()] += 1
        figures[department].registered += 1
    closed = session.execute(
        select(Ticket.department, Ticket.closed_at, Ticket.deadline_at).where(Ticket.closed_at >= start, Ticket.closed_at < end)
    ).all()
    for department, closed_at, deadline_at in closed:
        figures[department].closed += 1
        figures[department].closed_in_time += closed_at < deadline_at
    result.registered, result.per_department = dict(registered), dict(figures)
    result.closed = len(closed)
    result.closed_in_time = sum(f.closed_in_time for f in figures.values())
    result.overdue = _overdue(session, now, page)
    result.failed_sms, result.failed_sms_total = _failed_sms(session, start, end)
    return result


def _overdue(session: Session, now: datetime, page: int) -> TicketPage:
    conditions = [Ticket.status.in_(TicketStatus.OPEN), Ticket.deadline_at <= now]
    total = session.scalar(select(func.count()).select_from(Ticket).where(*conditions)) or 0
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(page, 1), pages)
    tickets = list(session.scalars(
        select(Ticket).where(*conditions).options(selectinload(Ticket.assignee))
        .order_by(Ticket.deadline_at, Ticket.id).offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    ))
    return TicketPage(tickets, total, page, pages)


def last_customer_sms():
    """A subquery: each ticket's last SMS to the customer (``ticket_id``, ``id``); the supervisors'
    alerts filed under a ticket do not count."""
    return (
        select(SmsMessage.ticket_id, func.max(SmsMessage.id).label("id"))
        .where(SmsMessage.ticket_id.is_not(None), SmsMessage.purpose.not_like("alert\\_%", escape="\\"))
        .group_by(SmsMessage.ticket_id).subquery()
    )


def _failed_sms(session: Session, start: datetime, end: datetime) -> tuple[list[FailedSms], int]:
    last = last_customer_sms()
    query = (
        select(Ticket, SmsMessage).join(last, last.c.ticket_id == Ticket.id).join(SmsMessage, SmsMessage.id == last.c.id)
        .where(SmsMessage.status.in_((SmsStatus.UNDELIVERED, SmsStatus.FAILED)),
               SmsMessage.created_at >= start, SmsMessage.created_at < end)
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(query.order_by(SmsMessage.updated_at.desc(), SmsMessage.id.desc()).limit(PER_PAGE)).all()
    return [FailedSms(ticket, message) for ticket, message in rows], total
