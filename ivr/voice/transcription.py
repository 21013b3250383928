"""Transcribing the voicemail in the caller's language with Twilio Real-Time Transcription.

Twilio's recording transcription (``<Record transcribe>``) knows English only. When
routing.yaml's ``hotline.transcription`` is on, ``<Start><Transcription>`` goes right before
the ``<Record>``: it forks the caller's audio (``track="inbound_track"``) to a speech-to-text
engine in the prompts' language (``languageCode``: ro-RO, en-GB) and posts what it hears to
``statusCallbackUrl``, the signed webhook below. ``<Stop><Transcription name>`` ends it once
the recording has ended (else it would run, and be charged, until the call ends).

What Twilio's documentation says, and this module relies on (read 2026-11):

- twilio.com/docs/voice/twiml/transcription: ``<Transcription>`` is nested in ``<Start>``;
  its attributes include ``name`` (what ``<Stop><Transcription name>`` stops it by),
  ``track`` (inbound_track | outbound_track | both_tracks), ``statusCallbackUrl``,
  ``languageCode`` (BCP-47), ``partialResults``, ``transcriptionEngine``, ``speechModel``,
  ``profanityFilter``, ``hints`` (as TwilioDevEd/api-snippets and twilio-python's
  ``Start.transcription`` write them). The Calls/Transcriptions resource: the ``name`` "may be
  used to stop the Transcription". Real-Time
  Transcriptions are not stored by Twilio (unless given an Intelligence Service): the status
  callback is the only copy, so the hotline keeps it.
- The status callback (same page, section statusCallbackUrl): every event has ``AccountSid``,
  ``CallSid``, ``TranscriptionSid`` (GT + 32 hex, as in the Calls/Transcriptions resource),
  ``Timestamp``, ``SequenceId`` (the event's number within the transcription) and
  ``TranscriptionEvent``, one of ``transcription-started``, ``transcription-content``,
  ``transcription-stopped``, ``transcription-error``. A content event adds ``Track`` and
  ``TranscriptionData``, JSON whose ``transcript`` is the text (these names as handlers written
  against the callback, found in public code, read them). The page also gives
  ``LanguageCode``, ``confidence`` in TranscriptionData, ``Final`` ("false" only for partial
  results, which are not asked for here) and, on an error, ``TranscriptionError`` and
  ``TranscriptionErrorCode``: the excerpts searched did not show these, so each is optional
  here (no Final counts as final, no confidence is None, an error without words says "error").
- twilio.com/docs/api/errors/17580: a 5xx (and 408, 425, 429) answer is retried up to three
  times, another 4xx is not; the transcription itself goes on either way. 17585: a callback
  URL that is not a well-formed http(s) URL gets no events at all.

Nobody is on the line for these callbacks: they answer 204, 400 for what Twilio never sends,
and 503 when the database cannot take the event (Twilio then tries again).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace

from flask import Blueprint, abort, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from .. import appctx
from ..inputs import ascii_int, has_control_characters, matches
from ..transcripts import MAX_SEGMENT_CHARS, TranscriptionEvent, record_event
from ..twilio_auth import require_call_sid, require_twilio_signature

log = logging.getLogger(__name__)
bp = Blueprint("transcription", __name__, url_prefix="/voice")
bp.before_request(require_twilio_signature)
bp.before_request(require_call_sid)

NAME = "voicemail"  # one transcription per call: <Stop> finds it by this name
_TRANSCRIPTION_SID = re.compile(r"GT[0-9a-fA-F]{32}")
_LANGUAGE_CODE = re.compile(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8}){0,2}")
_EVENTS = {
    "transcription-started": "started", "transcription-content": "content",
    "transcription-stopped": "stopped", "transcription-error": "error",
}


def transcribing() -> bool:
    return appctx.hotline().routing.hotline.transcription


def transcribe_voicemail(response: VoiceResponse, lang: str, take: int) -> str | None:
    """``<Start><Transcription>`` before the first take's ``<Record>``, when enabled (a second take
    is heard by the same transcription). The value for the URLs' ``tr`` while one runs, else None:
    ``<Stop>`` is only sent for a transcription that was started."""
    if not transcribing():
        return None
    if take != 1:
        return "1" if request.args.get("tr") == "1" else None
    start_transcription(response, lang)
    return "1"


def start_transcription(response: VoiceResponse, lang: str) -> None:
    """``<Start><Transcription>`` of the caller's side in ``lang``'s language code."""
    response.start().transcription(
        name=NAME, track="inbound_track", language_code=appctx.hotline().prompt_set(lang).language,
        status_callback_url=_callback_url(), status_callback_method="POST",
        partial_results=False,
    )


def _callback_url() -> str:
    """Absolute, as Twilio requires of statusCallbackUrl (error 17585), and on IVR_PUBLIC_URL when
    set: the URL Twilio signs must be the one the signature check rebuilds."""
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return public.rstrip("/") + url_for("transcription.status")[len(request.script_root):]
    return url_for("transcription.status", _external=True)


def stop_transcription(response: VoiceResponse) -> None:
    """``<Stop><Transcription>`` after the recording, when one was started (``tr`` in the action's
    URL): what the caller hears next is not the complaint, and Twilio charges for the time."""
    if transcribing() and request.args.get("tr") == "1":
        response.stop().transcription(name=NAME)


@bp.post("/transcription")
def status():
    """Twilio's Real-Time Transcription status callback."""
    event = _event()
    if event is not None:
        with appctx.database().session() as session, session.begin():
            record_event(session, event)
    return "", 204


