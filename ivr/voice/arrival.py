"""A call as it arrives, and the shape of the steps ``/voice/incoming`` runs in turn (the
greeting, the caller's complaints, notices, the menu)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from ..phone import Caller


@dataclass(frozen=True)
class Arrival:
    caller: Caller
    lang: str


# A step adds what the caller hears to the answer and returns True when it has ended it (it
# took the caller elsewhere, by a <Gather> of its own): the steps after it are then not run.
IncomingStep = Callable[[VoiceResponse, Arrival], bool]
