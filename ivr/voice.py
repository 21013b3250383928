"""The voice webhooks Twilio calls during a call.

The one URL an administrator gives Twilio is ``POST /voice/incoming``; every
other URL is reached through the TwiML returned here. The state of a call
(language, department, SMS number, client code, attempt) travels in the query strings of
those URLs, so any server process can answer any step.
"""

from __future__ import annotations

import logging
import re
import unicodedata

from flask import Blueprint, request, url_for
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse
from werkzeug.exceptions import HTTPException

from . import appctx
from .inputs import ascii_digits, ascii_int, has_control_characters, matches
from .phone import Caller, caller_from, keyed_mobile, sms_recipient
from .prompts import PromptSet
from .calls import log as call_log
from .recovery.intake import Journaled, NotKept, Registered
from .twiml import speak, twiml_response
from .tickets import RECORDING_STATUSES, VoicemailReport
from .twilio_auth import require_call_sid, require_twilio_signature

log = logging.getLogger(__name__)
bp = Blueprint("voice", __name__, url_prefix="/voice")
bp.before_request(require_twilio_signature)
bp.before_request(require_call_sid)

DIAL_ANSWERED = {"completed", "answered"}
_RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")


# -- reading the request ------------------------------------------------------

def _caller() -> Caller:
    return caller_from(request.form.get("From"), appctx.hotline().routing.hotline.holidays)


def _lang() -> str:
    lang = request.args.get("lang", "")
    routing = appctx.hotline().routing
    return lang if lang in routing.hotline.languages else routing.default_language


def _department(key: str | None) -> str:
    routing = appctx.hotline().routing
    return key if key in routing.departments else routing.hotline.fallback


def _int_arg(name: str, default: int) -> int:
    value = ascii_int(request.args.get(name), max_digits=3)
    return default if value is None else value


def _textable(number: str | None) -> str:
    """``number`` in E.164 if we may text it (a mobile of routing.yaml's sms_countries), else ""."""
    hotline = appctx.hotline().routing.hotline
    return sms_recipient(caller_from(number, hotline.holidays), hotline.sms_countries) or ""


def _sms_arg() -> str:
    """The SMS number carried in the URL, checked again like any number (sms_countries may have changed)."""
    return _textable(request.args.get("sms"))


def _client_code(digits: str | None) -> str | None:
    """``digits`` when it is a client code as routing.yaml defines one now: the configured number of ASCII digits."""
    length = appctx.hotline().routing.hotline.client_code_length
    return ascii_digits(digits, length) if length else None


def _code_arg() -> str | None:
    """The client code carried in the URL, checked again: a URL is not the caller's keypad."""
    return _client_code(request.args.get("code"))


def _log_call(write, *args) -> None:
    """Add a fact to this call's row in the background: no step of a call waits for the database."""
    call_sid, now = request.form["CallSid"], appctx.now()
    appctx.call_events().record(lambda session: write(session, call_sid, *args, now))


def _parent_call_sid() -> str:
    """The caller's call: an operator's leg (whisper) carries its parent's CallSid."""
    parent = request.form.get("ParentCallSid", "")
    return parent if matches(_CALL_SID, parent) else request.form["CallSid"]


def _prompts(lang: str) -> PromptSet:
    return appctx.hotline().prompt_set(lang)


def _department_name(key: str, lang: str) -> str:
    return appctx.hotline().routing.departments[key].name[lang]


# -- the menu -----------------------------------------------------------------

@bp.post("/incoming")
def incoming():
    hotline = appctx.hotline()
    lang = hotline.language_for(_caller())
    prompts, company = _prompts(lang), hotline.routing.hotline.company
    _log_call(call_log.call_started, _caller().e164, lang)
    response = VoiceResponse()
    speak(response, prompts.say("greeting", company=company))
    speak(response, prompts.say("recording_notice", company=company))
    _append_menu(response, lang, attempt=1)
    return twiml_response(response)


