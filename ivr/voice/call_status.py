"""Twilio's reports on a call as a whole: its status callback, and the recording of an
operator conversation. Nobody is on the line for these, so they answer 204, or 503 when the
call log cannot take them (Twilio's debugger then shows it)."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, request
from werkzeug.exceptions import HTTPException

from .. import appctx
from ..calls import log as call_log
from ..calls.outcome import CALL_STATUSES
from ..inputs import ascii_int, has_control_characters, matches
from ..phone import caller_from
from ..twilio_auth import require_call_sid, require_twilio_signature

log = logging.getLogger(__name__)
bp = Blueprint("call_status", __name__, url_prefix="/voice")
bp.before_request(require_twilio_signature)
bp.before_request(require_call_sid)
_RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")


@bp.post("/status")
def status():
    """The number's "Call status changes" webhook: a final status closes the call's row."""
    form = request.form
    call_sid, status = form["CallSid"], form.get("CallStatus", "")
    if status not in CALL_STATUSES:
        return "", 204
    duration = ascii_int(form.get("CallDuration"), max_digits=6)
    caller = caller_from(form.get("From"), appctx.hotline().routing.hotline.holidays).e164
    now = appctx.now()
    appctx.call_events().record(lambda session: call_log.status_reported(session, call_sid, status, duration, caller, now))
    return "", 204


@bp.post("/conversation-recording")
def conversation_recording():
    """The recording of the caller's conversation with the operator (record_operator_calls)."""
    form = request.form
    if form.get("RecordingStatus", "completed") != "completed":
        return "", 204
    sid, url = form.get("RecordingSid", ""), form.get("RecordingUrl", "")
    sid = sid if matches(_RECORDING_SID, sid) else None
    url = url if url.startswith("https://") and len(url) <= 300 and not has_control_characters(url) else None
    call_sid, now = form["CallSid"], appctx.now()
    appctx.call_events().record(lambda session: call_log.conversation_recorded(session, call_sid, sid, url, now))
    return "", 204


@bp.errorhandler(Exception)
def unavailable(error: Exception):
    if isinstance(error, HTTPException):
        return error
    log.exception("call report %s failed for CallSid %s", request.path, request.form.get("CallSid"))
    return "temporarily unavailable", 503
