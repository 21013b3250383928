"""The start of a call: the greeting and the menu, by key or by voice, and the way to a department."""

from __future__ import annotations

import unicodedata

from flask import request, url_for
from twilio.twiml.voice_response import Gather, VoiceResponse

from .. import appctx
from ..calls import log as call_log
from ..inputs import ascii_int
from ..twiml import speak, twiml_response
from .blueprint import bp
from .incidents import announce_outage, route_with_notice
from .call_state import call_caller, call_lang, department_name, int_arg, log_call, prompts_in


@bp.post("/incoming")
def incoming():
    hotline = appctx.hotline()
    lang = hotline.language_for(call_caller())
    prompts, company = prompts_in(lang), hotline.routing.hotline.company
    log_call(call_log.call_started, call_caller().e164, lang)
    response = VoiceResponse()
    speak(response, prompts.say("greeting", company=company))
    speak(response, prompts.say("recording_notice", company=company))
    if announce_outage(response, lang):
        return twiml_response(response)
    _append_menu(response, lang, attempt=1)
    return twiml_response(response)


def _append_menu(response: VoiceResponse, lang: str, attempt: int) -> None:
    routing, prompts = appctx.hotline().routing, prompts_in(lang)
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
            speak(gather, prompts_in(other).say("language_offer", digit=digit))
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
    lang, attempt = call_lang(), int_arg("attempt", 1)
    digits = request.form.get("Digits", "")
    response = VoiceResponse()
    digit = ascii_int(digits, max_digits=1)
    if digit is not None:
        chosen = routing.department_for_digit(digit)
        if chosen:
            return route_with_notice(response, chosen, lang)
        switch_to = next((l for l, d in routing.language_keys.items() if str(d) == digits), None)
        if switch_to and switch_to != lang:
            _append_menu(response, switch_to, attempt)  # switching language is not a miss
            return twiml_response(response)
    spoken = _spoken_department(request.form.get("SpeechResult", "")[:500], lang)
    if spoken:
        return route_with_notice(response, spoken, lang)
    prompts = prompts_in(lang)
    if attempt >= routing.hotline.menu_attempts:
        fallback = routing.hotline.fallback
        speak(response, prompts.say("menu_fallback", department=department_name(fallback, lang)))
        return route_with_notice(response, fallback, lang)
    speak(response, prompts.say("menu_invalid"))
    _append_menu(response, lang, attempt + 1)
    return twiml_response(response)
