"""Outage notices in the console (blueprint ``console_incidents``): the list of incidents (active
first), declaring one, an incident's page with the tickets of the callers who joined it, and
closing it, which can resolve those tickets with one SMS each after a preview.

Every signed-in user sees the incidents (an operator on the phone needs to know of an outage);
only supervisors declare and close them. Delivery only: the work is ``ivr.incidents``'.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy.orm import object_session
from werkzeug.datastructures import MultiDict

from .. import appctx, incidents
from ..errors import TicketError
from ..incidents import Declaration, IncidentInvalid, Problem
from ..inputs import matches
from ..models import Incident, Ticket, User
from ..sms.text import gsm7_length
from ..tickets import casework
from .common import load_user, page_context, supervisor_only
from .words import label

bp = Blueprint("console_incidents", __name__, url_prefix="/console")
bp.before_request(load_user)
bp.context_processor(page_context)

_LOCAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")


@bp.app_template_global()
def incident_state(incident: Incident) -> str:
    """active | upcoming | ended | closed, at the console's clock."""
    now = appctx.now()
    if incident.closed_at is not None:
        return "closed"
    if incident.starts_at > now:
        return "upcoming"
    return "active" if now < incident.ends_at else "ended"


@bp.app_template_global()
def incident_of_ticket(ticket: Ticket) -> Incident | None:
    """The incident a ticket's caller joined, for the ticket's page; None for most tickets."""
    session = object_session(ticket)
    return incidents.incident_of(session, ticket.id) if session is not None else None


# -- the list -----------------------------------------------------------------------------------

@bp.get("/incidents")
def incident_list():
    with appctx.database().reading() as db:
        found = incidents.list_incidents(db, appctx.now())
        counted = incidents.ticket_counts(db, [i.id for i in found])
        return render_template("console/incidents.html", incidents=found, counted=counted,
                               departments=appctx.hotline().routing.departments)


# -- declaring ----------------------------------------------------------------------------------

def _local_time(text: str | None) -> datetime | None:
    """A datetime-local field ("2026-11-17T18:00") in the hotline's time zone; None when not one."""
    text = (text or "").strip()[:19]
    if not matches(_LOCAL_TIME, text[:16]):
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=appctx.hotline().routing.timezone)
    except ValueError:
        return None


def _declaration(form) -> tuple[Declaration, list[Problem]]:
    """The form as a declaration, and the times that are given but are not times."""
    languages = appctx.hotline().routing.hotline.languages
    problems = []
    starts, ends = _local_time(form.get("starts")), _local_time(form.get("ends"))
    if form.get("starts", "").strip() and starts is None:
        problems.append(Problem("starts", "not_a_time"))
    if form.get("ends", "").strip() and ends is None:
        problems.append(Problem("ends", "not_a_time"))
    wanted = Declaration(
        departments=[d[:64] for d in form.getlist("departments")][:50], area=form.get("area", "")[:1000],
        messages={lang: form.get(f"message_{lang}", "")[:2000] for lang in languages},
        starts_at=starts, ends_at=ends,
    )
    return wanted, problems


def field_name(field: str) -> str:
    """A form field as the supervisor reads it."""
    if field.startswith("message_"):
        catalog = appctx.hotline().console_labels.get(field.removeprefix("message_"), g.labels)
        return label("incident_message", language=catalog["language_name"])
    return label(f"incident_{field}")


def _render_new(form, problems: list[Problem] = (), status: int = 200):
    return render_template(
        "console/incident_new.html", form=form, invalid={p.field for p in problems},
        departments=appctx.hotline().routing.departments, field_name=field_name,
    ), status


@bp.get("/incidents/new")
@supervisor_only
def new_incident():
    return _render_new(MultiDict())


@bp.post("/incidents")
@supervisor_only
def declare():
    wanted, problems = _declaration(request.form)
    hotline, now = appctx.hotline(), appctx.now()
    problems = problems + [p for p in incidents.check_declaration(hotline, wanted, now)
                           if p.field not in {q.field for q in problems}]
    if problems:
        for problem in problems:
            flash(label(f"incident_error_{problem.reason}", field=field_name(problem.field), **problem.values), "error")
        return _render_new(request.form, problems, 422)
    try:
        with appctx.database().session() as db, db.begin():
            incident_id = incidents.declare(db, hotline, wanted, db.get(User, g.user.id), now).id
    except IncidentInvalid as invalid:  # checked above; kept for a form changed in between
        return _render_new(request.form, invalid.problems, 422)
    appctx.incidents().reload()  # this process's next caller hears it at once
    flash(label("incident_declared", id=incident_id), "ok")
    return redirect(url_for(".incident", incident_id=incident_id), 303)


# -- one incident -------------------------------------------------------------------------------

def _render_incident(incident_id: int, preview=None, message: str = "", status: int = 200):
    with appctx.database().reading() as db:
        incident = incidents.get_incident(db, incident_id)
        if incident is None:
            abort(404)
        linked = [t for t in incidents.tickets_of(db, incident_id) if casework.can_act(g.user, t)]
        return render_template(
            "console/incident.html", incident=incident, tickets=linked, preview=preview, message=message,
            still_open=sum(1 for t in linked if t.status in ("registered", "in_progress")),
            departments=appctx.hotline().routing.departments, gsm7_length=gsm7_length,
        ), status


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int):
    return _render_incident(incident_id)


@bp.post("/incidents/<int:incident_id>/close")
@supervisor_only
def close(incident_id: int):
    """Close the incident. With a message for the customers, first a preview (the SMS as one
    customer gets it, how many go out), then, confirmed, every open linked ticket resolved."""
    message, hotline, now = request.form.get("text", "").strip(), appctx.hotline(), appctx.now()
    if len(message) > incidents.MAX_RESOLUTION:
        flash(label("incident_error_too_long", field=label("incident_close_message"), max=incidents.MAX_RESOLUTION), "error")
        return _render_incident(incident_id, message=message, status=422)
    if message and request.form.get("confirm") != "1":
        with appctx.database().reading() as db:
            incident = incidents.get_incident(db, incident_id)
            if incident is None:
                abort(404)
            shown = incidents.preview_close(db, hotline, incident, message, now)
        return _render_incident(incident_id, preview=shown, message=message)
    try:
        with appctx.database().session() as db, db.begin():
            closed = incidents.close(db, hotline, incident_id, db.get(User, g.user.id), message, now)
    except TicketError as exc:
        flash(str(exc), "error")
        return _render_incident(incident_id, message=message, status=422)
    if closed is None:
        abort(404)
    appctx.incidents().reload()
    if closed.already:
        flash(label("incident_already_closed", id=incident_id), "error")
    else:
        flash(label("incident_closed_done", count=len(closed.resolved)), "ok")
        if closed.left_open:
            flash(label("incident_close_left_open", numbers=", ".join(closed.left_open)), "error")
    return redirect(url_for(".incident", incident_id=incident_id), 303)
