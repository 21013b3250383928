"""The operator console: sign in, work the complaint tickets, tell the customer the result.

Server-rendered pages; every change goes through ``ivr.casework`` (the ticket service) and
every form carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, flash, g, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from . import appctx, casework, ticket_terms
from .calls.queries import get_call
from .console_common import (
    CookieSessions, load_user, page_context, recording_response, supervisor_only, ticket_due, ticket_filter,
)
from .compensation import parse_money
from .console_labels import label_text
from .schedule import DAYS
from .console_previews import PREVIEWED, RESENDS, PreviewProblem, preview
from .console_stats import day_param
from .errors import SignInThrottled, TicketClosed, TicketError, TicketRefused, TicketTaken
from .inputs import ascii_int, safe_redirect_target
from .saved_replies import REPLY_ACTIONS
from .models import Ticket, TicketEvent, TicketStatus, User
from .overview_charts import overview_charts
from .ticket_queries import counts, get_ticket, list_tickets, list_version, overview
from .transcripts import transcript_of
from .users import end_sessions, sign_in

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


@bp.app_template_filter("local")
def local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(appctx.hotline().routing.timezone).strftime("%d.%m.%Y %H:%M")


@bp.app_template_global()
def label(key: str, **values) -> str:
    return label_text(g.labels, g.lang, key, **values)


@bp.app_template_global()
def time_left(ticket) -> str:
    """Plain words: due today, due tomorrow, 3 days left, overdue by 2 days."""
    if ticket.status not in TicketStatus.OPEN:
        return label(f"status_{ticket.status}")
    now = appctx.now()
    if now >= ticket.deadline_at:
        days = max((now.astimezone(appctx.hotline().routing.timezone).date() - ticket.deadline_on).days, 1)
        return label("overdue_by", count=days)
    days = (ticket.deadline_on - now.astimezone(appctx.hotline().routing.timezone).date()).days
    return label("due_today") if days <= 0 else label("due_tomorrow") if days == 1 else label("days_left", count=days)


@bp.app_template_global()
def list_url(**changes) -> str:
    """The work list's URL with its current query changed: a value None (or "") drops that
    parameter, and any change but a page's starts again at page 1."""
    params = request.args.to_dict()
    if "page" not in changes:
        params.pop("page", None)
    params.update(changes)
    return url_for("console.tickets", **{k: v for k, v in params.items() if v not in (None, "")})


@bp.app_template_global()
def urgency(ticket) -> str:
    """"overdue", "due-today" (its deadline falls today, local time) or "": a list row's class."""
    if ticket.status not in TicketStatus.OPEN:
        return ""
    now = appctx.now()
    if now >= ticket.deadline_at:
        return "overdue"
    today = now.astimezone(appctx.hotline().routing.timezone).date()
    return "due-today" if ticket.deadline_on <= today else ""


@bp.app_template_global()
def deadline_text(ticket) -> str:
    """"04.12.2026", or "23.11.2026 10:30" when the ticket's rule counts hours."""
    return ticket_due(ticket).text(appctx.hotline().routing.timezone)


@bp.app_template_global()
def milestone_state(milestone) -> str:
    """When a milestone is due, and whether it was met (when), missed, or is still running."""
    tz = appctx.hotline().routing.timezone
    due = milestone.deadline.text(tz)
    if milestone.met_at is not None:
        state = label("milestone_met", at=local_time(milestone.met_at))
        return f"{due} · {state}" + (f" · {label('milestone_late')}" if milestone.missed(milestone.met_at) else "")
    return f"{due} · {label('milestone_missed') if milestone.missed(appctx.now()) else label('milestone_open')}"


@bp.app_template_global()
def rule_text(rule_name: str) -> str:
    """A deadline rule of routing.yaml in the reader's words: "3 zile lucrătoare", "2 ore
    lucrătoare (09:00-21:00, luni - duminică)"; a rule no longer configured, by its name."""
    rule = appctx.hotline().routing.deadlines.get(rule_name)
    if rule is None:
        return rule_name
    if rule.hours is None:
        return label(f"rule_{rule.count}_days", count=rule.days)
    days = appctx.hotline().prompt_set(g.lang).days
    weekdays = [DAYS[d] for d in rule.hours_days]
    span = days[weekdays[0]] if len(weekdays) == 1 else f"{days[weekdays[0]]} - {days[weekdays[-1]]}"
    text = label("rule_hours", count=rule.hours, within=rule.within, days=span)
    return text + (label("rule_paused") if rule.holidays == "pause" else "")


@bp.app_template_global()
def milestone_name(department: str, name: str) -> str:
    """A milestone as operators read it: its routing.yaml title in their language, else the
    console's word for a common name (resolve, legal, ...), else its key."""
    return appctx.hotline().milestone_name(department, name, g.lang)


@bp.app_template_global()
def department_name(key: str) -> str:
    department = appctx.hotline().routing.departments.get(key)
    return department.name[g.lang] if department else key