def _append_menu(response: VoiceResponse, lang: str, attempt: int) -> None:
    routing, prompts = appctx.hotline().routing, _prompts(lang)
    action = url_for(".menu", lang=lang, attempt=attempt)
    departments = sorted(routing.departments.items(), key=lambda item: item[1].digit)
    hints = [word for _, d in departments for word in [d.name[lang], *d.keywords.get(lang, [])]]
    gather = Gather(
        input="dtmf speech", num_digits=1, timeout=6, action=action, method="POST",
        language=prompts.language, hints=", ".join(hints), speech_timeout="auto",
    )
    for key, dept in departments:
        speak(gather, prompts.say("menu_option", department=dept.name[lang], digit=dept.digit))
    for other, digit in routing.language_keys.items():
        if other != lang:
            speak(gather, _prompts(other).say("language_offer", digit=digit))
    response.append(gather)
    response.redirect(action, method="POST")  # reached only when the caller pressed nothing


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _spoken_department(speech: str, lang: str) -> str | None:
    heard = _normalise(speech)
    for key, dept in appctx.hotline().routing.departments.items():
        words = [dept.name.get(lang, ""), *dept.keywords.get(lang, [])]
        if any(w and _normalise(w) in heard for w in words):
            return key
    return None


@bp.post("/menu")
def menu():
    routing = appctx.hotline().routing
    lang, attempt = _lang(), _int_arg("attempt", 1)
    digits = request.form.get("Digits", "")
    response = VoiceResponse()
    digit = ascii_int(digits, max_digits=1)
    if digit is not None:
        chosen = routing.department_for_digit(digit)
        if chosen:
            return _route(response, chosen, lang)
        switch_to = next((l for l, d in routing.language_keys.items() if str(d) == digits), None)
        if switch_to and switch_to != lang:
            _append_menu(response, switch_to, attempt)  # switching language is not a miss
            return twiml_response(response)
    spoken = _spoken_department(request.form.get("SpeechResult", "")[:500], lang)
    if spoken:
        return _route(response, spoken, lang)
    prompts = _prompts(lang)
    if attempt >= routing.hotline.menu_attempts:
        fallback = routing.hotline.fallback
        speak(response, prompts.say("menu_fallback", department=_department_name(fallback, lang)))
        return _route(response, fallback, lang)
    speak(response, prompts.say("menu_invalid"))
    _append_menu(response, lang, attempt + 1)
    return twiml_response(response)


# -- operators ----------------------------------------------------------------

def _route(response: VoiceResponse, key: str, lang: str):
    """Dial the department's operators when it is staffed, else take a voicemail."""
    routing, prompts = appctx.hotline().routing, _prompts(lang)
    dept, name = routing.departments[key], _department_name(key, lang)
    _log_call(call_log.department_chosen, key, lang)
    if not routing.schedule(key).is_open(appctx.now()):
        hours = prompts.describe_hours(dept.weekly_hours)
        speak(response, prompts.say("department_closed", department=name, hours=hours))
        return _voicemail(response, key, lang)
    targets = _dial_targets(dept.operators)
    if not targets:
        speak(response, prompts.say("operators_unavailable", department=name))
        return _voicemail(response, key, lang)
    speak(response, prompts.say("connecting", department=name))
    _log_call(call_log.offered, key)
    recording = {}
    if routing.hotline.record_operator_calls:
        recording = dict(
            record="record-from-answer-dual", recording_status_callback_event="completed",
            recording_status_callback=url_for("call_status.conversation_recording"),
        )
    dial = Dial(
        action=url_for(".dial_status", department=key, lang=lang), method="POST",
        timeout=routing.hotline.dial_timeout, caller_id=_caller().e164, answer_on_bridge=True, **recording,
    )
    whisper = url_for(".whisper", department=key)
    for target in targets:
        if target.startswith("client:"):
            dial.client(target.removeprefix("client:"), url=whisper, method="POST")
        elif target.startswith("sip:"):
            dial.sip(target, url=whisper, method="POST")
        else:
            dial.number(target, url=whisper, method="POST")
    response.append(dial)
    return twiml_response(response)


def _dial_targets(operators: list[str]) -> list[str]:
    """routing.yaml's operators, a "user:NAME" replaced by that console user's phone (left out
    when the user has none or is disabled)."""
    targets = []
    for target in operators:
        if target.startswith("user:"):
            phone = appctx.operator_phones().phone_of(target.removeprefix("user:"))
            if phone is None:
                log.warning("operator %s has no phone in the console users; not dialled", target)
                continue
            target = phone
        targets.append(target)
    return targets


