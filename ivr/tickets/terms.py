"""Changing a ticket's terms: extending milestones, and moving it to another department.

Both are planned first (what would change, for the operator to see before confirming) and
then applied in the caller's transaction, with the history entry and, where the customer
must be told, the SMS queued alongside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ..deadlines import Deadline, MilestoneDue, extend_deadline, milestones_for_department
from ..errors import TicketRefused
from ..models import Ticket, TicketMilestone, User
from ..settings import HotlineConfig
from ..states import TicketStatus
from . import history


@dataclass(frozen=True)
class Move:
    """One milestone's due moment before and after a change of terms."""

    name: str
    final: bool
    before: Deadline | None  # None: the milestone is new (a reclassified ticket's)
    after: Deadline


@dataclass(frozen=True)
class TermsChange:
    """What extending or reclassifying a ticket would change."""

    moves: tuple[Move, ...]
    department: str

    @property
    def told(self) -> Deadline:
        """The date the customer is told: the legal one, else the first one that moved."""
        return next((m.after for m in self.moves if m.final), self.moves[0].after)

    @property
    def legal_changed(self) -> bool:
        legal = next(m for m in self.moves if m.final)
        return legal.before is None or legal.before.due_at != legal.after.due_at


def _refuse_unless_open(ticket: Ticket) -> None:
    if ticket.status not in TicketStatus.OPEN:
        raise TicketRefused("closed", f"{ticket.number} is {ticket.status}", number=ticket.number)


# -- extension -------------------------------------------------------------------------------

def plan_extension(hotline: HotlineConfig, ticket: Ticket, now: datetime) -> TermsChange:
    """The milestones the department's extension rule would move, and where to; TicketRefused
    when the procedure does not allow it (no rule, used up, nothing left, or too late)."""
    routing = hotline.routing
    _refuse_unless_open(ticket)
    extension = routing.extension(ticket.department)
    if extension is None:
        raise TicketRefused("no_extension", f"the procedure of {ticket.department} allows no extension")
    if ticket.extension_count >= extension.times:
        raise TicketRefused("extended_enough", f"{ticket.number} was already extended {ticket.extension_count} time(s)",
                            times=str(extension.times))
    names = extension.milestones or [routing.departments[ticket.department].final_milestone]
    open_ones = [m for m in ticket.milestones if m.name in names and m.met_at is None]
    if not open_ones:
        raise TicketRefused("nothing_to_extend", f"{ticket.number} has no open milestone to extend")
    if any(now >= m.due_at for m in open_ones):
        raise TicketRefused("extension_too_late", f"the deadline of {ticket.number} has passed: it can no longer be extended")
    rule = routing.deadlines[extension.rule]
    moves = tuple(
        Move(m.name, m.final, m.deadline,
             extend_deadline(m.deadline, extension.rule, rule, routing.calendar, routing.timezone))
        for m in open_ones
    )
    return TermsChange(moves, ticket.department)


def extend(session: Session, hotline: HotlineConfig, ticket: Ticket, user: User, reason: str, now: datetime) -> TermsChange:
    change = plan_extension(hotline, ticket, now)
    _apply(ticket, change)
    ticket.extension_count += 1
    ticket.extended = True
    moves = [{"milestone": m.name, "final": m.final, "before": history.due(m.before), "after": history.due(m.after)}
             for m in change.moves if m.before]
    history.record(session, ticket, history.actor_of(user), "extended", now, reason, moves=moves)
    return change


# -- reclassification ------------------------------------------------------------------------

def plan_reclassification(hotline: HotlineConfig, ticket: Ticket, department: str) -> TermsChange:
    """The new department's milestones, counted from the ticket's registration."""
    routing = hotline.routing
    _refuse_unless_open(ticket)
    if department not in routing.departments:
        raise TicketRefused("unknown_department", f'"{department}" is not a department')
    if department == ticket.department:
        raise TicketRefused("same_department", f"{ticket.number} is already in {department}")
    before = {m.name: m.deadline for m in ticket.milestones}
    legal_before = next((m for m in ticket.milestones if m.final), None)
    moves = []
    for due in milestones_for_department(routing, department, ticket.registered_at):
        earlier = before.get(due.name) if not due.final else (legal_before.deadline if legal_before else None)
        moves.append(Move(due.name, due.final, earlier, due.deadline))
    return TermsChange(tuple(moves), department)


def reclassify(session: Session, hotline: HotlineConfig, ticket: Ticket, user: User, department: str,
               reason: str, now: datetime) -> TermsChange:
    change = plan_reclassification(hotline, ticket, department)
    was = ticket.department
    met = {by: _met_at(ticket, by) for by in ("registration_sms", "taken", "progress")}
    due = {d.name: d for d in milestones_for_department(hotline.routing, department, ticket.registered_at)}
    ticket.milestones.clear()
    session.flush()  # the old rows go before new ones with the same names arrive
    ticket.department = department
    ticket.milestones = [_stored(d, met.get(d.met_by)) for d in due.values()]
    _apply(ticket, change)
    history.record(session, ticket, history.actor_of(user), "reclassified", now, reason, **{"from": was, "to": department})
    return change


def _met_at(ticket: Ticket, met_by: str) -> datetime | None:
    """When what meets ``met_by`` milestones first happened on this ticket, from its milestones
    and its record (the old department may have had no milestone of that kind)."""
    if met_by == "registration_sms":
        facts = [m.created_at for m in ticket.messages if m.purpose == "ticket_registered"]
    else:
        facts = [e.at for e in ticket.events if e.kind == met_by]  # the "taken" and "progress" events
    facts += [m.met_at for m in ticket.milestones if m.met_by == met_by and m.met_at is not None]
    return min(facts, default=None)


def _stored(due: MilestoneDue, met_at: datetime | None) -> TicketMilestone:
    d = due.deadline
    return TicketMilestone(name=due.name, rule=d.rule, description=d.description, met_by=due.met_by,
                           final=due.final, timed=d.timed, due_on=d.due_on, due_at=d.due_at, met_at=met_at)


def _apply(ticket: Ticket, change: TermsChange) -> None:
    """Write the moved due moments into the milestones, and the legal one into the ticket."""
    by_name = {m.name: m for m in ticket.milestones}
    for move in change.moves:
        stored = by_name[move.name]
        new = move.after
        stored.due_on, stored.due_at, stored.timed, stored.rule, stored.description = (
            new.due_on, new.due_at, new.timed, new.rule, new.description)
        if stored.final:
            ticket.deadline_on, ticket.deadline_at = new.due_on, new.due_at
            ticket.deadline_rule, ticket.deadline_description = new.rule, new.description
