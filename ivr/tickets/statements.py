"""The statements that write a new ticket with the year's next number, and its milestones,
history and SMS: one statement on PostgreSQL (the other rows as CTEs on the ticket's), one
after the other on SQLite (see ``ivr.tickets.registration._write``).

They are built once for each shape of ticket (how many milestones, events and pieces of SMS
text) and take the ticket's values as parameters, named as ``statement_values`` names them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, bindparam, case, cast, exists, func, insert, literal_column, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from ..models import SmsMessage, Ticket, TicketEvent, TicketMilestone, TicketSequence
from ..sms.text import to_gsm7

if TYPE_CHECKING:
    from .registration import NewTicket


@dataclass(frozen=True)
class Shape:
    """What the statements depend on besides the values: the columns given and how many rows
    of each (a voicemail's ticket has at least one milestone and one event)."""

    ticket: tuple[str, ...]      # the tickets row's columns
    milestones: tuple[str, ...]  # a milestone row's columns
    milestone_count: int
    events: tuple[str, ...]
    event_count: int
    sms: tuple[str, ...] | None  # None: no SMS
    sms_pieces: int              # pieces of its text, the number between each two

    @classmethod
    def of(cls, new: NewTicket) -> Shape:
        return cls(
            tuple(new.ticket), tuple(new.milestones[0]), len(new.milestones), tuple(new.events[0]), len(new.events),
            None if new.sms is None else tuple(new.sms), len(new.sms_text),
        )


def statement_values(new: NewTicket) -> dict[str, Any]:
    """``new`` as the statements' parameters: ticket_department, milestone0_name, sms_text1..."""
    values = {"counter_year": new.year, "number_prefix": new.number_prefix}
    values.update({f"ticket_{name}": value for name, value in new.ticket.items()})
    for kind, rows in (("milestone", new.milestones), ("event", new.events), ("sms", [new.sms] if new.sms else [])):
        values.update({f"{kind}{i}_{name}": value for i, row in enumerate(rows) for name, value in row.items()})
    values.update({f"sms_text{i}": to_gsm7(piece) for i, piece in enumerate(new.sms_text)})
    return values


@lru_cache(maxsize=64)
def postgresql_statement(shape: Shape):
    """One statement: the ticket's INSERT, and as CTEs reading its RETURNING, the other rows'."""
    ticket = _insert_ticket(postgresql.insert, shape).cte("new_ticket")
    rest = [statement.cte(f"new_{name}") for name, statement in _rows_after(shape, ticket)]
    return select(ticket.c.id, ticket.c.number).add_cte(*rest)


@lru_cache(maxsize=64)
def sqlite_statements(shape: Shape):
    """The ticket's INSERT, then the other rows' statements, reading the ticket by ``ticket_id``."""
    tickets = Ticket.__table__
    ticket = (
        select(tickets.c.id, tickets.c.number, tickets.c.year, tickets.c.sequence)
        .where(tickets.c.id == bindparam("ticket_id")).subquery("new_ticket")
    )
    return _insert_ticket(sqlite.insert, shape), [statement for _name, statement in _rows_after(shape, ticket)]


def _insert_ticket(dialect_insert, shape: Shape):
    """INSERT the ticket numbered from the counter row (locked FOR UPDATE), unless the call has its ticket.

    The NOT EXISTS spares a report that comes second the counter's lock (it finds the ticket and
    locks nothing); ON CONFLICT still decides a race of two reports, and the loser takes no number.
    """
    tickets, counter = Ticket.__table__, TicketSequence.__table__
    # Constants are written into the SQL, not passed as parameters: psycopg parses a statement
    # once for all only when it has at most 50 parameters.
    sequence = counter.c.last + literal_column("1")
    values = {name: bindparam(f"ticket_{name}", type_=tickets.c[name].type) for name in shape.ticket}
    values.update(year=counter.c.year, sequence=sequence,
                  number=bindparam("number_prefix", type_=String) + _zero_padded(sequence))
    this_call = exists().where(tickets.c.call_sid == values["call_sid"], tickets.c.call_complaint == values["call_complaint"])
    numbered = select(*values.values()).where(counter.c.year == bindparam("counter_year"), ~this_call).with_for_update()
    return (
        dialect_insert(tickets).from_select(list(values), numbered)
        .on_conflict_do_nothing(index_elements=["call_sid", "call_complaint"])
        .returning(tickets.c.id, tickets.c.number, tickets.c.year, tickets.c.sequence)
    )


def _zero_padded(sequence):
    """``f"{sequence:06d}"`` in SQL (either database): 42 -> "000042", 1234567 -> "1234567"."""
    million = literal_column("1000000")  # written into the SQL: see _insert_ticket
    return case((sequence < million, func.substr(cast(sequence + million, String), 2)), else_=cast(sequence, String))


def _rows_after(shape: Shape, ticket) -> list[tuple[str, Any]]:
    """The statements that complete the ``ticket`` written (id, number, year, sequence): its
    milestones, history and SMS, then the counter, now at the ticket's number."""
    statements = [
        ("milestones", _ticket_rows(TicketMilestone.__table__, "milestone", shape.milestones, shape.milestone_count, ticket)),
        ("events", _ticket_rows(TicketEvent.__table__, "event", shape.events, shape.event_count, ticket)),
    ]
    if shape.sms is not None:
        body = bindparam("sms_text0", type_=String)
        for piece in range(1, shape.sms_pieces):
            body = body + ticket.c.number + bindparam(f"sms_text{piece}", type_=String)
        statements.append(("sms", _ticket_rows(SmsMessage.__table__, "sms", shape.sms, 1, ticket, body=body)))
    counter = TicketSequence.__table__
    statements.append(("counter", update(counter).where(counter.c.year == ticket.c.year).values(last=ticket.c.sequence)))
    return statements


def _ticket_rows(table, kind: str, names: tuple[str, ...], count: int, ticket, **expressions):
    """INSERT ``count`` rows into ``table`` for the ``ticket`` written, from the parameters
    ``{kind}{i}_{name}``, with ``expressions`` on the ticket's columns."""
    rows = [
        select(ticket.c.id, *(bindparam(f"{kind}{i}_{name}", type_=table.c[name].type) for name in names),
               *expressions.values())
        for i in range(count)
    ]
    return insert(table).from_select(["ticket_id", *names, *expressions], union_all(*rows) if count > 1 else rows[0])