@bp.post("/whisper/<department>")
def whisper(department: str):
    """What the operator hears before the caller is put through."""
    hotline = appctx.hotline()
    lang, key = hotline.routing.default_language, _department(department)
    caller = caller_from(request.form.get("ParentCallFrom") or request.form.get("From"), hotline.routing.hotline.holidays)
    parent, target, now = _parent_call_sid(), request.form.get("To", ""), appctx.now()
    appctx.call_events().record(lambda session: call_log.answered(session, parent, target, now))
    response = VoiceResponse()
    speak(response, _prompts(lang).say("whisper", department=_department_name(key, lang), caller=caller.e164 or ""))
    return twiml_response(response)


@bp.post("/dial-status/<department>")
def dial_status(department: str):
    lang, key = _lang(), _department(department)
    response = VoiceResponse()
    if request.form.get("DialCallStatus", "") in DIAL_ANSWERED:
        talked = ascii_int(request.form.get("DialCallDuration"), max_digits=6) or 0
        _log_call(call_log.dial_answered, talked)
        response.hangup()
        return twiml_response(response)
    speak(response, _prompts(lang).say("operators_unavailable", department=_department_name(key, lang)))
    return _voicemail(response, key, lang)


# -- voicemail ----------------------------------------------------------------

def _voicemail(response: VoiceResponse, key: str, lang: str):
    sms = _textable(request.form.get("From"))
    if sms:
        return _before_record(response, key, lang, sms)
    _append_sms_request(response, key, lang, asked=1)
    return twiml_response(response)


def _append_sms_request(response: VoiceResponse, key: str, lang: str, asked: int) -> None:
    action = url_for(".sms_number", department=key, lang=lang, asked=asked)
    gather = Gather(input="dtmf", finish_on_key="#", timeout=8, num_digits=16, action=action, method="POST")
    speak(gather, _prompts(lang).say("sms_number_request"))
    response.append(gather)
    response.redirect(action, method="POST")  # nothing keyed: go on without an SMS


@bp.post("/sms-number/<department>")
def sms_number(department: str):
    """The mobile number a caller keyed in for the SMS: re-asked once when invalid, optional."""
    hotline = appctx.hotline()
    lang, key, asked = _lang(), _department(department), _int_arg("asked", 1)
    digits = request.form.get("Digits", "")
    response, prompts = VoiceResponse(), _prompts(lang)
    mobile = _textable(keyed_mobile(digits, hotline.routing.hotline.holidays))
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
    return _append_record(response, key, lang, sms=sms, take=1)


def _append_code_request(response: VoiceResponse, key: str, lang: str, sms: str, asked: int) -> None:
    length = appctx.hotline().routing.hotline.client_code_length
    action = url_for(".client_code", department=key, lang=lang, sms=sms, asked=asked)
    gather = Gather(input="dtmf", finish_on_key="#", num_digits=length, timeout=6, action=action, method="POST")
    prompt = "client_code_request" if asked == 1 else "client_code_invalid"
    speak(gather, _prompts(lang).say(prompt, digits=length))
    response.append(gather)
    response.redirect(action, method="POST")  # nothing keyed: the code is optional


@bp.post("/client-code/<department>")
def client_code(department: str):
    """The client code a caller keyed in: re-asked once when of the wrong length, optional."""
    lang, key, asked, sms = _lang(), _department(department), _int_arg("asked", 1), _sms_arg()
    digits = request.form.get("Digits", "")
    response = VoiceResponse()
    code = _client_code(digits)
    if code:
        return _append_record(response, key, lang, sms=sms, take=1, code=code)
    if digits and asked < 2 and appctx.hotline().routing.hotline.client_code_length:
        _append_code_request(response, key, lang, sms, asked=asked + 1)
        return twiml_response(response)
    if digits:
        speak(response, _prompts(lang).say("client_code_skipped"))
    return _append_record(response, key, lang, sms=sms, take=1)


