"""A caller's complaints on the phone: right after the greeting, a caller whose mobile number has
a complaint open (or closed in the last 30 days) hears its state and may add a message to it,
register a new one, or go on to the menu. A caller with no such number (a landline, a withheld
one) keys a complaint's number in from the menu; nothing is read out to them without it.

The database is asked with a short bound: a caller is never kept waiting on it before the menu,
and when it is slow the status is simply not told.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, request, url_for
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import Gather, VoiceResponse

from .. import appctx
from ..bounded import Late
from ..calls import log as call_log
from ..inputs import ascii_int, has_control_characters, matches
from ..states import TicketStatus
from ..tickets.callers import MessageReport, TicketState, attach_message, callers_tickets, keyed_ticket
from ..tickets.registration import RECORDING_STATUSES
from ..twiml import speak, twiml_response
from .arrival import Arrival
from .blueprint import bp
from .call_state import call_caller, call_lang, int_arg, log_call, prompts_in

log = logging.getLogger(__name__)
T = TypeVar("T")

# The keys, as the prompts status_offer and status_choices name them.
STATUS_KEY = 0
ADD_MESSAGE, NEW_COMPLAINT, NEXT_ONE = "1", "2", "3"
_TICKET_NUMBER = re.compile(r"[A-Za-z0-9]{1,12}-[0-9]{4}-[0-9]{1,12}")
_RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")


def _in_time(work: Callable[[Session], T], seconds: float, write: bool = False) -> T:
    """``work`` in a session of its own, waited for at most ``seconds`` (``ivr.bounded``):
    raises Late, or what ``work`` raised."""
    database = appctx.database()

    def run() -> T:
        if not write:
            with database.reading() as session:
                return work(session)
        with database.session() as session, session.begin():
            return work(session)

    return appctx.bounded_work().run(run, seconds)


def _lookup_seconds() -> float:
    return float(current_app.config["STATUS_LOOKUP_SECONDS"])


def status_key_free() -> bool:
    """The status key is offered unless routing.yaml gave it to a department or a language."""
    routing = appctx.hotline().routing
    return routing.department_for_digit(STATUS_KEY) is None and STATUS_KEY not in routing.language_keys.values()


def _callers_tickets(number: str) -> list[TicketState] | None:
    """The caller's complaints, or None when the database did not answer in time."""
    hotline, now, database = appctx.hotline(), appctx.now(), appctx.database()

    def lookup() -> list[TicketState]:
        with database.reading_connection() as connection:  # one Core statement: no ORM session
            return callers_tickets(connection, hotline, number, now)

    try:
        return appctx.bounded_work().run(lookup, _lookup_seconds())
    except Exception as exc:
        log.warning("status of %s skipped: the database did not answer (%s)", number, exc)
        return None


# -- right after the greeting -----------------------------------------------------------------

def tell_status(response: VoiceResponse, arrival: Arrival) -> bool:
    """An incoming step: the state of the caller's nearest complaint, then their choice."""
    if not arrival.caller.can_receive_sms:
        return False  # a landline may be shared, a withheld number is nobody's: they key a number in
    tickets = _callers_tickets(arrival.caller.e164 or "")
    if not tickets:
        return False
    _append_status(response, arrival.lang, tickets[0], index=0, more=len(tickets) > 1, keyed=False)
    return True


def spoken_number(number: str) -> str:
    """A ticket's last digits as the caller hears and keys them: "RC-2026-000123" -> "1 2 3"."""
    sequence = ascii_int(number.rsplit("-", 1)[-1], max_digits=12)
    return "" if sequence is None else " ".join(str(sequence))


