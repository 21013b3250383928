"""The console's blueprint ``console``: signing in, the work list, a ticket's page and its
actions, recordings, and the supervisor's overview.

Server-rendered pages; every change goes through ``ivr.tickets.casework`` (the ticket service) and
every form carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy.orm import Session

from .. import appctx
from ..alerts import risk_windows
from ..compensation import parse_money
from ..errors import SignInThrottled, TicketClosed, TicketError, TicketRefused, TicketTaken
from ..inputs import ascii_int
from ..models import Ticket, TicketEvent, User
from ..saved_replies import REPLY_ACTIONS
from ..tickets import casework
from ..tickets.queries import counts, get_ticket, list_tickets, list_version, overview
from ..users import end_sessions, sign_in
from . import words
from .common import (
    CookieSessions, console_path, load_user, page_context, page_of, recording_response, supervisor_only, ticket_filter,
)
from .overview_charts import overview_charts
from .previews import PREVIEWED, RESENDS, PreviewProblem, preview
from .stats import day_param
from .ticket_page import assignees, render_ticket, saved_replies
from .words import label, local_time, refusal_words

bp = Blueprint("console", __name__, url_prefix="/console")
ACTIONS = ("take", "note", "progress", "resolve", "reject", "extend", "reclassify", "reopen", "resend", "send_to", "assign")
BULK_ACTIONS = ("take", "assign")
MAX_BULK = 100  # tickets in one bulk action: four pages of the list
# Refusals that mean a colleague (or Twilio) changed the ticket since the page was loaded.
CONFLICTS = (TicketTaken, TicketClosed, TicketRefused)
OVERVIEW_DAYS = 30


# -- who is here, in which language ---------------------------------------------

bp.before_request(load_user)
bp.context_processor(page_context)
bp.record_once(lambda state: setattr(state.app, "session_interface", CookieSessions()))
bp.record_once(lambda state: words.init_app(state.app))


# No inline script or style anywhere in the templates, so the policy needs no 'unsafe-inline'.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@bp.after_app_request
def protect(response: Response) -> Response:
    """Framing and sniffing headers on every console page, redirect, error and static file.
    App-wide (not per blueprint), so that a 404 under /console/ gets them too."""
    if request.path.startswith((bp.url_prefix, "/static/")):
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
    return response


@bp.get("/language/<lang>")
def language(lang: str):
    if lang in appctx.hotline().routing.hotline.languages:
        session["lang"] = lang
    return redirect(page_of(console_path(_same_site_path(request.referrer or ""))))


def _same_site_path(url: str) -> str:
    """The path and query of an absolute URL on this host (as browsers send the Referer)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc == request.host:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return url


# -- signing in ---------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("console/login.html")
    name, password = request.form.get("name", ""), request.form.get("password", "")
    try:
        with appctx.database().session() as db, db.begin():
            user = sign_in(db, name, password, appctx.now(), source=request.remote_addr or "")
            user_id, generation = (user.id, user.session_generation) if user else (None, None)
    except SignInThrottled as exc:
        flash(label("throttled", count=exc.wait_seconds), "error")
        return render_template("console/login.html", name=name[:64]), 429
    if user_id is None:  # the name stays typed: the password is what is usually wrong
        flash(label("wrong_password"), "error")
        return render_template("console/login.html", name=name[:64]), 401
    session.clear()
    session.permanent = True
    session["user_id"], session["generation"], session["lang"] = user_id, generation, g.lang
    return redirect(console_path(request.args.get("next")))


@bp.post("/logout")
def logout():
    """End this user's sessions on the server too: a copy of the cookie no longer signs in."""
    with appctx.database().session() as db, db.begin():
        end_sessions(db, g.user.id)
    lang = g.lang
    session.clear()
    session["lang"] = lang
    return redirect(url_for("console.login"))


# -- the work list --------------------------------------------------------------------

@bp.get("/")
def tickets():
    """The work list: every ticket, filtered, sorted and paged by the database. list.js asks
    ``tickets_version`` every few seconds and reloads the list's part of the page on a change."""
    wanted, now = ticket_filter(request.args), appctx.now()
    with appctx.database().reading() as db:
        version = list_version(db)  # before the list: a change in between only costs one more refresh
        found = list_tickets(db, g.user, wanted, now)
        return render_template("console/tickets.html", found=found, wanted=wanted, version=version,
                               tally=counts(db, g.user, now, risk_windows(appctx.hotline().routing)),
                               assignees=assignees(db),
                               poll_seconds=current_app.config.get("CONSOLE_LIST_POLL_SECONDS", 10),
                               departments=appctx.hotline().routing.departments)


