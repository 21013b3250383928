"""The console's calls: the live card of the call an operator is on, the call log, and a
call's page where the operator registers the complaint spoken to them, or says why the call
was not a complaint.

Delivery only: the call log is written by ``ivr.calls.log``, complaints are registered by
``ivr.calls.complaints``; every form carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from .. import appctx
from ..calls.complaints import MAX_SUMMARY, mark_no_complaint, next_complaint, register_live, tickets_of_call
from ..calls.queries import CallFilter, current_call, get_call, list_calls, tickets_of_caller
from ..errors import TicketError, TicketRefused
from ..inputs import ascii_int, clean_text, matches
from ..models import CallRecord, User
from ..phone import caller_from, sms_recipient
from ..prompts import PromptSet
from ..states import CallOutcome
from .common import load_user, page_context, recording_response, ticket_due
from .words import label

bp = Blueprint("console_calls", __name__, url_prefix="/console")
bp.before_request(load_user)
bp.context_processor(page_context)

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NO_COMPLAINT_REASONS = ("reason_information", "reason_wrong_number", "reason_dropped", "reason_test")


@bp.app_template_global()
def spelled(number: str) -> str:
    """A ticket number as the operator reads it to the caller: "R C, 2 0 2 6, 0 0 0 1 2 3"."""
    return PromptSet.spelled(number)


@bp.app_template_global()
def spoken_deadline(ticket) -> str:
    """A ticket's deadline in the console's language, in words, as the operator reads it to the
    caller: "4 decembrie 2026", or "astăzi până la ora 13:30" when its rule counts hours."""
    tz = appctx.hotline().routing.timezone
    return appctx.hotline().prompt_set(g.lang).spoken_deadline(ticket_due(ticket), tz, appctx.now().astimezone(tz).date())


def _textable(number: str | None) -> str | None:
    hotline = appctx.hotline().routing.hotline
    return sms_recipient(caller_from(number, hotline.holidays), hotline.sms_countries)


# -- the live card ----------------------------------------------------------------------

@bp.get("/live")
def live():
    """The card of the call the signed-in operator is on; empty when none (live.js polls it)."""
    with appctx.database().reading() as db:
        call = current_call(db, g.user.id, appctx.now())
        if call is None:
            return "", 200, {"Cache-Control": "no-store"}
        html = render_template("console/live.html", call=call, earlier=tickets_of_caller(db, call.caller))
    return html, 200, {"Cache-Control": "no-store"}


# -- the call log -----------------------------------------------------------------------

def _local_date(text: str | None) -> date | None:
    if not matches(_ISO_DATE, text):
        return None
    try:
        return date.fromisoformat(text or "")
    except ValueError:
        return None


@bp.get("/calls")
def calls():
    args, routing = request.args, appctx.hotline().routing
    wanted = CallFilter(
        department=args.get("department", "") if args.get("department") in routing.departments else "",
        outcome=args.get("outcome", "") if args.get("outcome") in ("open", *CallOutcome.ALL) else "",
        since=_local_date(args.get("from")), until=_local_date(args.get("to")),
        no_ticket=args.get("no_ticket") == "1", page=ascii_int(args.get("page"), max_digits=5) or 1,
    )
    with appctx.database().reading() as db:
        found = list_calls(db, wanted, routing.timezone)
        return render_template("console/calls.html", found=found, wanted=wanted, departments=routing.departments,
                               outcomes=CallOutcome.ALL)


# -- one call ---------------------------------------------------------------------------

def _call_or_404(db, call_sid: str) -> CallRecord:
    call = get_call(db, call_sid)
    if call is None:
        abort(404)
    return call


def _form_defaults(call: CallRecord) -> MultiDict:
    department = call.department if call.department in appctx.hotline().routing.departments else ""
    return MultiDict({"department": department, "sms_to": _textable(call.caller) or ""})


def _render_call(call_sid: str, form: MultiDict | None = None, status: int = 200):
    with appctx.database().reading() as db:
        call = _call_or_404(db, call_sid)
        tickets = tickets_of_call(db, call_sid)
        marked_by = db.get(User, call.no_complaint_by_id) if call.no_complaint_by_id else None
        next_one = next_complaint(db, call_sid)
        # A form shown again keeps the complaint it was drawn for (posting it twice stays one
        # ticket), unless that number is not one the call can have.
        drawn_for = ascii_int((form or {}).get("complaint"), max_digits=3)
        return render_template(
            "console/call.html", call=call, tickets=tickets, registered=request.args.get("registered"),
            earlier=[t for t in tickets_of_caller(db, call.caller) if t.call_sid != call_sid],
            next_complaint=next_one, complaint=drawn_for if drawn_for and drawn_for <= next_one else next_one,
            form=form or _form_defaults(call),
            marked_by=marked_by, departments=appctx.hotline().routing.departments,
            can_play=appctx.recording_store() is not None, reasons=NO_COMPLAINT_REASONS,
            max_summary=MAX_SUMMARY,
        ), status


@bp.get("/calls/<call_sid>")
def call(call_sid: str):
    return _render_call(call_sid)


@bp.get("/calls/<call_sid>/recording")
def recording(call_sid: str):
    """The recorded conversation with the operator, through the console (Twilio needs the account's credentials)."""
    with appctx.database().reading() as db:
        url = _call_or_404(db, call_sid).recording_url
    return recording_response(url)


def _refusal(form: MultiDict, complaint: int | None, next_one: int) -> str | None:
    """Why this registration form may not be taken, in the operator's words; None if it may."""
    if complaint is None or not 1 <= complaint <= next_one:
        return label("form_out_of_date")
    if complaint > 1 and form.get("second") != "1":
        return label("second_needs_confirmation")
    if form.get("department") not in appctx.hotline().routing.departments:
        return label("choose_department")
    if not clean_text(form.get("summary"), MAX_SUMMARY).strip():
        return label("summary_empty")
    if form.get("sms_to", "").strip() and _textable(form.get("sms_to")) is None:
        return label("sms_number_invalid")
    return None


@bp.post("/calls/<call_sid>/complaint")
def register(call_sid: str):
    """Register the complaint the caller told the operator; the same form posted again finds
    the ticket it made (its hidden ``complaint`` is the call's complaint it was drawn for)."""
    form, hotline, now = request.form, appctx.hotline(), appctx.now()
    complaint = ascii_int(form.get("complaint"), max_digits=3)
    try:
        with appctx.database().session() as db, db.begin():
            call = _call_or_404(db, call_sid)
            refusal = _refusal(form, complaint, next_complaint(db, call_sid))
            if refusal:
                raise TicketError(refusal)
            ticket = register_live(
                db, hotline, call, db.get(User, g.user.id), department=form["department"],
                summary=form.get("summary", ""), client_code=form.get("client_code", ""),
                sms_to=_textable(form.get("sms_to")), complaint=complaint or 1, now=now,
            )
            number = ticket.number
    except TicketError as exc:  # a refusal of the service in labels; one of ``_refusal`` in words already
        flash(label(f"refused_{exc.reason}", **exc.params) if isinstance(exc, TicketRefused) else str(exc), "error")
        return _render_call(call_sid, form, 422)
    flash(label("complaint_registered", number=number), "ok")
    return redirect(url_for(".call", call_sid=call_sid, registered=number, _anchor="registered"), 303)


@bp.post("/calls/<call_sid>/no-complaint")
def no_complaint(call_sid: str):
    reason = clean_text(request.form.get("reason"), MAX_SUMMARY).strip()
    if not reason:
        flash(label("reason_empty"), "error")
        return _render_call(call_sid, status=422)
    with appctx.database().session() as db, db.begin():
        call = _call_or_404(db, call_sid)
        mark_no_complaint(db, call, db.get(User, g.user.id), reason, appctx.now())
    flash(label("done"), "ok")
    return redirect(url_for(".call", call_sid=call_sid), 303)
