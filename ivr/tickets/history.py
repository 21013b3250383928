"""A ticket's history: events stored as data (a kind and its facts), never as sentences, so
that each reader sees them in their own language.

``record`` is how every service writes an event. ``render`` puts one in a reader's words, from
the labels ``history_<kind>...`` of prompts/console/<lang>.yaml with the event's data as values;
an event written before events had data (``data`` is None) shows its ``detail`` as written.

Dates in the data are ISO strings: a day ("2026-12-22") or, for a timed term or a moment, a UTC
instant ("2026-11-23T08:30:00+00:00"); ``render`` shows them as the console shows dates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event as orm_event
from sqlalchemy import inspect
from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..compensation import Compensation, format_money, formula_in_words
from ..console_labels import Label, label_text
from ..deadlines import Deadline
from ..models import Ticket, TicketEvent, User

# Kinds whose ``detail`` is what an operator wrote, and what that text was for.
DETAIL_ROLES = {
    "note": "history_internal_note",
    "progress": "history_to_customer", "resolved": "history_to_customer", "rejected": "history_to_customer",
    "extended": "history_reason_to_customer", "reclassified": "history_reason", "registered": "history_summary",
}
# Twilio's error codes that have a meaning in the labels (``twilio_error_<code>``).
TWILIO_ERRORS = (30003, 30004, 30005, 30006, 30007, 30008, 21211, 21408, 21610, 21614)


def actor_of(user: User) -> str:
    """How a console user is written as an event's actor: "operator:ana", "supervisor:maria"."""
    return f"{user.role}:{user.name}"


def record(session: Session, ticket: Ticket, actor: str, kind: str, now: datetime, detail: str = "",
           **data: Any) -> TicketEvent:
    """Add an event to ``ticket``'s history. ``actor`` is "caller", "twilio", "system" or a
    user's ``actor_of``; ``data`` holds JSON values (text, numbers, ISO dates); ``detail`` is
    free text a person wrote (a note, a reason), shown as written."""
    event = TicketEvent(ticket=ticket, **event_values(actor, kind, now, detail, **data))
    session.add(event)
    session.info.setdefault(_TO_LOG, []).append((event, ticket.number, kind, actor))
    return event


def event_values(actor: str, kind: str, now: datetime, detail: str = "", **data: Any) -> dict[str, Any]:
    """An event's row without its ticket, as ``record`` writes it (a new voicemail's ticket
    writes its first events with a statement of its own: ``ivr.tickets.registration``)."""
    return {"at": now, "actor": actor, "kind": kind, "detail": detail, "data": data or None}


# Each event of a ticket is also one log line carrying the ticket's number, written once the
# event is committed: a rolled-back event (a lost race, a failed action) never happened.
log = logging.getLogger("ivr.tickets.registration")
_TO_LOG = "ivr.tickets.history.to_log"


def log_written(session: Session, number: str, events: list[dict[str, Any]]) -> None:
    """Log ``events`` (``event_values``) of ticket ``number`` once committed: for events written
    by a statement of their own rather than by ``record``."""
    session.info.setdefault(_TO_LOG, []).extend((None, number, e["kind"], e["actor"]) for e in events)


@orm_event.listens_for(Session, "after_commit")
def _log_committed(session: Session) -> None:
    for event, number, kind, actor in session.info.pop(_TO_LOG, ()):
        if event is None or inspect(event).persistent:  # a rolled-back savepoint's event is transient again
            log.info("%s (%s)", kind, actor, extra={"ticket": number})


@orm_event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    kept = [entry for entry in session.info.pop(_TO_LOG, ())
            if entry[0] is not None and not inspect(entry[0]).transient]
    if kept:
        session.info[_TO_LOG] = kept


@dataclass(frozen=True)
class Entry:
    """One event for ``record_many``: ``record``'s arguments, with the ticket's id and number
    (for the log line) for the ticket."""

    ticket_id: int
    number: str
    actor: str
    kind: str
    at: datetime
    data: dict[str, Any]


def record_many(session: Session, entries: Sequence[Entry]) -> None:
    """``record`` for many events at once, by ticket id (the SMS dispatcher's batch of outcomes):
    one INSERT, and no ORM objects for the session to track."""
    if entries:
        session.execute(insert(TicketEvent), [
            {"ticket_id": e.ticket_id, "at": e.at, "actor": e.actor, "kind": e.kind, "detail": "", "data": e.data or None}
            for e in entries
        ])
    for entry in entries:
        log_written(session, entry.number, [{"kind": entry.kind, "actor": entry.actor}])


