"""The start of a call: the greeting, the steps before the menu, and the menu, by key or by
voice, and the way to a department."""

from __future__ import annotations

from typing import NamedTuple

from flask import current_app, request, url_for
from twilio.twiml.voice_response import Gather, VoiceResponse

from .. import appctx
from ..inputs import ascii_int, spoken_words
from ..phone import Caller
from ..twiml import speak, twiml_response
from . import status
from .arrival import Arrival, IncomingStep
from .blueprint import bp
from .call_state import call_caller, call_lang, department_name, int_arg, log_arrival, prompts_in
from .incidents import announce_outage, route_with_notice
from .prebuilt import append_prebuilt


def greet(response: VoiceResponse, arrival: Arrival) -> bool:
    append_prebuilt(response, ("greeting", arrival.lang), lambda verbs: _greeting(verbs, arrival.lang))
    return False


def _greeting(response: VoiceResponse, lang: str) -> None:
    prompts, company = prompts_in(lang), appctx.hotline().routing.hotline.company
    speak(response, prompts.say("greeting", company=company))
    speak(response, prompts.say("recording_notice", company=company))


def _say(response: VoiceResponse, lang: str, key: str) -> None:
    """A prompt that has no values to fill in: the same words in every call."""
    append_prebuilt(response, ("say", lang, key), lambda verbs: speak(verbs, prompts_in(lang).say(key)))


def offer_menu(response: VoiceResponse, arrival: Arrival) -> bool:
    append_menu_start(response, arrival.lang)
    return True


def tell_outage(response: VoiceResponse, arrival: Arrival) -> bool:
    """An incident that covers every department: its notice and the offer to join it."""
    return announce_outage(response, arrival.lang)


# What a caller hears on arrival, in order: each step may end the answer (see IncomingStep).
INCOMING_STEPS: tuple[IncomingStep, ...] = (greet, status.tell_status, tell_outage, offer_menu)


@bp.post("/incoming")
def incoming():
    caller = call_caller()
    arrival = Arrival(caller, appctx.hotline().language_for(caller))
    log_arrival(caller.e164, arrival.lang)
    response = VoiceResponse()
    for step in INCOMING_STEPS:
        if step(response, arrival):
            break
    return twiml_response(response)


@bp.post("/menu-start")
def menu_start():
    """The menu from its start, for a step before it that ends with the caller choosing it;
    with ``notice=1``, a step before the notice of an outage on every department, given first."""
    response, lang = VoiceResponse(), call_lang()
    if request.args.get("notice") == "1" and announce_outage(response, lang):
        return twiml_response(response)
    append_menu_start(response, lang)
    return twiml_response(response)


def append_menu_start(response: VoiceResponse, lang: str) -> None:
    """The menu, after saying once that every department is closed when it is so: the caller
    is not told again after the choice."""
    closed = _all_closed()
    if closed:
        _say(response, lang, "all_closed")
    _append_menu(response, lang, attempt=1, told_all_closed=closed)


_ALL_CLOSED = "ivr.all_closed"  # (configuration, minute, answer): the last minute's answer


def _all_closed() -> bool:
    """Whether no department is open now: decided once a minute, as opening hours are in minutes."""
    hotline, now = appctx.hotline(), appctx.now()
    minute = now.replace(second=0, microsecond=0)
    kept = current_app.extensions.get(_ALL_CLOSED)
    if kept is None or kept[0] is not hotline or kept[1] != minute:
        routing = hotline.routing
        kept = (hotline, minute, not any(routing.schedule(key).is_open(now) for key in routing.departments))
        current_app.extensions[_ALL_CLOSED] = kept
    return kept[2]


def offers_language(caller: Caller) -> bool:
    """Whether the caller's number suggests another language: a foreign or a withheld number
    (a Romanian number is answered in Romanian and is not offered a switch)."""
    return caller.region is None or caller.region != appctx.hotline().routing.hotline.holidays


class _Menu(NamedTuple):
    """Everything a menu depends on besides the configuration."""

    lang: str
    attempt: int
    told_all_closed: bool
    status_offer: bool      # the caller has no number to find their complaints by: they may key one in
    language_offer: bool    # the caller's number suggests another language

    @property
    def offers(self) -> str | None:
        """The offers as the menu's URL carries them to the next step: "s", "l", "sl" or none."""
        return ("s" if self.status_offer else "") + ("l" if self.language_offer else "") or None


def _append_menu(response: VoiceResponse, lang: str, attempt: int, told_all_closed: bool = False) -> None:
    """The menu for the caller in Twilio's ``From``, at the call's first menu."""
    caller = call_caller()
    status_offer = not caller.can_receive_sms and status.status_key_free()
    _append(response, _Menu(lang, attempt, told_all_closed, status_offer, offers_language(caller)))


