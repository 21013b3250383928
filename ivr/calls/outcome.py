"""How a call ended, decided from what the log knows of it. Pure: no database, no Flask."""

from __future__ import annotations

from ..states import CallOutcome

# Twilio's CallStatus values after which nothing more happens on the call.
FINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
CALL_STATUSES = FINAL_STATUSES | {"queued", "initiated", "ringing", "in-progress"}


def decide_outcome(
    *, answered: bool, voicemail: bool, offered: bool, reached_voicemail: bool, errored: bool, twilio_status: str | None
) -> str:
    """The outcome of an ended call. A call that reached an operator or left a voicemail counts
    as such even if a webhook failed along the way; a failure that kept the caller from both is
    an error; otherwise the caller hung up: at the voicemail's beep (the phones may have rung
    before it), while the phones rang, or in the menu."""
    if answered:
        return CallOutcome.ANSWERED
    if voicemail:
        return CallOutcome.VOICEMAIL
    if errored or twilio_status == "failed":
        return CallOutcome.ERROR
    if reached_voicemail:
        return CallOutcome.ABANDONED_VOICEMAIL
    if offered:
        return CallOutcome.ABANDONED_RINGING
    return CallOutcome.ABANDONED_MENU