def due(deadline: Deadline) -> str:
    """A term as event data: its last day, or its UTC instant when the term is timed."""
    return deadline.due_at.isoformat() if deadline.timed else deadline.due_on.isoformat()


def compensation_data(compensation: Compensation) -> dict[str, Any]:
    """A compensation's numbers as event data (money as text: JSON has no decimals); its kind
    of formula as ``formula`` (``kind`` is the event's)."""
    data = {name: str(value) if isinstance(value, Decimal) else value
            for name, value in vars(compensation).items() if value is not None}
    data["formula"] = data.pop("kind")
    return data


# -- rendering ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reader:
    """Who reads the history: their labels and language, the hotline's timezone, and the
    departments' names per language."""

    labels: dict[str, Label]
    lang: str
    tz: ZoneInfo
    departments: Mapping[str, Mapping[str, str]]

    def label(self, key: str, **values: object) -> str:
        return label_text(self.labels, self.lang, key, **values)

    def moment(self, text: str) -> str:
        """"04.12.2026" for a day, "23.11.2026 10:30" for an instant (in the hotline's timezone)."""
        if len(text) == 10:
            return date.fromisoformat(text).strftime("%d.%m.%Y")
        return datetime.fromisoformat(text).astimezone(self.tz).strftime("%d.%m.%Y %H:%M")

    def department(self, key: str) -> str:
        names = self.departments.get(key)
        return (names.get(self.lang) or next(iter(names.values()), key)) if names else key


@dataclass(frozen=True)
class ShownEvent:
    """One history line in the reader's words."""

    at: str       # "23.11.2026 10:30"
    actor: str    # "apelantul", "Twilio", "ana"
    kind: str     # the event's kind, for its style
    title: str    # what happened: "preluată", "notă"
    text: str     # its facts in words; "" when there are none
    detail: str   # what a person wrote, as written
    detail_role: str  # what that text was (internal note, message to the customer); "" when unsaid
    internal: bool    # a note for colleagues, never sent to the customer


def render(event: TicketEvent, labels: dict[str, Label], lang: str, tz: ZoneInfo,
           departments: Mapping[str, Mapping[str, str]]) -> ShownEvent:
    """``event`` in the words of a reader of ``lang``."""
    reader = Reader(labels, lang, tz, departments)
    data = event.data
    text = "" if data is None else _TEXTS.get(event.kind, _nothing)(data, reader)
    role = DETAIL_ROLES.get(event.kind, "") if event.detail and (data is not None or event.kind == "note") else ""
    title_key = f"event_{event.kind}"
    return ShownEvent(
        at=event.at.astimezone(tz).strftime("%d.%m.%Y %H:%M"), actor=actor_words(event.actor, reader),
        kind=event.kind, title=reader.label(title_key) if title_key in labels else event.kind,
        text=text, detail=event.detail or "", detail_role=reader.label(role) if role else "",
        internal=event.kind == "note",
    )


def actor_words(actor: str, reader: Reader) -> str:
    """"apelantul", "Twilio", "sistemul", or a console user's name."""
    if ":" in actor:
        return actor.partition(":")[2]
    key = f"history_actor_{actor}"
    return reader.label(key) if key in reader.labels else actor


def twilio_error(code: int | str | None, labels: dict[str, Label], lang: str) -> str:
    """What a Twilio error code means, in a few words; "eroare Twilio 12345" when unknown."""
    key = f"twilio_error_{code}"
    return label_text(labels, lang, key if key in labels else "twilio_error_other", code=code)


def sms_purpose(purpose: str, reader: Reader) -> str:
    """"SMS de soluționare" for "ticket_resolved#1"; an alert's SMS for "alert_legal#0"."""
    base = purpose.split("#")[0]
    if base.startswith("alert_"):
        return reader.label("sms_purpose_alert")
    key = f"sms_purpose_{base}"
    return reader.label(key if key in reader.labels else "sms_purpose_other")


def _nothing(data: Mapping[str, Any], reader: Reader) -> str:
    return ""


def _registered(data: Mapping[str, Any], reader: Reader) -> str:
    how = data.get("via") if data.get("via") in ("voicemail", "incident") else "operator"
    return reader.label(f"history_registered_{how}", deadline=reader.moment(data["deadline"]),
                        incident=data.get("incident", ""))


def _recording(data: Mapping[str, Any], reader: Reader) -> str:
    status = data.get("status", "")
    key = f"history_recording_{status}"
    return reader.label(key if key in reader.labels else "history_recording_other",
                        recording=data.get("recording") or "", status=status)


def _taken(data: Mapping[str, Any], reader: Reader) -> str:
    return reader.label("history_taken_from", name=data["previous"]) if data.get("previous") else ""


