"""Reconcile with Twilio: every voicemail Twilio recorded becomes a ticket, even one the hotline
never heard about (a lost host, a database restored from an old backup).

Safe to run again and again (from cron): keyed on the CallSid like every registration, so a
call that has a ticket is left as it is. What Twilio does not keep is guessed and said so in
the ticket's history: the caller's menu choice (the ``fallback`` department) and language
(from the caller's number), and a mobile number keyed in for the SMS (the caller's own
number is used when it can receive one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..db import Database
from ..inputs import matches
from ..phone import caller_from, sms_recipient
from ..settings import HotlineConfig
from ..tickets.registration import VoicemailReport, find_by_call, register_voicemail
from .twilio_recordings import RecordingSource, TwilioCall, TwilioRecording

SOURCE = "reconcile"
# <Record> makes the hotline's voicemails; <Dial record>, conferences and call recordings are not complaints.
VOICEMAIL_SOURCE = "RecordVerb"
# The webhooks (or the journal's replay) register a voicemail within seconds and know the caller's
# choices; a reconcile that raced them would win with guesses. Younger recordings are left to them.
DEFAULT_MIN_AGE = timedelta(minutes=15)
# The SID goes into a URL path (the call's fetch) and into tickets.call_sid: nothing else passes.
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")


@dataclass(frozen=True)
class RecoveredTicket:
    """A ticket this reconcile registered."""

    number: str
    call_sid: str
    caller: str | None
    sms_to: str | None
    department: str
    registered_at: datetime


@dataclass
class ReconcileResult:
    """What a run saw: every recording listed falls in exactly one of the counts, or registered
    a ticket (``registered``). A later take of a call counts as having a ticket."""

    seen: int = 0
    had_ticket: int = 0
    not_voicemail: int = 0   # another source, not completed, or not an inbound call to the hotline
    too_recent: int = 0      # left to the webhooks (younger than min_age)
    journaled: int = 0       # left to the journal's replay, which knows the caller's choices
    registered: list[RecoveredTicket] = field(default_factory=list)


def reconcile(
    database: Database,
    hotline: HotlineConfig,
    twilio: RecordingSource,
    clock: Callable[[], datetime],
    since: datetime,
    called_numbers: Collection[str] = (),
    min_age: timedelta = DEFAULT_MIN_AGE,
    journaled: Collection[str] = (),
) -> ReconcileResult:
    """Register every voicemail recorded since ``since`` whose call has no ticket.

    ``called_numbers`` (E.164), when given, keeps only calls to those numbers: an account may
    host other applications that record with <Record>. Each ticket is registered at the time
    its recording was made, in its own transaction, so a failure halfway keeps what was done
    and the next run resumes. A call in ``journaled`` (CallSids whose report waits in the journal,
    say while another process replays it) is left to the replay: its report has the caller's
    department and SMS number, which a reconciled ticket would only guess. Raises
    ``TwilioApiError`` when Twilio cannot be read.
    """
    now = clock()
    result = ReconcileResult()
    # Oldest first: ticket numbers follow the order callers spoke, and a call's first take wins.
    listed = sorted(twilio.recordings_since(since), key=_creation_time)
    for recording in listed:
        if recording.date_created is not None and recording.date_created < since:
            continue  # Twilio's filter may work on whole days
        result.seen += 1
        if not _is_voicemail(recording):
            result.not_voicemail += 1
        elif recording.date_created > now - min_age:
            result.too_recent += 1
        elif recording.call_sid in journaled:
            result.journaled += 1
        elif _has_ticket(database, recording.call_sid):
            result.had_ticket += 1
        else:
            _register(database, hotline, twilio, recording, now, called_numbers, result)
    return result


def _creation_time(recording: TwilioRecording) -> datetime:
    return recording.date_created or datetime.min.replace(tzinfo=timezone.utc)


def _is_voicemail(recording: TwilioRecording) -> bool:
    return (
        recording.source == VOICEMAIL_SOURCE and recording.status == "completed"
        and matches(_CALL_SID, recording.call_sid) and recording.date_created is not None
    )


def _has_ticket(database: Database, call_sid: str) -> bool:
    with database.session() as session:
        return find_by_call(session, call_sid) is not None


def _register(
    database: Database, hotline: HotlineConfig, twilio: RecordingSource, recording: TwilioRecording,
    now: datetime, called_numbers: Collection[str], result: ReconcileResult,
) -> None:
    # Asked outside any transaction: the database is not held while Twilio answers.
    call = twilio.call(recording.call_sid)
    if call.direction != "inbound" or (called_numbers and call.called not in called_numbers):
        result.not_voicemail += 1
        return
    report = _report(hotline, recording, call, now)
    with database.session() as session, session.begin():
        ticket = register_voicemail(session, hotline, report, recording.date_created)
        recovered = any(event.kind == "recovered" for event in ticket.events)
        entry = RecoveredTicket(
            ticket.number, ticket.call_sid, ticket.caller, ticket.sms_to, ticket.department, ticket.registered_at
        )
    if recovered:
        result.registered.append(entry)
    else:  # a webhook or the journal registered it in the meantime (another reconcile would count it too)
        result.had_ticket += 1


def _report(hotline: HotlineConfig, recording: TwilioRecording, call: TwilioCall, now: datetime) -> VoicemailReport:
    routing = hotline.routing
    caller = caller_from(call.caller, routing.hotline.holidays)
    language, department = hotline.language_for(caller), routing.hotline.fallback
    sms_to = sms_recipient(caller, routing.hotline.sms_countries)
    # The caller's menu choice and language are not known: the department and language are guesses.
    recovered = {"recording": recording.sid, "at": now.astimezone(timezone.utc).isoformat(),
                 "department": department, "language": language, "sms": sms_to is not None}
    return VoicemailReport(
        call_sid=recording.call_sid, department=department, language=language,
        caller=caller.e164, sms_to=sms_to,
        recording_sid=recording.sid, recording_url=recording.url, recording_duration=recording.duration,
        recording_status="completed", source=SOURCE, recovered=recovered,
    )