def _event() -> TranscriptionEvent | None:
    """The callback as a TranscriptionEvent; None for one that holds nothing to keep
    (an event we do not know, a partial result, an empty transcript)."""
    form = request.form
    kind = _EVENTS.get(form.get("TranscriptionEvent", ""))
    if kind is None:
        return None
    sid, sequence = form.get("TranscriptionSid", ""), ascii_int(form.get("SequenceId"), max_digits=9)
    if not matches(_TRANSCRIPTION_SID, sid) or sequence is None:
        abort(400, "a transcription event needs a TranscriptionSid and a SequenceId")
    language = form.get("LanguageCode", "")
    event = TranscriptionEvent(
        kind=kind, call_sid=form["CallSid"], transcription_sid=sid, sequence_id=sequence, at=appctx.now(),
        language=language if matches(_LANGUAGE_CODE, language) else None,
    )
    if kind == "content":
        if form.get("Final", "true").lower() != "true":
            return None
        text, confidence = _transcript(form.get("TranscriptionData", ""))
        return replace(event, text=text, confidence=confidence) if text else None
    if kind == "error":
        words = _clean(form.get("TranscriptionError", ""))[:500]
        code = ascii_int(form.get("TranscriptionErrorCode"), max_digits=6)
        error = " ".join(part for part in (words, f"({code})" if code is not None else "") if part) or "error"
        return replace(event, error=error)
    return event


def _transcript(data: str) -> tuple[str | None, float | None]:
    """The transcript and confidence of TranscriptionData; (None, None) when it is not the JSON Twilio sends."""
    try:
        parsed = json.loads(data)
    except ValueError:
        return None, None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("transcript"), str):
        return None, None
    text = _clean(parsed["transcript"])[:MAX_SEGMENT_CHARS]
    confidence = parsed.get("confidence")
    confidence = float(confidence) if isinstance(confidence, (int, float)) and 0 <= confidence <= 1 else None
    return text or None, confidence


def _clean(text: str) -> str:
    """One line of printable text: no NUL (PostgreSQL refuses it) nor other control characters."""
    if has_control_characters(text):
        text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())


@bp.errorhandler(Exception)
def unavailable(error: Exception):
    """Twilio retries a 503 up to three times; its debugger shows our words, not an HTML 500."""
    if isinstance(error, HTTPException):
        return error
    log.exception("transcription event failed for CallSid %s (%s)", request.form.get("CallSid"), request.form.get("TranscriptionSid"))
    return "temporarily unavailable", 503
