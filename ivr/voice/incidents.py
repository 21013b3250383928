"""Outage notices on the phone: the message of an active incident, and joining it with one key.

Where the caller hears it: an incident that covers every department is announced right after
the greeting, before the menu (whatever the caller chooses, it concerns them); one that covers
only some departments is announced right after the caller chooses one of them, so that the
others' callers do not spend their minute on an outage that is not theirs. Either way the
caller may press ``JOIN_KEY`` to be registered with one keypress (a ticket, its number and
the SMS, linked to the incident, no recording), or stay on the line for the usual way. When
several incidents are active, the latest started is announced.

The notice comes from memory (``ivr.calls.incidents``): a slow database costs no caller any
time, and a database that is away means no notice. Joining writes a ticket, within the same
time limit as a voicemail; past it, the error handler takes a voicemail instead (which finds
the ticket by the CallSid if the late write lands).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import request, url_for
from twilio.twiml.voice_response import Gather, VoiceResponse

from .. import appctx, incidents
from ..calls import log as call_log
from ..calls.incidents import Notice
from ..deadlines import Deadline
from ..prompts import Utterance
from ..tickets.registration import terms_told
from ..twiml import speak, twiml_response
from .blueprint import bp
from .call_state import call_caller, call_lang, caller_textable, department_name, in_webhook_time, log_call, prompts_in
from .operators import route
from .voicemail import spoken_deadline, spoken_milestones, take_voicemail

JOIN_KEY = "1"


def announce_outage(response: VoiceResponse, lang: str) -> bool:
    """After the greeting: the notice of an incident covering every department, with the offer
    to join; True when one was appended (the menu follows if the caller does not join)."""
    departments = appctx.hotline().routing.departments
    return _announce(response, lang, None, lambda n: n.departments.issuperset(departments))


def route_with_notice(
    response: VoiceResponse, key: str, lang: str, told_all_closed: bool = False, announced: bool = False,
):
    """After the department was chosen: the notice of an incident covering it (but not every
    department: that one was heard after the greeting), else the department's usual way."""
    departments = appctx.hotline().routing.departments
    if _announce(response, lang, key, lambda n: key in n.departments and not n.departments.issuperset(departments)):
        log_call(call_log.department_chosen, key, lang)
        return twiml_response(response)
    return route(response, key, lang, told_all_closed, announced)


def _announce(response: VoiceResponse, lang: str, department: str | None, concerns: Callable[[Notice], bool]) -> bool:
    notice = next((n for n in appctx.incidents().active(appctx.now()) if concerns(n)), None)
    if notice is None:
        return False
    prompts = prompts_in(lang)
    message = notice.messages.get(lang) or next(iter(notice.messages.values()), "")
    action = url_for(".incident_key", incident=notice.id, lang=lang, department=department)
    gather = Gather(input="dtmf", num_digits=1, timeout=5, action=action, method="POST")
    speak(gather, Utterance(message, prompts.voice, prompts.language))
    speak(gather, prompts.say("incident_join_offer", digit=JOIN_KEY))
    response.append(gather)
    response.redirect(action, method="POST")  # nothing pressed: on to the usual way
    return True


@bp.post("/incident/<int:incident>")
def incident_key(incident: int):
    """What the caller did after the notice: joined, pressed another key, or waited."""
    routing = appctx.hotline().routing
    lang, digits = call_lang(), request.form.get("Digits", "")
    chosen = request.args.get("department")
    key = chosen if chosen in routing.departments else None
    response = VoiceResponse()
    if digits == JOIN_KEY:
        return _join(response, incident, key, lang)
    if key is not None:
        return route(response, key, lang)
    from . import menu  # the menu module calls this one: imported here, once both are loaded

    if digits:
        return menu.menu()  # a caller who knows the menu pressed their department's key
    menu.append_menu_start(response, lang)
    return twiml_response(response)


@dataclass(frozen=True)
class _Joined:
    number: str
    department: str
    deadline: Deadline
    milestones: dict[str, Deadline]


def _join(response: VoiceResponse, incident: int, key: str | None, lang: str):
    hotline, database, now = appctx.hotline(), appctx.database(), appctx.now()
    call_sid, caller, sms = request.form["CallSid"], call_caller().e164, caller_textable()

    def register() -> _Joined | None:
        with database.session() as session, session.begin():
            ticket = incidents.join(
                session, hotline, incident, call_sid=call_sid, department=key, caller=caller,
                sms_to=sms or None, language=lang, now=now,
            )
            if ticket is None:
                return None
            return _Joined(ticket.number, ticket.department, *terms_told(ticket))

    # Late or failed, it raises: the error handler apologises and takes a voicemail.
    joined = in_webhook_time(register)
    prompts = prompts_in(lang)
    if joined is None:  # closed since the caller heard it: the usual way
        if key is not None:
            return take_voicemail(response, key, lang)
        from . import menu

        menu.append_menu_start(response, lang)
        return twiml_response(response)
    log_call(call_log.department_chosen, joined.department, lang)
    log_call(call_log.voicemail_left)
    speak(response, prompts.say("incident_joined" if sms else "incident_joined_no_sms"))
    speak(response, prompts.say(
        "ticket_registered", ticket=prompts.spelled(joined.number), deadline=spoken_deadline(prompts, joined.deadline),
        department=department_name(joined.department, lang), **spoken_milestones(prompts, joined.milestones),
    ))
    speak(response, prompts.say("goodbye", company=hotline.routing.hotline.company))
    response.hangup()
    return twiml_response(response)


