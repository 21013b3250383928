"""Small helpers for building TwiML answers with twilio's VoiceResponse."""

from __future__ import annotations

from flask import Response
from twilio.twiml import TwiML

from .prompts import Utterance


def speak(verb: TwiML, utterance: Utterance) -> None:
    """Append a prompt to a Response or Gather: <Play> for a recording, <Say> for text."""
    if utterance.is_recording:
        verb.play(utterance.text)
    else:
        verb.say(utterance.text, voice=utterance.voice, language=utterance.language)


def twiml_response(twiml: TwiML) -> Response:
    return Response(str(twiml), mimetype="text/xml")