@bp.get("/tickets/version")
def tickets_version():
    """What the open work lists poll: a token that changes whenever any ticket does."""
    with appctx.database().reading() as db:
        response = jsonify(version=list_version(db))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/tickets/bulk")
@supervisor_only
def bulk():
    """A supervisor takes, or assigns to one operator, the tickets ticked on the list: each in
    its own transaction with its row locked, so one refusal (a ticket closed meanwhile) does
    not undo the others."""
    action, back = request.form.get("action", ""), console_path(request.form.get("back"))
    numbers = sorted(set(request.form.getlist("ticket")))[:MAX_BULK]  # one lock order for everyone
    if action not in BULK_ACTIONS or not numbers:
        flash(label("bulk_none"), "error")
        return redirect(back, 303)
    done, refusals = 0, []
    for number in numbers:
        with appctx.database().session() as db, db.begin():
            ticket = get_ticket(db, number, for_update=True)
            if ticket is None:
                continue
            try:
                _do(db, ticket, action)
                done += 1
            except TicketError as exc:
                db.rollback()
                refusals.append(refusal_words(exc))
    flash(label("bulk_done", count=done), "ok" if done else "error")
    for refusal in refusals[:5]:
        flash(refusal, "error")
    return redirect(back, 303)


# -- one ticket -------------------------------------------------------------------------

def _visible_ticket(db, number: str):
    """Every signed-in user may read every ticket (a colleague's customer calls too); what they
    may do on it is the actions column's business (``ticket_page.offered_actions``)."""
    ticket = get_ticket(db, number)
    if ticket is None:
        abort(404)
    return ticket


def _monthly_value() -> Decimal | None:
    """The customer's monthly value typed for a compensation ("45,50"), or None."""
    return parse_money(request.form.get("monthly", "")[:20])


def _draft(action: str, text: str | None = None) -> dict:
    """What the operator typed into ``action``'s form, to be shown again in it."""
    form = request.form
    return {"action": action, "text": (form.get("text", "") if text is None else text)[:casework.MAX_TEXT],
            "monthly": form.get("monthly", "")[:20], "department": form.get("department", "")[:64],
            "message": form.get("message", "")[:12], "number": form.get("number", "")[:32]}


@bp.get("/tickets/<number>")
def ticket(number: str):
    with appctx.database().reading() as db:
        return render_ticket(_visible_ticket(db, number))


@bp.post("/tickets/<number>/<action>")
def act(number: str, action: str):
    """One casework action on the ticket, its row locked until the action commits. An operator
    who lost a race to a colleague gets the ticket's page again (409) saying who did what when,
    with their text kept and what they may still do with it."""
    if action not in ACTIONS:
        abort(404)
    refused: TicketError | None = None
    with appctx.database().session() as db, db.begin():
        ticket = get_ticket(db, number, for_update=True)
        if ticket is None:
            abort(404)
        if action in REPLY_ACTIONS and request.form.get("use_reply"):
            return _use_saved_reply(ticket, action)
        try:
            if action in (*PREVIEWED, *RESENDS) and request.form.get("confirm") != "1":
                (casework.check_can_act if action in RESENDS else casework.check_can_change)(g.user, ticket)
                return _preview(ticket, action)
            _do(db, ticket, action)
        except TicketError as exc:
            refused = exc
            db.rollback()
    if refused is not None:
        return _refused(number, action, refused)
    flash(label("done"), "ok")
    return redirect(url_for("console.ticket", number=number, _anchor="top"), 303)


def _use_saved_reply(ticket: Ticket, action: str):
    """Without JavaScript, "use" puts the chosen saved reply into the form, to edit before the preview."""
    chosen = next((r for r in saved_replies(ticket)[action] if r["key"] == request.form.get("reply")), None)
    return render_ticket(ticket, draft=_draft(action, chosen["text"] if chosen else None))


