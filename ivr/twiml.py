"""Small helpers for building TwiML answers with twilio's VoiceResponse."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from flask import Response
from twilio.twiml import TwiML

from .prompts import Utterance

_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def speak(verb: TwiML, utterance: Utterance) -> None:
    """Append a prompt to a Response or Gather: <Play> for a recording, <Say> for text."""
    if utterance.is_recording:
        verb.play(utterance.text)
    else:
        verb.say(utterance.text, voice=utterance.voice, language=utterance.language)


class Rendered(TwiML):
    """A verb serialised once, for verbs that many answers repeat word for word (the menu):
    an answer made by ``render`` copies its text instead of serialising it again."""

    def __init__(self, verb: TwiML) -> None:
        super().__init__()
        self.name = verb.name
        self.text = ET.tostring(verb.xml(), encoding="unicode")

    def xml(self) -> ET.Element:
        return ET.fromstring(self.text)  # the same verb, for a str() of an answer holding it


def render(twiml: TwiML) -> str:
    """``str(twiml)``, with the text of its Rendered verbs copied rather than serialised."""
    text_inside = twiml.attrs or twiml.value or any(isinstance(v, str) for v in twiml.verbs)
    if text_inside or not any(isinstance(v, Rendered) for v in twiml.verbs):
        return str(twiml)
    verbs = "".join(v.text if isinstance(v, Rendered) else ET.tostring(v.xml(), encoding="unicode") for v in twiml.verbs)
    return f"{_DECLARATION}<{twiml.name}>{verbs}</{twiml.name}>"


def twiml_response(twiml: TwiML) -> Response:
    return Response(render(twiml), mimetype="text/xml")
