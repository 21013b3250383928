"""The console's own error pages: a 400, 403, 404, 405 or 500 under /console/ is a page of the
console (its header, a heading, a way back to the list) in the reader's language. Elsewhere
(Twilio's webhooks, /health) errors stay as they were: the webhooks answer with their own."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, g, render_template, request
from werkzeug.exceptions import HTTPException

from .common import load_user, page_context

bp = Blueprint("console_errors", __name__)
log = logging.getLogger(__name__)
CONSOLE = "/console"
PAGES = (400, 403, 404, 405, 500)


def _console_page(error: HTTPException) -> Response | HTTPException:
    if not request.path.startswith(CONSOLE) or error.code not in PAGES:
        return error
    try:
        if "labels" not in g:  # a path no console view matched: its before_request did not run
            load_user()
        page = render_template("console/error.html", code=error.code, **page_context())
    except Exception:  # the database is down, say: the plain error is still an answer
        log.exception("the console's %s page could not be drawn", error.code)
        return error
    response = Response(page, status=error.code)
    if getattr(error, "valid_methods", None):  # a 405 says which methods the page takes
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


for _code in PAGES:
    bp.app_errorhandler(_code)(_console_page)
