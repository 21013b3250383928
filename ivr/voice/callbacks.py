"""A callback instead of a voicemail: during hours, when no operator answers, the caller may
press a key to be called back, at their own number or at one they key in.

Offered only when routing.yaml sets ``hotline.callback_within`` and the hotline's own number
(the call's ``To``) can show as the callback's caller ID. A number is called back only in
``sms_countries`` (a call abroad costs money, and a caller ID can name any country); a landline
is called back too, but the SMS goes to a mobile only. Whatever goes wrong here, a database
that fails or does not answer within WEBHOOK_DATABASE_SECONDS included, ends in the voice
blueprint's error handler, which takes the complaint as a voicemail for the department instead.
"""

from __future__ import annotations

from flask import request, url_for
from twilio.twiml.voice_response import Gather, VoiceResponse

from .. import appctx
from ..callbacks import CallbackRequest, request_callback
from ..calls import log as call_log
from ..deadlines import Deadline
from ..phone import Caller, caller_from, personal_number
from ..tickets.registration import terms_told
from ..twiml import speak, twiml_response
from .blueprint import bp
from .call_state import (
    call_caller, call_lang, department_name, department_or_fallback, in_webhook_time, int_arg, log_call, prompts_in, textable,
)
from .voicemail import spoken_deadline, spoken_milestones, take_voicemail

AT_THIS_NUMBER, AT_ANOTHER_NUMBER = "1", "2"


def offer_callback(response: VoiceResponse, key: str, lang: str):
    """Offer a callback before the voicemail; None when callbacks are not offered on this call."""
    if appctx.hotline().routing.hotline.callback_span is None or not _hotline_number():
        return None
    own = _callable(call_caller())
    action = url_for(".callback_choice", department=key, lang=lang)
    gather = Gather(input="dtmf", num_digits=1, timeout=6, action=action, method="POST")
    speak(gather, prompts_in(lang).say("callback_offer" if own else "callback_offer_keyed"))
    response.append(gather)
    response.redirect(action, method="POST")  # nothing pressed: the voicemail
    return twiml_response(response)


@bp.post("/callback/<department>")
def callback_choice(department: str):
    lang, key = call_lang(), department_or_fallback(department)
    digits, own = request.form.get("Digits", ""), _callable(call_caller())
    response = VoiceResponse()
    if digits == AT_THIS_NUMBER and own:
        return _register(response, key, lang, own)
    if digits == AT_ANOTHER_NUMBER and own or digits == AT_THIS_NUMBER:
        _append_number_request(response, key, lang, asked=1)
        return twiml_response(response)
    return take_voicemail(response, key, lang)


def _append_number_request(response: VoiceResponse, key: str, lang: str, asked: int) -> None:
    action = url_for(".callback_number", department=key, lang=lang, asked=asked)
    gather = Gather(input="dtmf", finish_on_key="#", timeout=8, num_digits=16, action=action, method="POST")
    speak(gather, prompts_in(lang).say("callback_number_request"))
    response.append(gather)
    response.redirect(action, method="POST")


@bp.post("/callback-number/<department>")
def callback_number(department: str):
    """The number a caller keyed in to be called back at: re-asked once, then the voicemail."""
    lang, key, asked = call_lang(), department_or_fallback(department), int_arg("asked", 1)
    response = VoiceResponse()
    number = _callable(_keyed(request.form.get("Digits", "")))
    if number:
        return _register(response, key, lang, number)
    speak(response, prompts_in(lang).say("callback_number_invalid"))
    if asked < 2:
        _append_number_request(response, key, lang, asked=asked + 1)
        return twiml_response(response)
    return take_voicemail(response, key, lang)


def _register(response: VoiceResponse, key: str, lang: str, number: str):
    hotline, now = appctx.hotline(), appctx.now()
    caller = call_caller()
    wanted = CallbackRequest(
        call_sid=request.form["CallSid"], department=key, language=lang, caller=caller.e164, number=number,
        sms_to=textable(number) or textable(caller.e164) or None, hotline_number=_hotline_number(),
    )
    database = appctx.database()

    def register() -> tuple[str, Deadline, dict[str, Deadline]]:
        with database.session() as session, session.begin():
            ticket = request_callback(session, hotline, wanted, now)
            return ticket.number, *terms_told(ticket)

    # Late or failed, it raises: the error handler apologises and takes a voicemail, which a late
    # commit's ticket then receives (one ticket per call).
    ticket_number, deadline, milestones = in_webhook_time(register)
    log_call(call_log.voicemail_left)  # the call left a complaint without an operator, as a voicemail does
    prompts = prompts_in(lang)
    speak(response, prompts.say("callback_registered", ticket=prompts.spelled(ticket_number),
                                department=department_name(key, lang), deadline=spoken_deadline(prompts, deadline),
                                **spoken_milestones(prompts, milestones)))
    speak(response, prompts.say("goodbye", company=hotline.routing.hotline.company))
    response.hangup()
    return twiml_response(response)


def _hotline_number() -> str:
    """The number the caller dialled, E.164: the callback shows it to the operator and the customer."""
    return caller_from(request.form.get("To"), appctx.hotline().routing.hotline.holidays).e164 or ""


def _callable(caller: Caller) -> str:
    """The number in E.164 if the hotline may call it back (a fixed line or a mobile of
    sms_countries: never a premium-rate or toll-free number, which a caller could key in), else ""."""
    countries = appctx.hotline().routing.hotline.sms_countries
    return caller.e164 if caller.e164 and caller.region in countries and personal_number(caller) else ""


def _keyed(digits: str) -> Caller:
    """Digits keyed in ("0722123456", "0040722123456", "021...") read as a phone number."""
    text = digits.strip().rstrip("#")
    if not text.isascii() or not text.isdigit() or len(text) > 17:
        return Caller(None, None, False)
    return caller_from("+" + text[2:] if text.startswith("00") else text, appctx.hotline().routing.hotline.holidays)
