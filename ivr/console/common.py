"""What every console blueprint shares: who is signed in and in which language, the page
context of ``base.html``, the supervisors-only guard, the ticket list's filters, and the
recording proxy.

The blueprints (``console``, ``console_calls``, ``console_stats``) each use these instead of
importing one another.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Mapping

from flask import Flask, Request, Response, abort, current_app, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import MapAdapter, RequestRedirect

from .. import appctx
from ..alerts import risk_windows
from ..byte_ranges import MalformedRange, parse_range
from ..deadlines import Deadline, ticket_deadline
from ..errors import RecordingUnavailable
from ..inputs import ascii_int, safe_redirect_target
from ..models import Ticket, User
from ..recordings import RecordingStream
from ..states import TicketStatus
from ..tickets.queries import SORTS, TicketFilter

log = logging.getLogger(__name__)
LIST_STATUSES = ("open", *TicketStatus.OPEN, TicketStatus.RESOLVED, TicketStatus.REJECTED)
# Pages a visitor may open without signing in.
PUBLIC_ENDPOINTS = ("console.login", "console.language")


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, with their serializer made once per secret key rather
    than for every request, and no cookies parsed when there are none: each webhook opens a
    session too, and that cost as much as parsing the caller's number."""

    _made: tuple[tuple, URLSafeTimedSerializer | None] | None = None

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()  # what Flask opens without the cookie (Twilio's requests), unparsed
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        made = self._made
        if made is None or made[0] != keys:
            made = self._made = (keys, super().get_signing_serializer(app))
        return made[1]


def load_user() -> Response | None:
    """Set ``g.lang``, ``g.labels`` and ``g.user``; without a valid sign-in, a redirect to the
    sign-in page (except on the public pages). For a blueprint's ``before_request``."""
    g.lang = session.get("lang") or appctx.hotline().routing.default_language
    g.labels = appctx.hotline().console_labels[g.lang]
    g.user = None
    if "user_id" in session:
        with appctx.database().reading() as db:
            user = db.get(User, session["user_id"])
        # A generation other than the user's means a sign-out, password change or disable since.
        if user is not None and user.active and session.get("generation") == user.session_generation:
            g.user = user
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
    return None


def page_context() -> dict:
    """What ``base.html`` needs on every console page."""
    hotline = appctx.hotline()
    return {
        "now": appctx.now(), "config_company": hotline.routing.hotline.company,
        "languages": hotline.routing.hotline.languages,
        "language_names": {code: labels["language_name"] for code, labels in hotline.console_labels.items()},
        "page_url": _page_url,
    }


def _page_url(endpoint: str, page: int) -> str:
    """The same list (its filters and order kept) at page ``page``."""
    return url_for(endpoint, **{**request.args.to_dict(), "page": page})


def console_path(target: str | None, otherwise: str = "console.tickets") -> str:
    """``target`` when it is a safe path inside the console (where a form came from); else the
    page of the endpoint ``otherwise``."""
    safe = safe_redirect_target(target)
    return safe if safe and safe.startswith("/console") else url_for(otherwise)


def page_of(path: str) -> str:
    """The console page ``path`` shows, to open again by a link: an action's URL (a page the
    console answered a form with, such as a preview at /tickets/<n>/resolve) answers only
    POST, so its page is the first path above it that answers GET (the ticket's)."""
    adapter = current_app.url_map.bind("")
    route = path.partition("?")[0]
    if _answers_get(adapter, route):
        return path
    while route.count("/") > 1:
        route = route.rsplit("/", 1)[0]
        if _answers_get(adapter, route):
            break
    return route


def _answers_get(adapter: MapAdapter, route: str) -> bool:
    try:
        adapter.match(route, method="GET")
    except (MethodNotAllowed, NotFound):
        return False
    except RequestRedirect:
        pass  # the same page, with a trailing slash
    return True


def supervisor_only(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not g.user.is_supervisor:
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def ticket_filter(args: Mapping[str, str]) -> TicketFilter:
    """The ticket list's filters and sort order from its query string; an unknown value means
    no filter (or the default order)."""
    routing = appctx.hotline().routing
    names = {key: department.name.get(g.lang) or key for key, department in routing.departments.items()}
    return TicketFilter(
        department=args.get("department", "") if args.get("department") in routing.departments else "",
        status=args.get("status", "") if args.get("status") in LIST_STATUSES else "",
        overdue=args.get("overdue") == "1", search=args.get("q", "")[:64],
        at_risk=risk_windows(routing) if args.get("at_risk") == "1" else None,
        mine=args.get("mine") == "1", unassigned=args.get("unassigned") == "1",
        sms_failed=args.get("sms_failed") == "1",
        sort=args.get("sort", "") if args.get("sort") in SORTS else "",
        descending=args.get("dir") == "desc",
        department_order=tuple(sorted(names, key=lambda key: names[key].casefold())),
        page=ascii_int(args.get("page"), max_digits=5) or 1,
    )


def recording_response(url: str | None) -> Response:
    """A recording's audio, streamed from Twilio with the account's credentials (the browser
    has none), answering a Range request with that part (206) so the player can seek; 404
    without a recording or a Twilio account, 502 when Twilio fails, 416 for a range that is
    malformed or lies outside the recording."""
    store = appctx.recording_store()
    if store is None or not url:
        abort(404)
    try:
        byte_range, malformed = parse_range(request.headers.get("Range")), False
    except MalformedRange:
        # Answered with the recording's length (416, bytes */LENGTH): Twilio is asked all the same.
        byte_range, malformed = None, True
    try:
        stream = store.open(url, byte_range=byte_range)
    except RecordingUnavailable as exc:
        return Response(str(exc), status=502, mimetype="text/plain")
    if malformed or stream.status == 416:
        stream.close()
        total = "*" if stream.total is None else stream.total
        return Response(status=416, headers={"Content-Range": f"bytes */{total}", "Accept-Ranges": "bytes"})
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    if stream.length is not None:
        headers["Content-Length"] = str(stream.length)
    if stream.content_range is not None:
        headers["Content-Range"] = stream.content_range.header()
    return Response(_relayed(stream), status=stream.status, mimetype=stream.content_type, headers=headers)


def _relayed(stream: RecordingStream) -> Iterator[bytes]:
    """The stream's chunks; when Twilio stops halfway, the answer ends short (the browser
    notices, as Content-Length was promised) and the reason is logged."""
    try:
        yield from stream
    except RecordingUnavailable as exc:
        log.warning("recording cut off: %s", exc)
    finally:
        stream.close()


def ticket_due(ticket: Ticket) -> Deadline:
    """A ticket's deadline, timed when its rule counts hours."""
    routing = appctx.hotline().routing
    return ticket_deadline(routing, ticket.deadline_on, ticket.deadline_at, ticket.deadline_rule, ticket.deadline_description)
