"""Putting the caller through to a department's operators, and what happens when nobody answers."""

from __future__ import annotations

import logging

from flask import request, url_for
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from .. import appctx
from ..calls import log as call_log
from ..inputs import ascii_int
from ..phone import caller_from
from ..twiml import speak, twiml_response
from .blueprint import bp
from .call_state import (
    call_caller, call_lang, department_name, department_or_fallback, is_call_sid, log_call, parent_call_sid, prompts_in,
)
from .callbacks import offer_callback
from .voicemail import take_voicemail

log = logging.getLogger(__name__)
DIAL_ANSWERED = {"completed", "answered"}


def route(response: VoiceResponse, key: str, lang: str, told_all_closed: bool = False, announced: bool = False):
    """Dial the department's operators when it is staffed, else take a voicemail (saying it is
    closed unless the caller heard before the menu that every department is). ``announced``:
    the caller was just told where they are put through (the menu's fallback)."""
    routing, prompts = appctx.hotline().routing, prompts_in(lang)
    dept, name = routing.departments[key], department_name(key, lang)
    log_call(call_log.department_chosen, key, lang)
    if not routing.schedule(key).is_open(appctx.now()):
        if dept.weekly_hours.never_staffed:  # no hours to tell: complaints are only ever taken this way
            speak(response, prompts.say("department_unstaffed", department=name))
        elif not told_all_closed:
            hours = prompts.describe_hours(dept.weekly_hours)
            holiday = routing.schedule(key).closed_for_holiday(appctx.now())
            speak(response, prompts.say("department_closed_holiday" if holiday else "department_closed", department=name, hours=hours))
        return take_voicemail(response, key, lang)
    targets = _dial_targets(dept.operators)
    if not targets:
        speak(response, prompts.say("operators_unavailable", department=name))
        return offer_callback(response, key, lang) or take_voicemail(response, key, lang)
    if not announced:
        speak(response, prompts.say("connecting", department=name))
    log_call(call_log.offered, key)
    recording = {}
    if routing.hotline.record_operator_calls:
        recording = dict(
            record="record-from-answer-dual", recording_status_callback_event="completed",
            recording_status_callback=url_for("call_status.conversation_recording"),
        )
    dial = Dial(
        action=url_for(".dial_status", department=key, lang=lang), method="POST",
        timeout=routing.hotline.dial_timeout, caller_id=call_caller().e164, answer_on_bridge=True, **recording,
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
    """What the operator hears before the caller is put through. With ``operator_presses_key``
    (the default) they press a key to take the call: a phone that diverts to its own voicemail
    presses none, so the caller is not put through to a mailbox nobody reads but leaves the
    complaint with the hotline (the <Dial> ends unbridged)."""
    hotline = appctx.hotline()
    lang, key = hotline.routing.default_language, department_or_fallback(department)
    caller = caller_from(request.form.get("ParentCallFrom") or request.form.get("From"), hotline.routing.hotline.holidays)
    prompts, response = prompts_in(lang), VoiceResponse()
    said = prompts.say("whisper", department=department_name(key, lang), caller=caller.e164 or "")
    if not hotline.routing.hotline.operator_presses_key:
        _operator_answered(parent_call_sid())
        speak(response, said)
        return twiml_response(response)
    gather = Gather(input="dtmf", num_digits=1, timeout=5, method="POST",
                    action=url_for(".whisper_accepted", department=key, parent=parent_call_sid()))
    for _ in range(2):  # twice: the first words may go unheard as the phone is lifted
        speak(gather, said)
        speak(gather, prompts.say("whisper_accept"))
    response.append(gather)
    response.hangup()  # no key: not a person
    return twiml_response(response)


@bp.post("/whisper-accepted/<department>")
def whisper_accepted(department: str):
    """The operator's key: an empty answer puts the caller through."""
    parent, response = request.args.get("parent", ""), VoiceResponse()
    if not request.form.get("Digits"):
        response.hangup()
        return twiml_response(response)
    if is_call_sid(parent):  # ours, signed by Twilio's request: a person is put through regardless
        _operator_answered(parent)
    return twiml_response(response)


def _operator_answered(parent: str) -> None:
    target, now = request.form.get("To", ""), appctx.now()
    appctx.call_events().record(lambda session: call_log.answered(session, parent, target, now))


@bp.post("/dial-status/<department>")
def dial_status(department: str):
    lang, key = call_lang(), department_or_fallback(department)
    response = VoiceResponse()
    # Twilio says "completed" for an operator's leg that was answered but never put through
    # (the whisper got no key): only a bridged one is a conversation.
    if request.form.get("DialCallStatus", "") in DIAL_ANSWERED and request.form.get("DialBridged") != "false":
        talked = ascii_int(request.form.get("DialCallDuration"), max_digits=6) or 0
        log_call(call_log.dial_answered, talked)
        response.hangup()
        return twiml_response(response)
    speak(response, prompts_in(lang).say("operators_unavailable", department=department_name(key, lang)))
    return offer_callback(response, key, lang) or take_voicemail(response, key, lang)
