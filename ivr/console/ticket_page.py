"""The console's page of one ticket: what it shows and which actions it offers the signed-in
user (``render_ticket``), and whom a supervisor may give tickets to (``assignees``)."""

from __future__ import annotations

from flask import g, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from .. import appctx
from ..calls.queries import get_call
from ..errors import TicketRefused
from ..models import Ticket, User
from ..saved_replies import REPLY_ACTIONS
from ..states import TicketStatus
from ..tickets import casework, terms as ticket_terms
from ..transcripts import transcript_of
from .previews import RESENDS
from .words import refusal_words


def assignees(db: Session) -> list[User]:
    """Whom a supervisor may give a ticket to (an empty list for an operator, who may not)."""
    if not g.user.is_supervisor:
        return []
    return list(db.scalars(select(User).where(User.active).order_by(User.name)))


def render_ticket(ticket, preview=None, status: int = 200, draft: dict | None = None, refusal: dict | None = None):
    """The ticket's page. ``draft`` is what the operator typed into one action's form (kept
    through a preview, a refusal or a saved reply); ``refusal`` says why an action was refused."""
    store = appctx.recording_store()
    call = get_call(object_session(ticket), ticket.call_sid)
    extension_refused = extension_refused_why(ticket)
    return render_template(
        "console/ticket.html", ticket=ticket, preview=preview, can_play=store is not None, call=call,
        transcript=transcript_of(object_session(ticket), ticket.call_sid),
        transcription_on=appctx.hotline().routing.hotline.transcription,
        extension_refused=extension_refused, offered=offered_actions(ticket, extension_refused),
        may_act=casework.can_act(g.user, ticket),
        draft=draft or preview or {}, refusal=refusal, replies=saved_replies(ticket),
        resendable={m.id for m in casework.resendable(ticket)}, last_failed=casework.last_sms_failed(ticket),
        can_act=casework.can_act(g.user, ticket), assignees=assignees(object_session(ticket)),
        departments=appctx.hotline().routing.departments,
        needs_monthly=casework.compensation_due(appctx.hotline(), ticket, appctx.now()),
    ), status


def offered_actions(ticket: Ticket, extension_refused: str | None) -> set[str]:
    """The actions the page offers the signed-in user: a note to anyone; the rest to the
    assignee, to anyone on an untaken ticket and to supervisors."""
    offered = {"note"}
    if not casework.can_act(g.user, ticket):
        return offered
    if ticket.status in TicketStatus.OPEN:
        offered |= {"progress", "resolve", "reject", "reclassify"}
        offered |= {"take"} if ticket.assignee is None or ticket.assignee.id != g.user.id else set()
        offered |= {"extend"} if extension_refused is None else set()
    else:
        offered.add("reopen")
    if casework.resendable(ticket):
        offered |= set(RESENDS)
    return offered


def saved_replies(ticket: Ticket) -> dict[str, list[dict]]:
    """Per form (progress, resolve, reject): the saved replies, titled in the console's language,
    their text in the customer's (the ticket's) language."""
    hotline = appctx.hotline()
    titles = hotline.saved_replies.get(g.lang, {})
    texts = hotline.saved_replies.get(ticket.language) or hotline.saved_replies.get(hotline.routing.default_language, {})
    offered: dict[str, list[dict]] = {action: [] for action in REPLY_ACTIONS}
    for key, reply in texts.items():
        for action in reply.actions:
            offered[action].append({"key": key, "title": titles[key].title if key in titles else reply.title, "text": reply.text})
    return offered


def extension_refused_why(ticket) -> str | None:
    """Why the ticket cannot be extended, in words; None when it can."""
    try:
        ticket_terms.plan_extension(appctx.hotline(), ticket, appctx.now())
    except TicketRefused as exc:
        return refusal_words(exc)
    return None
