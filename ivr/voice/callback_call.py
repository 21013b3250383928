"""The webhooks of a callback call (``ivr.callbacks``): Twilio rings the operator; when they
answer they hear which complaint it is and press 1; the customer is dialled; every leg reports
its status. Signed like every webhook; the attempt's id is in the URL, which Twilio got from us.

The TwiML steps never answer an error (an operator would hear Twilio's "application error"):
a failure hangs up politely. The status reports answer 204, or 503 when the database cannot
take them (Twilio's debugger then shows it).
"""

from __future__ import annotations

import logging

from flask import Blueprint, request, url_for
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse
from werkzeug.exceptions import HTTPException

from .. import appctx
from ..callbacks import customer_dialled, customer_leg_status, operator_leg_status
from ..calls.outcome import CALL_STATUSES
from ..inputs import ascii_int
from ..models import CallbackCall
from ..prompts import PromptSet
from ..twilio_auth import require_call_sid, require_twilio_signature
from ..twiml import speak, twiml_response

log = logging.getLogger(__name__)
bp = Blueprint("callback_calls", __name__, url_prefix="/voice/callbacks")
bp.before_request(require_twilio_signature)
bp.before_request(require_call_sid)
CONNECT_KEY = "1"
_TWIML_ENDPOINTS = ("callback_calls.answer", "callback_calls.connect", "callback_calls.dialled")


def _prompts() -> PromptSet:
    """Operators hear the hotline's first language, as in the whisper of a live call."""
    return appctx.hotline().prompt_set(None)


def _hang_up(response: VoiceResponse | None = None):
    response = response or VoiceResponse()
    response.hangup()
    return twiml_response(response)


@bp.post("/<int:attempt_id>/answer")
def answer(attempt_id: int):
    """The operator picked up: name the complaint, and wait for them to press 1 (a voicemail
    answering their phone never does, so the customer is not rung for nothing)."""
    routing, prompts = appctx.hotline().routing, _prompts()
    with appctx.database().session() as session:
        attempt = session.get(CallbackCall, attempt_id)
        if attempt is None:
            return _hang_up()
        ticket = attempt.callback.ticket
        number, department = ticket.number, routing.departments.get(ticket.department)
    response = VoiceResponse()
    gather = Gather(input="dtmf", num_digits=1, timeout=8, action=url_for(".connect", attempt_id=attempt_id), method="POST")
    whisper = prompts.say("callback_whisper", ticket=prompts.spelled(number),
                          department=department.name[prompts.lang] if department else ticket.department)
    speak(gather, whisper)
    speak(gather, whisper)  # said twice: the operator may not hear the first words as the phone is lifted
    response.append(gather)
    return _hang_up(response)


@bp.post("/<int:attempt_id>/connect")
def connect(attempt_id: int):
    """The operator's key: 1 dials the customer, showing the hotline's number."""
    if request.form.get("Digits", "") != CONNECT_KEY:
        return _hang_up()
    with appctx.database().session() as session, session.begin():
        attempt = customer_dialled(session, attempt_id, appctx.now())
        if attempt is None:
            return _hang_up()
        customer, caller_id = attempt.callback.number, attempt.callback.hotline_number
    response = VoiceResponse()
    dial = Dial(action=url_for(".dialled", attempt_id=attempt_id), method="POST", caller_id=caller_id,
                timeout=appctx.hotline().routing.hotline.dial_timeout)
    dial.number(customer, status_callback=url_for(".customer_status", attempt_id=attempt_id),
                status_callback_event="answered completed", status_callback_method="POST")
    response.append(dial)
    return twiml_response(response)


@bp.post("/<int:attempt_id>/dialled")
def dialled(attempt_id: int):
    """The <Dial> action: how the call to the customer ended; the operator hears when nobody answered."""
    form = request.form
    status = form.get("DialCallStatus", "")
    seconds = ascii_int(form.get("DialCallDuration"), max_digits=6)
    with appctx.database().session() as session, session.begin():
        customer_leg_status(session, attempt_id, status, seconds, appctx.now())
    response = VoiceResponse()
    if status not in ("completed", "answered"):
        speak(response, _prompts().say("callback_not_answered"))
    return _hang_up(response)


@bp.post("/<int:attempt_id>/status")
def status(attempt_id: int):
    """The status callback of the call to the operator."""
    form = request.form
    call_status = form.get("CallStatus", "")
    if call_status not in CALL_STATUSES:
        return "", 204
    with appctx.database().session() as session, session.begin():
        operator_leg_status(session, attempt_id, form["CallSid"], call_status, appctx.now())
    return "", 204


@bp.post("/<int:attempt_id>/customer-status")
def customer_status(attempt_id: int):
    """The status callback of the customer's leg (the <Number> dialled after the operator pressed 1)."""
    form = request.form
    call_status = form.get("CallStatus", "")
    if call_status not in CALL_STATUSES | {"answered"}:
        return "", 204
    seconds = ascii_int(form.get("CallDuration"), max_digits=6)
    with appctx.database().session() as session, session.begin():
        customer_leg_status(session, attempt_id, call_status, seconds, appctx.now(), call_sid=form["CallSid"])
    return "", 204


@bp.errorhandler(Exception)
def failed(error: Exception):
    if isinstance(error, HTTPException):
        return error
    log.exception("callback webhook %s failed for CallSid %s", request.path, request.form.get("CallSid"))
    if request.endpoint in _TWIML_ENDPOINTS:
        return _hang_up()
    return "temporarily unavailable", 503
