"""The console's callback requests: the list, oldest first, and the "call back" button, which
has Twilio ring the operator's phone and then the customer (``ivr.callbacks``); on a callback
ticket's own page, its request and the same button.

Delivery only; every form carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import object_session

from .. import appctx
from ..callbacks import CallbackUrls, attempt_under_way, callback_of, count_waiting, place_callback, waiting_callbacks
from ..errors import TicketRefused
from ..models import Callback, CallbackCall, Ticket
from ..phone import caller_from
from ..states import CallbackOutcome, TicketSource, TicketStatus
from .common import console_path, load_user, page_context
from .words import label

bp = Blueprint("console_callbacks", __name__, url_prefix="/console")
bp.before_request(load_user)
bp.context_processor(page_context)


@bp.app_template_global()
def callbacks_waiting() -> int:
    """How many callback requests wait, for the header of every console page that shows it
    (read once a page, in a session that takes no write lock, so it never waits for the page's own)."""
    if "callbacks_waiting" not in g:
        with appctx.database().reading() as db:
            g.callbacks_waiting = count_waiting(db)
    return g.callbacks_waiting


@bp.get("/callbacks")
def callbacks():
    now = appctx.now()
    with appctx.database().reading() as db:
        waiting = waiting_callbacks(db)
        return render_template(
            "console/callbacks.html", callbacks=waiting, now=now, outcomes=CallbackOutcome.ALL,
            calling={c.id: attempt_under_way(c, now) for c in waiting},
            can_call=appctx.call_dialer() is not None,
        )


@dataclass(frozen=True)
class TicketCallback:
    """A callback ticket's request as its page shows it."""

    request: Callback
    late: bool                      # not called back by the time it was due
    calling: CallbackCall | None    # the attempt ringing or talking now
    waiting: bool                   # open and not called back yet
    can_call: bool                  # this hotline places calls (not a local trial without Twilio)

    @property
    def offered(self) -> bool:
        """The page offers "call back"."""
        return self.waiting and self.calling is None and self.can_call


@bp.app_template_global()
def callback_of_ticket(ticket: Ticket) -> TicketCallback | None:
    """The callback request of a ticket, for its page; None for the others (no query for them)."""
    session = object_session(ticket)
    if ticket.source != TicketSource.CALLBACK or session is None:
        return None
    found = callback_of(session, ticket.id)
    if found is None:
        return None
    now = appctx.now()
    busy = attempt_under_way(found, now)
    waiting = found.done_at is None and ticket.status in TicketStatus.OPEN
    return TicketCallback(found, waiting and now >= found.due_at, busy, waiting, appctx.call_dialer() is not None)


def twilio_url(endpoint: str, **values) -> str:
    """An absolute URL of ours for Twilio: IVR_PUBLIC_URL when set (as the signature check reads
    it), else the host this console was reached at."""
    path = url_for(endpoint, **values)
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return public.rstrip("/") + path[len(request.script_root):]
    return request.host_url.rstrip("/") + path


def _operator_phone() -> str | None:
    """The number typed in the form, else the operator's phone in the console users."""
    typed = request.form.get("phone", "").strip()[:32]
    if not typed:
        return g.user.phone
    return caller_from(typed, appctx.hotline().routing.hotline.holidays).e164


@bp.post("/callbacks/<int:callback_id>/call")
def call_back(callback_id: int):
    back = redirect(console_path(request.form.get("back"), otherwise=".callbacks"), 303)
    dialer = appctx.call_dialer()
    if dialer is None:
        flash(label("callback_unavailable"), "error")
        return back
    phone = _operator_phone()
    if not phone:
        flash(label("callback_phone_invalid" if request.form.get("phone", "").strip() else "callback_no_phone"), "error")
        return back
    with appctx.database().reading() as db:
        callback = db.get(Callback, callback_id)
        if callback is None:
            flash(label("form_out_of_date"), "error")
            return back
        number = callback.ticket.number
    urls = CallbackUrls(answer=lambda attempt: twilio_url("callback_calls.answer", attempt_id=attempt),
                        status=lambda attempt: twilio_url("callback_calls.status", attempt_id=attempt))
    try:
        place_callback(appctx.database(), appctx.hotline(), dialer, callback_id, g.user.id, phone, urls, appctx.now())
    except TicketRefused as exc:
        flash(label(f"refused_{exc.reason}", **exc.params), "error")
        return back
    flash(label("callback_ringing", number=number, phone=phone), "ok")
    return back
