"""A phone that calls the hotline the way Twilio does.

It posts signed webhooks, parses the TwiML it gets back and follows it:
<Say>/<Play> are heard, <Gather> asks for keys, <Record> and <Dial> ask what
happens, <Redirect> and actions are followed, <Hangup> ends the call.
<Start><Transcription> makes it post Twilio's transcription events: what the caller says
while recording, as final segments, and the end at <Stop><Transcription> or at hang-up.
``ivr call`` uses it with a terminal; the end-to-end tests with a script.

The phone is three parts: ``call`` plays one call (``Call``) and keeps what happened on the
line (``CallLog``); ``transports`` carry its signed posts (real HTTP, or straight into a WSGI
app); ``callers`` are the person holding it (a script, or someone at the terminal).
"""

from __future__ import annotations

from .call import LOCAL_ACCOUNT_SID, Call, CallLog
from .callers import DIAL_OUTCOMES, CallerUi, ScriptedCaller, TerminalCaller
from .transports import HttpTransport, Transport, WsgiTransport

__all__ = [
    "Call", "CallLog", "CallerUi", "DIAL_OUTCOMES", "HttpTransport", "LOCAL_ACCOUNT_SID", "ScriptedCaller",
    "TerminalCaller", "Transport", "WsgiTransport",
]
