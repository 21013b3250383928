"""A ticket's history: events stored as data (a kind and its facts), never as sentences, so
that each reader sees them in their own language.

``record`` is how every service writes an event. The console renders it from the labels
``history_<kind>`` of prompts/console/<lang>.yaml with the event's data as values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .models import Ticket, TicketEvent, User


def actor_of(user: User) -> str:
    """How a console user is written as an event's actor: "operator:ana", "supervisor:maria"."""
    return f"{user.role}:{user.name}"


def record(session: Session, ticket: Ticket, actor: str, kind: str, now: datetime, detail: str = "",
           **data: Any) -> TicketEvent:
    """Add an event to ``ticket``'s history. ``actor`` is "caller", "twilio", "system" or a
    user's ``actor_of``; ``data`` holds JSON values (text, numbers, ISO dates); ``detail`` is
    free text a person wrote (a note, a reason), shown as written."""
    event = TicketEvent(ticket=ticket, at=now, actor=actor, kind=kind, detail=detail, data=data or None)
    session.add(event)
    return event
