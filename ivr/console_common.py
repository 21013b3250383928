"""What every console blueprint shares: who is signed in and in which language, the page
context of ``base.html``, the supervisors-only guard, and the ticket list's filters.

The blueprints (``console``, ``console_stats``) each use these instead of importing one another.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from flask import abort, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from . import appctx
from .inputs import ascii_int
from .models import TicketStatus, User
from .ticket_queries import TicketFilter

LIST_STATUSES = ("open", *TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.REJECTED)


def load_user(open_endpoints: tuple[str, ...] = ()) -> Response | None:
    """Set ``g.lang``, ``g.labels`` and ``g.user``; without a valid sign-in, a redirect to the
    sign-in page (except on ``open_endpoints``). For a blueprint's ``before_request``."""
    g.lang = session.get("lang") or appctx.hotline().routing.default_language
    g.labels = appctx.hotline().console_labels[g.lang]
    g.user = None
    if "user_id" in session:
        with appctx.database().session() as db:
            user = db.get(User, session["user_id"])
        # A generation other than the user's means a sign-out, password change or disable since.
        if user is not None and user.active and session.get("generation") == user.session_generation:
            g.user = user
    if g.user is None and request.endpoint not in open_endpoints:
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
    return None


def page_context() -> dict:
    """What ``base.html`` needs on every console page."""
    hotline = appctx.hotline()
    return {
        "now": appctx.now(), "config_company": hotline.routing.hotline.company,
        "languages": hotline.routing.hotline.languages,
        "language_names": {code: labels["language_name"] for code, labels in hotline.console_labels.items()},
    }


def supervisor_only(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not g.user.is_supervisor:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def ticket_filter(args: Mapping[str, str]) -> TicketFilter:
    """The ticket list's filters from its query string; an unknown value means no filter."""
    return TicketFilter(
        department=args.get("department", "") if args.get("department") in appctx.hotline().routing.departments else "",
        status=args.get("status", "") if args.get("status") in LIST_STATUSES else "",
        overdue=args.get("overdue") == "1", search=args.get("q", "")[:64],
        page=ascii_int(args.get("page"), max_digits=5) or 1,
    )