def _append_status(response: VoiceResponse, lang: str, state: TicketState, index: int, more: bool, keyed: bool) -> None:
    prompts = prompts_in(lang)
    ticket = spoken_number(state.number)
    if state.open:
        tz = appctx.hotline().routing.timezone
        now = appctx.now()
        deadline = prompts.spoken_deadline(state.deadline, tz, now.astimezone(tz).date())
        late = now >= state.deadline.due_at  # due_at: the instant the term has expired
        speak(response, prompts.say("status_overdue" if late else "status_open", ticket=ticket, deadline=deadline))
    else:
        # What the customer was told, only to the number it was told to: a keyed number may be anyone's.
        outcome = "" if keyed else (state.outcome or "")[:400]
        key = "status_resolved" if state.status == TicketStatus.RESOLVED else "status_rejected"
        speak(response, prompts.say(key, ticket=ticket, outcome=outcome))
    if keyed and not state.belongs_to(call_caller().e164):
        # A keyed number may be anyone's: only its own numbers may add a message to it.
        response.redirect(url_for(".menu_start", lang=lang), method="POST")
        return
    if not state.open and not more:
        response.redirect(_menu_after(lang, keyed), method="POST")  # nothing to add to: the menu takes a new one
        return
    # A message is added to an open complaint only: on a closed one nobody would read it (a
    # customer who disagrees with the outcome makes a new complaint, from the menu).
    action = url_for(".status_choice", lang=lang, ticket=state.number, index=index, keyed=1 if keyed else None,
                     texted=1 if state.texted else None, open=1 if state.open else None)
    gather = Gather(input="dtmf", num_digits=1, timeout=5, action=action, method="POST")
    if state.open:
        speak(gather, prompts.say("status_choices"))
    if more:
        speak(gather, prompts.say("status_next"))
    response.append(gather)
    response.redirect(_menu_after(lang, keyed), method="POST")  # no key: the menu


def _menu_after(lang: str, keyed: bool) -> str:
    """The menu after a complaint's state. Told on arrival (found by the caller's number), it
    came before the notice of an outage on every department, which the menu then gives first;
    keyed in from the menu, it came after."""
    return url_for(".menu_start", lang=lang, notice=None if keyed else 1)


@bp.post("/status-choice")
def status_choice():
    lang, number, index = call_lang(), request.args.get("ticket", ""), int_arg("index", 0)
    digits, response = request.form.get("Digits", ""), VoiceResponse()
    if digits == ADD_MESSAGE and request.args.get("open") == "1" and matches(_TICKET_NUMBER, number):
        return _append_message_record(response, lang, number, _texted(), take=1)
    caller = call_caller()
    if digits == NEXT_ONE and request.args.get("keyed") != "1" and caller.can_receive_sms:
        tickets = _callers_tickets(caller.e164 or "") or []
        if index + 1 < len(tickets):
            _append_status(response, lang, tickets[index + 1], index + 1, more=index + 2 < len(tickets), keyed=False)
            return twiml_response(response)
    # A new complaint, or anything else: the menu, which takes one.
    response.redirect(_menu_after(lang, request.args.get("keyed") == "1"), method="POST")
    return twiml_response(response)


# -- a complaint's number keyed in ------------------------------------------------------------

def ask_ticket_number(response: VoiceResponse, lang: str, asked: int = 1):
    action = url_for(".status_number", lang=lang, asked=asked)
    gather = Gather(input="dtmf", finish_on_key="#", num_digits=12, timeout=8, action=action, method="POST")
    speak(gather, prompts_in(lang).say("status_number_request"))
    response.append(gather)
    response.redirect(url_for(".menu_start", lang=lang), method="POST")  # nothing keyed: the menu
    return twiml_response(response)


@bp.post("/status-number")
def status_number():
    """The digits of a complaint's number keyed in: its state, else asked once more, then the menu."""
    lang, asked, response = call_lang(), int_arg("asked", 1), VoiceResponse()
    digits, hotline = request.form.get("Digits", ""), appctx.hotline()
    try:
        state = _in_time(lambda session: keyed_ticket(session, hotline, digits), _lookup_seconds())
    except Exception as exc:
        log.warning("keyed complaint number not looked up: the database did not answer (%s)", exc)
        response.redirect(url_for(".menu_start", lang=lang), method="POST")
        return twiml_response(response)
    if state is not None:
        _append_status(response, lang, state, index=0, more=False, keyed=True)
        return twiml_response(response)
    speak(response, prompts_in(lang).say("status_number_unknown"))
    if asked < 2:
        return ask_ticket_number(response, lang, asked + 1)
    response.redirect(url_for(".menu_start", lang=lang), method="POST")
    return twiml_response(response)


# -- a message added to a complaint -----------------------------------------------------------

def _texted() -> bool:
    """Whether the complaint in the URL has an SMS number, as its state was read: the
    confirmation of a message is promised only then."""
    return request.args.get("texted") == "1"


