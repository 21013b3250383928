"""Twilio's status callbacks for the SMS we send: sent, delivered, undelivered, failed."""

from __future__ import annotations

from flask import Blueprint, abort, request

from . import appctx
from .outbox import record_status_callback
from .twilio_auth import require_twilio_signature

bp = Blueprint("sms", __name__, url_prefix="/sms")
bp.before_request(require_twilio_signature)


@bp.post("/status")
def status():
    form = request.form
    sid, code = form.get("MessageSid", ""), form.get("ErrorCode", "")
    if not sid.startswith(("SM", "MM")) or len(sid) > 34:
        abort(400, "a Twilio message status callback needs a MessageSid")
    with appctx.database().session() as session, session.begin():
        record_status_callback(
            session, sid, form.get("MessageStatus", ""), int(code) if code.isdigit() and len(code) < 7 else None,
            appctx.now(),
        )
    return "", 204