@bp.get("/language/<lang>")
def language(lang: str):
    if lang in appctx.hotline().routing.hotline.languages:
        session["lang"] = lang
    return redirect(_console_path(_same_site_path(request.referrer or "")))


def _same_site_path(url: str) -> str:
    """The path and query of an absolute URL on this host (as browsers send the Referer)."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc == request.host:
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return url


def _console_path(target: str | None) -> str:
    """``target`` when it is a safe path inside the console; else the work list."""
    safe = safe_redirect_target(target)
    return safe if safe and safe.startswith(bp.url_prefix) else url_for("console.tickets")


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
        return render_template("console/login.html"), 429
    if user_id is None:
        flash(label("wrong_password"), "error")
        return render_template("console/login.html"), 401
    session.clear()
    session.permanent = True
    session["user_id"], session["generation"], session["lang"] = user_id, generation, g.lang
    return redirect(_console_path(request.args.get("next")))


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
                               tally=counts(db, g.user, now), assignees=_assignees(db),
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
    action, back = request.form.get("action", ""), _console_path(request.form.get("back"))
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
                refusals.append(_refusal_words(exc))
    flash(label("bulk_done", count=done), "ok" if done else "error")
    for words in refusals[:5]:
        flash(words, "error")
    return redirect(back, 303)


def _assignees(db: Session) -> list[User]:
    """Whom a supervisor may give a ticket to (an empty list for an operator, who may not)."""
    if not g.user.is_supervisor:
        return []
    return list(db.scalars(select(User).where(User.active).order_by(User.name)))


# -- one ticket -------------------------------------------------------------------------

def _visible_ticket(db, number: str):
    """Every signed-in user may read every ticket (a colleague's customer calls too); what they
    may do on it is the actions column's business (``_offered``)."""
    ticket = get_ticket(db, number)
    if ticket is None:
        abort(404)
    return ticket


def _render_ticket(ticket, preview=None, status: int = 200, draft: dict | None = None, refusal: dict | None = None):
    """The ticket's page. ``draft`` is what the operator typed into one action's form (kept
    through a preview, a refusal or a saved reply); ``refusal`` says why an action was refused."""
    store = appctx.recording_store()
    call = get_call(object_session(ticket), ticket.call_sid)
    extension_refused = _extension_refused(ticket)
    return render_template(
        "console/ticket.html", ticket=ticket, preview=preview, can_play=store is not None, call=call,
        transcript=transcript_of(object_session(ticket), ticket.call_sid),
        transcription_on=appctx.hotline().routing.hotline.transcription,
        extension_refused=extension_refused, offered=_offered(ticket, extension_refused),
        may_act=casework.can_act(g.user, ticket),
        draft=draft or preview or {}, refusal=refusal, replies=_saved_replies(ticket),
        resendable={m.id for m in casework.resendable(ticket)}, last_failed=casework.last_sms_failed(ticket),
        can_act=casework.can_act(g.user, ticket), assignees=_assignees(object_session(ticket)),
        departments=appctx.hotline().routing.departments,
        needs_monthly=casework.compensation_due(appctx.hotline(), ticket, appctx.now()),
    ), status


def _offered(ticket: Ticket, extension_refused: str | None) -> set[str]:
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


def _saved_replies(ticket: Ticket) -> dict[str, list[dict]]:
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


def _extension_refused(ticket) -> str | None:
    """Why the ticket cannot be extended, in words; None when it can."""
    try:
        ticket_terms.plan_extension(appctx.hotline(), ticket, appctx.now())
    except TicketRefused as exc:
        return _refusal_words(exc)
    return None


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
        return _render_ticket(_visible_ticket(db, number))


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
    chosen = next((r for r in _saved_replies(ticket)[action] if r["key"] == request.form.get("reply")), None)
    return _render_ticket(ticket, draft=_draft(action, chosen["text"] if chosen else None))


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
        refusal = {"words": _refusal_words(exc), "at": local_time(when) if when else "",
                   "conflict": isinstance(exc, CONFLICTS)}
        return _render_ticket(ticket, draft=_draft(action), refusal=refusal, status=409 if refusal["conflict"] else 422)


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


def _refusal_words(exc: TicketError) -> str:
    if isinstance(exc, TicketTaken):
        return label("already_taken", number=exc.number, name=exc.by)
    if isinstance(exc, TicketClosed):
        return label(f"already_{exc.status}", number=exc.number, name=exc.by)
    if isinstance(exc, TicketRefused):
        return label(f"refused_{exc.reason}", **exc.params)
    return str(exc)


def _preview(ticket, action: str):
    """Show the operator the exact SMS, what it costs, the compensation owed and the milestones
    that move, before anything is sent or changed."""
    try:
        shown = preview(appctx.hotline(), ticket, action, request.form, appctx.now(), g.labels)
    except PreviewProblem as problem:
        refusal = {"words": label(problem.label), "at": "", "conflict": False}
        return _render_ticket(ticket, status=422, draft=_draft(action), refusal=refusal)
    return _render_ticket(ticket, shown)


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