def _told(data: Mapping[str, Any], reader: Reader) -> str:
    """What became of the customer's SMS for a progress message, a resolution or a rejection."""
    if data.get("sms_to"):
        return reader.label("history_sms_queued", to=data["sms_to"])
    return reader.label("history_no_sms_number")


def _compensation(data: Mapping[str, Any], reader: Reader) -> str:
    money = {"amount", "monthly_value", "percent", "cap_per_week", "per_week", "uncapped"}
    values = {k: Decimal(v) if k in money else v for k, v in data.items() if k != "formula"}
    compensation = Compensation(kind=data["formula"], **values)
    texts = {k: v for k, v in reader.labels.items() if isinstance(v, str)}
    return reader.label("history_compensation", amount=format_money(compensation.amount, texts),
                        formula=formula_in_words(compensation, texts))


def _milestone(data: Mapping[str, Any], reader: Reader) -> str:
    """"termenul legal" for the final milestone; "termen promis" for a common key; else "termenul KEY"."""
    if data.get("final"):
        return reader.label("milestone_final")
    name = data.get("milestone", "")
    if f"milestone_name_{name}" in reader.labels:  # the console's words for a common key ("termen promis")
        return reader.label(f"milestone_name_{name}")
    return reader.label("history_milestone", name=name)


def _extended(data: Mapping[str, Any], reader: Reader) -> str:
    return "; ".join(
        reader.label("history_moved", milestone=_milestone(move, reader),
                     before=reader.moment(move["before"]), after=reader.moment(move["after"]))
        for move in data.get("moves", [])
    )


def _reclassified(data: Mapping[str, Any], reader: Reader) -> str:
    return reader.label("history_reclassified", before=reader.department(data["from"]),
                        after=reader.department(data["to"]))


def _reopened(data: Mapping[str, Any], reader: Reader) -> str:
    return reader.label("history_reopened", was=reader.label(f"status_{data['was']}"))


def _sms(data: Mapping[str, Any], reader: Reader) -> str:
    status = data.get("status", "")
    key = f"sms_status_{status}"
    text = reader.label("history_sms", purpose=sms_purpose(data.get("purpose", ""), reader), to=data.get("to", ""),
                        status=reader.label(key) if key in reader.labels else status)
    if data.get("error"):
        text += " · " + twilio_error(data["error"], reader.labels, reader.lang)
    return text


def _recipient(target: str, number: str | None) -> str:
    shown = target.removeprefix("user:")
    return shown if not number or number == target else f"{shown} ({number})"


def _alerted(data: Mapping[str, Any], reader: Reader) -> str:
    told = ", ".join(_recipient(t["target"], t.get("number")) for t in data.get("told", []))
    if "callback" in data:  # a callback request nobody called back in time
        text = reader.label("history_alerted_callback", requested=reader.moment(data["callback"]),
                            told=told or reader.label("history_nobody"))
    else:
        text = reader.label("history_alerted", milestone=_milestone(data, reader), due=reader.moment(data["due"]),
                            told=told or reader.label("history_nobody"))
    untold = ", ".join(
        f"{_recipient(u['target'], None)} ({reader.label('history_alert_' + u['problem'])})"
        for u in data.get("untold", [])
    )
    return text + (reader.label("history_alert_untold", untold=untold) if untold else "")


def _recovered(data: Mapping[str, Any], reader: Reader) -> str:
    text = reader.label("history_recovered", recording=data.get("recording", ""), at=reader.moment(data["at"]),
                        department=reader.department(data.get("department", "")),
                        language=data.get("language", ""))
    return text + ("" if data.get("sms", True) else reader.label("history_recovered_no_sms"))


def _resent(data: Mapping[str, Any], reader: Reader) -> str:
    return reader.label("history_sms_resent", first=sms_purpose(data.get("first", ""), reader),
                        to=data.get("to", ""), failed_to=data.get("failed_to", ""))


def _number_changed(data: Mapping[str, Any], reader: Reader) -> str:
    return reader.label("history_sms_number_changed", before=data.get("before") or "—", after=data.get("after", ""))


_TEXTS: dict[str, Callable[[Mapping[str, Any], Reader], str]] = {
    "registered": _registered, "recording": _recording, "taken": _taken,
    "progress": _told, "resolved": _told, "rejected": _told, "compensation": _compensation,
    "extended": _extended, "reclassified": _reclassified, "reopened": _reopened,
    "sms": _sms, "sms_status": _sms, "alerted": _alerted, "recovered": _recovered,
    "sms_resent": _resent, "sms_number_changed": _number_changed,
}
