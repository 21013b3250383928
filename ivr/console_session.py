"""What every console blueprint needs before and around a page: the signed-in user, the
console's language and labels, and the values every page template reads.

Shared by ``ivr.console`` (tickets) and ``ivr.console_calls`` (calls), which do not import
each other.
"""

from __future__ import annotations

from flask import Response, abort, g, redirect, request, session, url_for

from . import appctx
from .errors import RecordingUnavailable
from .models import User

# Pages a visitor may open without signing in.
PUBLIC_ENDPOINTS = ("console.login", "console.language")


def load_user():
    """before_request of the console blueprints: g.lang, g.labels and g.user, or the sign-in page."""
    g.lang = session.get("lang") or appctx.hotline().routing.default_language
    g.labels = appctx.hotline().console_labels[g.lang]
    g.user = None
    if "user_id" in session:
        with appctx.database().session() as db:
            user = db.get(User, session["user_id"])
        # A generation other than the user's means a sign-out, password change or disable since.
        if user is not None and user.active and session.get("generation") == user.session_generation:
            g.user = user
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("console.login", next=request.full_path if request.method == "GET" else None))
    return None


def page_context() -> dict:
    """context_processor of the console blueprints."""
    hotline = appctx.hotline()
    return {
        "now": appctx.now(), "config_company": hotline.routing.hotline.company,
        "languages": hotline.routing.hotline.languages,
        "language_names": {code: labels["language_name"] for code, labels in hotline.console_labels.items()},
    }


def recording_response(url: str | None) -> Response:
    """A recording's audio, fetched from Twilio with the account's credentials (the browser
    has none); 404 without a recording or a Twilio account, 502 when Twilio fails."""
    store = appctx.recording_store()
    if store is None or not url:
        abort(404)
    try:
        audio = store.fetch(url)
    except RecordingUnavailable as exc:
        return Response(str(exc), status=502, mimetype="text/plain")
    return Response(audio.audio, mimetype=audio.content_type, headers={"Cache-Control": "private, max-age=3600"})
