"""Taking a complaint as a voicemail: the SMS number and client code when needed, the recording,
and telling the caller what became of it."""

from __future__ import annotations

import re

from flask import request, url_for
from twilio.twiml.voice_response import Gather, VoiceResponse

from .. import appctx
from ..calls import log as call_log
from ..inputs import ascii_int, has_control_characters, matches
from ..phone import keyed_mobile
from ..prompts import PromptSet
from ..recovery.intake import Journaled, NotKept, Registered
from ..tickets.registration import RECORDING_STATUSES, VoicemailReport
from ..twiml import speak, twiml_response
from .blueprint import bp
from .call_state import (
    call_caller, call_lang, caller_textable, client_code_from, code_arg, department_name, department_or_fallback,
    int_arg, log_call, prompts_in, sms_arg, textable,
)
from .transcription import stop_transcription, transcribe_voicemail

_RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")


def take_voicemail(response: VoiceResponse, key: str, lang: str):
    sms = caller_textable()
    if sms:
        return _before_record(response, key, lang, sms)
    _append_sms_request(response, key, lang, asked=1)
    return twiml_response(response)


def _append_sms_request(response: VoiceResponse, key: str, lang: str, asked: int) -> None:
    action = url_for(".sms_number", department=key, lang=lang, asked=asked)
    gather = Gather(input="dtmf", finish_on_key="#", timeout=8, num_digits=16, action=action, method="POST")
    speak(gather, prompts_in(lang).say("sms_number_request"))
    response.append(gather)
    response.redirect(action, method="POST")  # nothing keyed: go on without an SMS


@bp.post("/sms-number/<department>")
def sms_number(department: str):
    """The mobile number a caller keyed in for the SMS: re-asked once when invalid, optional."""
    hotline = appctx.hotline()
    lang, key, asked = call_lang(), department_or_fallback(department), int_arg("asked", 1)
    digits = request.form.get("Digits", "")
    response, prompts = VoiceResponse(), prompts_in(lang)
    mobile = textable(keyed_mobile(digits, hotline.routing.hotline.holidays))
    if mobile:
        return _before_record(response, key, lang, mobile)
    if digits and asked < 2:
        speak(response, prompts.say("sms_number_invalid"))
        _append_sms_request(response, key, lang, asked=asked + 1)
        return twiml_response(response)
    if digits:
        speak(response, prompts.say("sms_number_invalid"))
    speak(response, prompts.say("sms_number_skipped"))
    return _before_record(response, key, lang, "")


def _before_record(response: VoiceResponse, key: str, lang: str, sms: str):
    """The client code, when routing.yaml asks for one, then the voicemail."""
    if appctx.hotline().routing.hotline.ask_client_code:
        _append_code_request(response, key, lang, sms, asked=1)
        return twiml_response(response)
    return append_record(response, key, lang, sms=sms, take=1)


def _append_code_request(response: VoiceResponse, key: str, lang: str, sms: str, asked: int) -> None:
    length = appctx.hotline().routing.hotline.client_code_length
    action = url_for(".client_code", department=key, lang=lang, sms=sms, asked=asked)
    gather = Gather(input="dtmf", finish_on_key="#", num_digits=length, timeout=6, action=action, method="POST")
    prompt = "client_code_request" if asked == 1 else "client_code_invalid"
    speak(gather, prompts_in(lang).say(prompt, digits=length))
    response.append(gather)
    response.redirect(action, method="POST")  # nothing keyed: the code is optional


@bp.post("/client-code/<department>")
def client_code(department: str):
    """The client code a caller keyed in: re-asked once when of the wrong length, optional."""
    lang, key, asked, sms = call_lang(), department_or_fallback(department), int_arg("asked", 1), sms_arg()
    digits = request.form.get("Digits", "")
    response = VoiceResponse()
    code = client_code_from(digits)
    if code:
        return append_record(response, key, lang, sms=sms, take=1, code=code)
    if digits and asked < 2 and appctx.hotline().routing.hotline.client_code_length:
        _append_code_request(response, key, lang, sms, asked=asked + 1)
        return twiml_response(response)
    if digits:
        speak(response, prompts_in(lang).say("client_code_skipped"))
    return append_record(response, key, lang, sms=sms, take=1)