def _append_menu_again(response: VoiceResponse, lang: str, attempt: int, told_all_closed: bool) -> None:
    """The menu once more, with the offers the last one made: its URL carries them (Twilio
    signed it), so a menu step does not read the caller's number again."""
    offers = request.args.get("offers", "")
    offers = offers if set(offers) <= {"s", "l"} else ""
    menu = _Menu(lang, attempt, told_all_closed, "s" in offers and status.status_key_free(), "l" in offers)
    _append(response, menu)


def _append(response: VoiceResponse, menu: _Menu) -> None:
    append_prebuilt(response, ("menu", menu), lambda verbs: _build_menu(verbs, menu))


def _build_menu(response: VoiceResponse, menu: _Menu) -> None:
    routing, lang, prompts = appctx.hotline().routing, menu.lang, prompts_in(menu.lang)
    action = url_for(".menu", lang=lang, attempt=menu.attempt, closed=1 if menu.told_all_closed else None,
                     offers=menu.offers)
    departments = sorted(routing.departments.items(), key=lambda item: item[1].digit)
    hints = [word for _, d in departments for word in [d.name[lang], *d.keywords.get(lang, [])]]
    gather = Gather(
        input="dtmf speech", num_digits=1, timeout=6, action=action, method="POST",
        language=prompts.language, hints=", ".join(hints), speech_timeout="auto",
    )
    for key, dept in departments:
        speak(gather, prompts.say("menu_option", department=dept.name[lang], digit=dept.digit))
    if menu.status_offer:
        speak(gather, prompts.say("status_offer"))
    if menu.language_offer:
        for other, digit in routing.language_keys.items():
            if other != lang:
                speak(gather, prompts_in(other).say("language_offer", digit=digit))
    response.append(gather)
    response.redirect(action, method="POST")  # reached only when the caller pressed nothing


def _said(keyword: list[str], heard: list[str]) -> bool:
    """Whether ``heard`` has the keyword's words in a row, each spoken word beginning with its
    keyword's: Romanian adds endings ("cont" is in "contul meu"), but "cont" is not in "încontinuu"."""
    n = len(keyword)
    return n > 0 and any(all(heard[i + j].startswith(keyword[j]) for j in range(n)) for i in range(len(heard) - n + 1))


def _spoken_department(speech: str, lang: str) -> str | None:
    heard = spoken_words(speech)
    for key, dept in appctx.hotline().routing.departments.items():
        if any(_said(spoken_words(w), heard) for w in [dept.name.get(lang, ""), *dept.keywords.get(lang, [])]):
            return key
    return None


# A spoken key is a short answer ("doi", "tasta doi", "apăs 2"): in a longer one, a number
# word is more likely part of the complaint ("am două facturi") than a choice.
_MOST_WORDS_FOR_A_KEY = 3


def _spoken_digit(speech: str, lang: str) -> int | None:
    """The key a caller said rather than pressed: one numeral or one of prompts' ``digits`` words."""
    heard = spoken_words(speech)
    if not heard or len(heard) > _MOST_WORDS_FOR_A_KEY:
        return None
    words = prompts_in(lang).digit_words
    said = {int(w) if w.isdecimal() and len(w) == 1 else words.get(w) for w in heard} - {None}
    return said.pop() if len(said) == 1 else None


@bp.post("/menu")
def menu():
    routing = appctx.hotline().routing
    lang, attempt = call_lang(), int_arg("attempt", 1)
    told_all_closed = request.args.get("closed") == "1"
    speech = request.form.get("SpeechResult", "")[:500]
    response = VoiceResponse()
    spoken = _spoken_department(speech, lang)
    if spoken:
        return route_with_notice(response, spoken, lang, told_all_closed)
    digit = ascii_int(request.form.get("Digits", ""), max_digits=1)
    digit = _spoken_digit(speech, lang) if digit is None else digit
    if digit is not None:
        chosen = routing.department_for_digit(digit)
        if chosen:
            return route_with_notice(response, chosen, lang, told_all_closed)
        if digit == status.STATUS_KEY and status.status_key_free():
            return status.ask_ticket_number(response, lang)
        switch_to = next((l for l, d in routing.language_keys.items() if d == digit), None)
        if switch_to and switch_to != lang:
            if told_all_closed:  # heard in a language the caller asked to leave
                _say(response, switch_to, "all_closed")
            _append_menu_again(response, switch_to, attempt, told_all_closed)  # switching language is not a miss
            return twiml_response(response)
    prompts = prompts_in(lang)
    if attempt >= routing.hotline.menu_attempts:
        fallback = routing.hotline.fallback
        speak(response, prompts.say("menu_fallback", department=department_name(fallback, lang)))
        return route_with_notice(response, fallback, lang, told_all_closed, announced=True)
    _say(response, lang, "menu_invalid")
    _append_menu_again(response, lang, attempt + 1, told_all_closed)
    return twiml_response(response)
