"""The voice webhooks Twilio calls during a call.

The one URL an administrator gives Twilio is ``POST /voice/incoming``; every
other URL is reached through the TwiML returned here. The state of a call
(language, department, SMS number, client code, attempt, the menu's offers) travels in the
query strings of those URLs, so any server process can answer any step.

The steps live in ``menu`` (greeting and menu), ``operators`` (dialling a department) and
``voicemail`` (taking the complaint); ``call_state`` reads a webhook's request and the call's
state. The error handler below makes sure no caller ever hears an error.

Three more blueprints take Twilio's reports on a call: ``call_status`` (the call as a whole,
and operator conversations' recordings), ``transcription`` (the voicemail's transcript) and
``callback_call`` (the call that rings an operator, then the customer, for a callback).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import request, url_for
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from ..calls import log as call_log
from ..twiml import speak, twiml_response
from . import callbacks, menu, operators, voicemail  # noqa: F401  (their routes join the blueprint)
from .blueprint import bp
from .call_state import call_lang, caller_textable, department_or_fallback, log_call, prompts_in
from .voicemail import append_record

if TYPE_CHECKING:
    from flask import Flask
    from flask_wtf.csrf import CSRFProtect

log = logging.getLogger(__name__)

__all__ = ["bp", "init_app"]


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    """Register the blueprints of Twilio's voice webhooks, exempt from CSRF: Twilio's signature
    authenticates them instead."""
    from . import call_status, callback_call, transcription

    for blueprint in (bp, call_status.bp, transcription.bp, callback_call.bp):
        csrf.exempt(blueprint)
        app.register_blueprint(blueprint)


@bp.errorhandler(Exception)
def apologise(error: Exception):
    """No caller ever hears an error: apologise and take the complaint as a voicemail."""
    if isinstance(error, HTTPException):
        return error
    if request.endpoint == "voice.recording_status":
        # Nobody is on the line: say it failed, without a 500, so Twilio's debugger shows it.
        log.exception("recording callback failed for CallSid %s: %s", request.form.get("CallSid"), request.form.get("RecordingUrl"))
        return "temporarily unavailable", 503
    log.exception("voice webhook %s failed for CallSid %s", request.path, request.form.get("CallSid"))
    response = VoiceResponse()
    try:
        log_call(call_log.webhook_failed)
        lang, key = call_lang(), department_or_fallback((request.view_args or {}).get("department"))
        speak(response, prompts_in(lang).say("error_apology"))
        return append_record(response, key, lang, sms=caller_textable(), take=2)
    except Exception:  # the configuration itself is unusable: record without words
        log.exception("could not even apologise for CallSid %s", request.form.get("CallSid"))
        fallback = VoiceResponse()
        fallback.record(
            action=url_for(".recorded", department="-"), play_beep=True, finish_on_key="#",
            max_length=180, timeout=10,
            recording_status_callback=url_for(".recording_status", department="-"),
        )
        return twiml_response(fallback)