def _do(db: Session, ticket: Ticket, action: str) -> None:
    form, hotline, now = request.form, appctx.hotline(), appctx.now()
    # g.user was read in a session of its own: this session's copy, so that a ticket the user
    # holds already (its assignee loaded here) is not handed a second User with the same id.
    user = db.merge(g.user, load=False)
    if action == "take":
        casework.take(db, ticket, user, now)
    elif action == "note":
        casework.add_note(db, ticket, user, form.get("text", ""), now)
    elif action == "progress":
        casework.progress(db, hotline, ticket, user, form.get("text", ""), now)
    elif action == "resolve":
        casework.resolve(db, hotline, ticket, user, form.get("text", ""), now, _monthly_value())
    elif action == "reject":
        casework.reject(db, hotline, ticket, user, form.get("text", ""), now)
    elif action == "extend":
        casework.extend(db, hotline, ticket, user, form.get("text", ""), now)
    elif action == "reclassify":
        casework.reclassify(db, hotline, ticket, user, form.get("department", ""), form.get("text", ""), now)
    elif action == "resend":
        casework.resend_sms(db, hotline, ticket, user, ascii_int(form.get("message"), max_digits=12) or 0, now)
    elif action == "send_to":
        casework.send_sms_to(db, hotline, ticket, user, ascii_int(form.get("message"), max_digits=12) or 0,
                             form.get("number", ""), now, keep=form.get("keep") == "1")
    elif action == "assign":
        casework.assign(db, ticket, user, _assignee(db), now)
    else:
        casework.reopen(db, ticket, user, now)


def _refused(number: str, action: str, exc: TicketError):
    """The ticket as it is now, the refusal in words (who did what, when), the operator's text
    back in its form, or, when that form is no longer offered, in a note form of its own."""
    with appctx.database().reading() as db:
        ticket = get_ticket(db, number)
        when = _changed_at(ticket, exc)
        refusal = {"words": refusal_words(exc), "at": local_time(when) if when else "",
                   "conflict": isinstance(exc, CONFLICTS)}
        return render_ticket(ticket, draft=_draft(action), refusal=refusal, status=409 if refusal["conflict"] else 422)


def _changed_at(ticket: Ticket, exc: TicketError) -> datetime | None:
    """When a colleague took or closed the ticket, for a refusal that says so."""
    kinds = {"taken", "assigned"} if isinstance(exc, TicketTaken) else {exc.status} if isinstance(exc, TicketClosed) else set()
    event: TicketEvent | None = next((e for e in reversed(ticket.events) if e.kind in kinds), None)
    return event.at if event else None


def _assignee(db: Session) -> User:
    """The user the form's ``assignee`` names (by id)."""
    assignee = db.get(User, ascii_int(request.form.get("assignee"), max_digits=9) or 0)
    if assignee is None:
        raise TicketRefused("unknown_assignee", "no such user")
    return assignee


def _preview(ticket, action: str):
    """Show the operator the exact SMS, what it costs, the compensation owed and the milestones
    that move, before anything is sent or changed."""
    try:
        shown = preview(appctx.hotline(), ticket, action, request.form, appctx.now(), g.labels)
    except PreviewProblem as problem:
        refusal = {"words": label(problem.label, **problem.values), "at": "", "conflict": False}
        return render_ticket(ticket, status=422, draft=_draft(action), refusal=refusal)
    return render_ticket(ticket, shown)


@bp.get("/tickets/<number>/recording")
def recording(number: str):
    """The voicemail's audio, fetched from Twilio with the account's credentials."""
    with appctx.database().reading() as db:
        url = _visible_ticket(db, number).recording_url
    return recording_response(url)


@bp.get("/tickets/<number>/caller-messages/<int:message_id>/recording")
def caller_message_recording(number: str, message_id: int):
    """A message the caller added by phone, fetched from Twilio like the voicemail."""
    with appctx.database().reading() as db:
        ticket = _visible_ticket(db, number)
        message = next((m for m in ticket.caller_messages if m.id == message_id), None)
        if message is None:
            abort(404)
        url = message.recording_url
    return recording_response(url)


# -- the supervisor's view -------------------------------------------------------------

@bp.get("/overview")
@supervisor_only
def overview_page():
    """One date range (from, to: local days; the last 30 by default) for every figure."""
    routing, now = appctx.hotline().routing, appctx.now()
    last = day_param(request.args.get("to")) or now.astimezone(routing.timezone).date()
    first = day_param(request.args.get("from")) or last - timedelta(days=OVERVIEW_DAYS - 1)
    page = ascii_int(request.args.get("page"), max_digits=5) or 1
    with appctx.database().reading() as db:
        summary = overview(db, now, routing.timezone, first, last, page)
        return render_template("console/overview.html", summary=summary, departments=routing.departments,
                               charts=overview_charts(summary, list(routing.departments)))


__all__ = ["bp"]