def append_record(response: VoiceResponse, key: str, lang: str, sms: str, take: int, code: str | None = None):
    routing, prompts = appctx.hotline().routing, prompts_in(lang)
    code = code or None  # left out of the URLs rather than "code="
    speak(response, prompts.say("voicemail_instructions", department=department_name(key, lang)))
    log_call(call_log.voicemail_reached)
    tr = transcribe_voicemail(response, lang, take)  # routing.yaml's transcription: <Start> before <Record>
    response.record(
        action=url_for(".recorded", department=key, lang=lang, sms=sms, code=code, tr=tr), method="POST",
        recording_status_callback=url_for(".recording_status", department=key, lang=lang, sms=sms, code=code),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed absent failed",
        play_beep=True, finish_on_key="#", max_length=routing.hotline.record_max_seconds,
        trim="trim-silence", timeout=10,
    )
    # Twilio comes here only when nothing was recorded.
    speak(response, prompts.say("voicemail_empty"))
    if take == 1:
        response.redirect(url_for(".record", department=key, lang=lang, sms=sms, code=code, tr=tr, take=2), method="POST")
    else:
        speak(response, prompts.say("goodbye", company=routing.hotline.company))
        response.hangup()
    return twiml_response(response)


@bp.post("/record/<department>")
def record(department: str):
    return append_record(VoiceResponse(), department_or_fallback(department), call_lang(), sms_arg(), int_arg("take", 2), code_arg())


def _voicemail_report(department: str, source: str) -> VoicemailReport:
    """What Twilio said about the recording; a field that is not what Twilio sends is left out,
    never stored (a NUL byte would make PostgreSQL refuse the whole ticket)."""
    form = request.form
    status = form.get("RecordingStatus", "completed")
    sid, url = form.get("RecordingSid", ""), form.get("RecordingUrl", "")
    return VoicemailReport(
        call_sid=form["CallSid"], department=department_or_fallback(department), language=call_lang(),
        caller=call_caller().e164, sms_to=sms_arg() or None, client_code=code_arg(),
        recording_sid=sid if matches(_RECORDING_SID, sid) else None,
        recording_url=url if _is_recording_url(url) else None,
        recording_duration=ascii_int(form.get("RecordingDuration"), max_digits=5),
        recording_status=status if status in RECORDING_STATUSES else "failed",
        source=source,
    )


def _is_recording_url(url: str) -> bool:
    return url.startswith("https://") and len(url) <= 300 and not has_control_characters(url)


@bp.post("/recorded/<department>")
def recorded(department: str):
    """The <Record> action: the caller left a complaint; tell them what became of it."""
    hotline = appctx.hotline()
    report = _voicemail_report(department, "record action")
    prompts, response = prompts_in(report.language), VoiceResponse()
    stop_transcription(response)
    outcome = appctx.intake().take(report, appctx.now())
    if not isinstance(outcome, NotKept):
        log_call(call_log.voicemail_left)
    name = department_name(report.department, report.language)
    if isinstance(outcome, Registered) and outcome.number:
        speak(response, prompts.say(
            "ticket_registered", ticket=prompts.spelled(outcome.number),
            deadline=spoken_deadline(prompts, outcome.deadline), department=name,
            **spoken_milestones(prompts, outcome.milestones),
        ))
    elif isinstance(outcome, Journaled):
        # The number comes from the database; the caller gets it by SMS once it is back.
        key = "ticket_pending" if report.sms_to else "ticket_pending_no_sms"
        speak(response, prompts.say(key, deadline=spoken_deadline(prompts, outcome.deadline), department=name,
                                    **spoken_milestones(prompts, outcome.milestones)))
    else:  # not kept anywhere, or an empty recording: never say "registered"
        speak(response, prompts.say("ticket_not_registered"))
    speak(response, prompts.say("goodbye", company=hotline.routing.hotline.company))
    response.hangup()
    return twiml_response(response)


def spoken_deadline(prompts: PromptSet, deadline) -> str:
    tz = appctx.hotline().routing.timezone
    return prompts.spoken_deadline(deadline, tz, appctx.now().astimezone(tz).date())


def spoken_milestones(prompts: PromptSet, milestones: dict) -> dict[str, str]:
    """Every milestone in words, for a prompt that names one ({promised})."""
    return {name: spoken_deadline(prompts, deadline) for name, deadline in milestones.items()}


@bp.post("/recording-status/<department>")
def recording_status(department: str):
    """Twilio's recordingStatusCallback: registers the complaint if the action did not."""
    report = _voicemail_report(department, "recording callback")
    if isinstance(appctx.intake().take(report, appctx.now()), NotKept):
        return "temporarily unavailable", 503
    return "", 204
