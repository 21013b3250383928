"""A ticket's history and its SMS errors on the console's pages, in the reader's language
(the words come from ``ivr.tickets.history``; this module only hands it the reader)."""

from __future__ import annotations

from flask import Blueprint, g

from .. import appctx
from ..models import Ticket
from ..tickets import history

bp = Blueprint("console_history", __name__)


@bp.app_template_global()
def history_of(ticket: Ticket) -> list[history.ShownEvent]:
    """The ticket's events, oldest first, in the signed-in reader's words."""
    routing = appctx.hotline().routing
    names = {key: department.name for key, department in routing.departments.items()}
    return [history.render(event, g.labels, g.lang, routing.timezone, names) for event in ticket.events]


@bp.app_template_global()
def twilio_error(code: int | None) -> str:
    """What Twilio's error ``code`` for an SMS means, in a few words."""
    return history.twilio_error(code, g.labels, g.lang)
