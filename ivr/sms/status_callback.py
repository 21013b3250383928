"""Twilio's status callbacks for the SMS we send: sent, delivered, undelivered, failed."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, abort, request
from werkzeug.exceptions import HTTPException

from .. import appctx
from ..inputs import ascii_int, matches
from ..twilio_auth import require_twilio_signature
from .outbox import record_status_callback

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__, url_prefix="/sms")
bp.before_request(require_twilio_signature)
_MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")


@bp.post("/status")
def status():
    form = request.form
    sid = form.get("MessageSid", "")
    if not matches(_MESSAGE_SID, sid):
        abort(400, "a Twilio message status callback needs a MessageSid")
    with appctx.database().session() as session, session.begin():
        record_status_callback(
            session, sid, form.get("MessageStatus", ""), ascii_int(form.get("ErrorCode"), max_digits=6), appctx.now(),
        )
    return "", 204


@bp.errorhandler(Exception)
def unavailable(error: Exception):
    """Twilio retries nothing we answer, but its debugger shows a 503 with our words, not an HTML 500."""
    if isinstance(error, HTTPException):
        return error
    log.exception("SMS status callback failed for MessageSid %s", request.form.get("MessageSid"))
    return "temporarily unavailable", 503
