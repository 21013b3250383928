"""Voicemail transcripts: what Twilio's Real-Time Transcription heard, kept against the call.

The events (``ivr.voice.transcription`` reads them from the webhook) may come in any order,
more than once, before the ticket exists or for a call that never gives one: each is written
so that repeating it changes nothing, and a ticket finds its transcript by its CallSid.
A transcript is an aid for the operators, never a condition: no ticket waits for one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Ticket, TranscriptSegment, Transcription
from .states import TranscriptionStatus

# What one segment may hold: a voicemail lasts minutes at most, a segment is a sentence or two.
MAX_SEGMENT_CHARS = 4000
_BATCH = 500


@dataclass(frozen=True)
class TranscriptionEvent:
    """One status callback, checked: ``kind`` is started | content | stopped | error."""

    kind: str
    call_sid: str
    transcription_sid: str
    sequence_id: int
    at: datetime
    language: str | None = None
    text: str | None = None          # content: the final transcript of the segment
    confidence: float | None = None
    error: str | None = None         # error: Twilio's words and code


@dataclass(frozen=True)
class Transcript:
    """A call's transcript as the console shows it: the segments in order, and how it went."""

    segments: tuple[str, ...]
    status: str | None          # None: no transcription event ever came for this call
    error: str | None = None

    @property
    def text(self) -> str:
        return " ".join(self.segments)


def record_event(session: Session, event: TranscriptionEvent) -> None:
    """Write one event; safe against repeats and against two deliveries racing."""
    _insert_ignoring_duplicates(session, Transcription, dict(
        sid=event.transcription_sid, call_sid=event.call_sid, language=event.language,
        status=TranscriptionStatus.STARTED, first_event_at=event.at, updated_at=event.at,
    ))
    if event.kind == "content" and event.text:
        _insert_ignoring_duplicates(session, TranscriptSegment, dict(
            transcription_sid=event.transcription_sid, call_sid=event.call_sid, sequence_id=event.sequence_id,
            text=event.text, confidence=event.confidence, received_at=event.at,
        ))
    status = {"stopped": TranscriptionStatus.STOPPED, "error": TranscriptionStatus.FAILED}.get(event.kind)
    if status is not None:
        _advance(session, event, status)
    elif event.language:
        session.execute(update(Transcription).where(
            Transcription.sid == event.transcription_sid, Transcription.language.is_(None),
        ).values(language=event.language))


def _advance(session: Session, event: TranscriptionEvent, status: str) -> None:
    """Move the transcription on to ``status``, never back (a late "stopped" after an error)."""
    later = [s for s, rank in TranscriptionStatus.RANK.items() if rank < TranscriptionStatus.RANK[status]]
    values: dict[str, object] = {"status": status, "updated_at": event.at}
    if event.error:
        values["error"] = event.error
    session.execute(update(Transcription).where(
        Transcription.sid == event.transcription_sid, Transcription.status.in_(later),
    ).values(**values))


def _insert_ignoring_duplicates(session: Session, table, values: dict[str, object]) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(dialect.insert(table).values(**values).on_conflict_do_nothing())


def transcript_of(session: Session, call_sid: str) -> Transcript:
    """The call's transcript: its transcriptions in the order they began, each one's segments
    in Twilio's order (SequenceId), whatever order they arrived in."""
    transcriptions = list(session.scalars(
        select(Transcription).where(Transcription.call_sid == call_sid).order_by(Transcription.first_event_at, Transcription.id)
    ))
    if not transcriptions:
        return Transcript((), None)
    segments = _segments(session, [call_sid]).get(call_sid, [])
    failed = next((t for t in transcriptions if t.status == TranscriptionStatus.FAILED), None)
    status = failed.status if failed else transcriptions[-1].status
    return Transcript(tuple(segments), status, failed.error if failed else None)


def transcript_texts(session: Session, call_sids: Iterable[str]) -> dict[str, str]:
    """Each call's transcript as one text, for the CSV export (calls without one are left out)."""
    return {sid: " ".join(texts) for sid, texts in _segments(session, call_sids).items()}


def _segments(session: Session, call_sids: Iterable[str]) -> dict[str, list[str]]:
    """Each call's segment texts in order; the calls are asked for a batch at a time (an export
    may name thousands, more than a statement takes as parameters)."""
    texts: dict[str, list[str]] = defaultdict(list)
    wanted = sorted(set(call_sids))
    for start in range(0, len(wanted), _BATCH):
        rows = session.execute(
            select(TranscriptSegment.call_sid, TranscriptSegment.text)
            .join(Transcription, Transcription.sid == TranscriptSegment.transcription_sid)
            .where(TranscriptSegment.call_sid.in_(wanted[start:start + _BATCH]))
            .order_by(Transcription.first_event_at, Transcription.id, TranscriptSegment.sequence_id)
        )
        for call_sid, text in rows:
            texts[call_sid].append(text)
    return texts


def transcript_matches(text: str) -> ColumnElement[bool]:
    """SQL on Ticket: a segment of its call's transcript contains ``text`` (any case; % and _
    are matched as themselves)."""
    return exists().where(
        TranscriptSegment.call_sid == Ticket.call_sid, TranscriptSegment.text.icontains(text, autoescape=True),
    )