def _append_record(response: VoiceResponse, key: str, lang: str, sms: str, take: int, code: str | None = None):
    routing, prompts = appctx.hotline().routing, _prompts(lang)
    code = code or None  # left out of the URLs rather than "code="
    speak(response, prompts.say("voicemail_instructions", department=_department_name(key, lang)))
    response.record(
        action=url_for(".recorded", department=key, lang=lang, sms=sms, code=code), method="POST",
        recording_status_callback=url_for(".recording_status", department=key, lang=lang, sms=sms, code=code),
        recording_status_callback_method="POST",
        recording_status_callback_event="completed absent failed",
        play_beep=True, finish_on_key="#", max_length=routing.hotline.record_max_seconds,
        trim="trim-silence", timeout=10,
    )
    # Twilio comes here only when nothing was recorded.
    speak(response, prompts.say("voicemail_empty"))
    if take == 1:
        response.redirect(url_for(".record", department=key, lang=lang, sms=sms, code=code, take=2), method="POST")
    else:
        speak(response, prompts.say("goodbye", company=routing.hotline.company))
        response.hangup()
    return twiml_response(response)


@bp.post("/record/<department>")
def record(department: str):
    return _append_record(VoiceResponse(), _department(department), _lang(), _sms_arg(), _int_arg("take", 2), _code_arg())


def _voicemail_report(department: str, source: str) -> VoicemailReport:
    """What Twilio said about the recording; a field that is not what Twilio sends is left out,
    never stored (a NUL byte would make PostgreSQL refuse the whole ticket)."""
    form = request.form
    status = form.get("RecordingStatus", "completed")
    sid, url = form.get("RecordingSid", ""), form.get("RecordingUrl", "")
    return VoicemailReport(
        call_sid=form["CallSid"], department=_department(department), language=_lang(),
        caller=_caller().e164, sms_to=_sms_arg() or None, client_code=_code_arg(),
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
    prompts, response = _prompts(report.language), VoiceResponse()
    outcome = appctx.intake().take(report, appctx.now())
    if not isinstance(outcome, NotKept):
        _log_call(call_log.voicemail_left)
    name = _department_name(report.department, report.language)
    if isinstance(outcome, Registered) and outcome.number:
        speak(response, prompts.say(
            "ticket_registered", ticket=prompts.spelled(outcome.number),
            deadline=_spoken_deadline(prompts, outcome.deadline), department=name,
            **_spoken_milestones(prompts, outcome.milestones),
        ))
    elif isinstance(outcome, Journaled):
        # The number comes from the database; the caller gets it by SMS once it is back.
        key = "ticket_pending" if report.sms_to else "ticket_pending_no_sms"
        speak(response, prompts.say(key, deadline=_spoken_deadline(prompts, outcome.deadline), department=name,
                                    **_spoken_milestones(prompts, outcome.milestones)))
    else:  # not kept anywhere, or an empty recording: never say "registered"
        speak(response, prompts.say("ticket_not_registered"))
    speak(response, prompts.say("goodbye", company=hotline.routing.hotline.company))
    response.hangup()
    return twiml_response(response)


def _spoken_deadline(prompts: PromptSet, deadline) -> str:
    tz = appctx.hotline().routing.timezone
    return prompts.spoken_deadline(deadline, tz, appctx.now().astimezone(tz).date())


def _spoken_milestones(prompts: PromptSet, milestones: dict) -> dict[str, str]:
    """Every milestone in words, for a prompt that names one ({promised})."""
    return {name: _spoken_deadline(prompts, deadline) for name, deadline in milestones.items()}


@bp.post("/recording-status/<department>")
def recording_status(department: str):
    """Twilio's recordingStatusCallback: registers the complaint if the action did not."""
    report = _voicemail_report(department, "recording callback")
    if isinstance(appctx.intake().take(report, appctx.now()), NotKept):
        return "temporarily unavailable", 503
    return "", 204


# -- failure ------------------------------------------------------------------

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
        _log_call(call_log.webhook_failed)
        lang, key = _lang(), appctx.hotline().routing.hotline.fallback
        speak(response, _prompts(lang).say("error_apology"))
        return _append_record(response, key, lang, sms=_textable(request.form.get("From")), take=2)
    except Exception:  # the configuration itself is unusable: record without words
        log.exception("could not even apologise for CallSid %s", request.form.get("CallSid"))
        fallback = VoiceResponse()
        fallback.record(
            action=url_for(".recorded", department="-"), play_beep=True, finish_on_key="#",
            max_length=180, timeout=10,
            recording_status_callback=url_for(".recording_status", department="-"),
        )
        return twiml_response(fallback)