def _append_message_record(response: VoiceResponse, lang: str, number: str, texted: bool, take: int):
    """The caller's message for a complaint; nothing heard, a second take, as for a voicemail."""
    prompts, hotline = prompts_in(lang), appctx.hotline().routing.hotline
    texted_arg = 1 if texted else None
    speak(response, prompts.say("message_instructions", ticket=spoken_number(number)))
    log_call(call_log.voicemail_reached)
    response.record(
        action=url_for(".message_recorded", lang=lang, ticket=number, texted=texted_arg), method="POST",
        recording_status_callback=url_for(".message_status", lang=lang, ticket=number),
        recording_status_callback_method="POST", recording_status_callback_event="completed absent failed",
        play_beep=True, finish_on_key="#", max_length=hotline.record_max_seconds,
        trim="trim-silence", timeout=10,
    )
    # Twilio comes here only when nothing was recorded.
    speak(response, prompts.say("voicemail_empty"))
    if take == 1:
        response.redirect(url_for(".message_record", lang=lang, ticket=number, texted=texted_arg), method="POST")
    else:
        speak(response, prompts.say("goodbye", company=hotline.company))
        response.hangup()
    return twiml_response(response)


@bp.post("/message-record")
def message_record():
    """The second take of a message, after a first one in which nothing was heard."""
    number = request.args.get("ticket", "")
    if not matches(_TICKET_NUMBER, number):
        response = VoiceResponse()
        response.redirect(url_for(".menu_start", lang=call_lang()), method="POST")
        return twiml_response(response)
    return _append_message_record(VoiceResponse(), call_lang(), number, _texted(), take=2)


def _message_report() -> MessageReport:
    """What Twilio said about the message; a field that is not what Twilio sends is left out."""
    form = request.form
    status = form.get("RecordingStatus", "completed")
    sid, url = form.get("RecordingSid", ""), form.get("RecordingUrl", "")
    return MessageReport(
        call_sid=form["CallSid"], ticket_number=request.args.get("ticket", "")[:32], caller=call_caller().e164,
        recording_sid=sid if matches(_RECORDING_SID, sid) else None,
        recording_url=url if url.startswith("https://") and len(url) <= 300 and not has_control_characters(url) else None,
        recording_duration=ascii_int(form.get("RecordingDuration"), max_digits=5),
        recording_status=status if status in RECORDING_STATUSES else "failed",
    )


def _attach(report: MessageReport) -> bool | None:
    """Whether the message is on its ticket now (the database answered in time and knows the
    ticket); None when the database did not answer in time: its transaction may still commit."""
    hotline, now = appctx.hotline(), appctx.now()
    seconds = float(current_app.config["WEBHOOK_DATABASE_SECONDS"])
    try:
        return _in_time(lambda session: attach_message(session, hotline, report, now) is not None, seconds, write=True)
    except Late:
        log.error("message of CallSid %s not attached in time", report.call_sid, extra={"ticket": report.ticket_number})
        return None
    except Exception:
        log.exception("message of CallSid %s not attached", report.call_sid, extra={"ticket": report.ticket_number})
        return False


@bp.post("/message-recorded")
def message_recorded():
    """The <Record> action of a message for a complaint: attach it and tell the caller."""
    lang, report, response = call_lang(), _message_report(), VoiceResponse()
    prompts = prompts_in(lang)
    attached = _attach(report)
    if attached is not False:  # a voice message left, as a voicemail is (a late one may be saved yet)
        log_call(call_log.voicemail_left)
    if attached:
        speak(response, prompts.say("message_added", ticket=spoken_number(report.ticket_number)))
    elif attached is False:
        speak(response, prompts.say("message_not_added"))
    else:  # late, it may be saved yet (its confirming SMS tells, if it has an SMS number): never "not saved"
        speak(response, prompts.say("message_unconfirmed" if _texted() else "message_unconfirmed_no_sms"))
    speak(response, prompts.say("goodbye", company=appctx.hotline().routing.hotline.company))
    response.hangup()
    return twiml_response(response)


@bp.post("/message-status")
def message_status():
    """Twilio's recordingStatusCallback for a message: attaches it if the action did not."""
    report = _message_report()
    if report.recording_status == "absent" or _attach(report):
        return "", 204
    return "temporarily unavailable", 503
