"""A phone that calls the hotline the way Twilio does.

It posts signed webhooks, parses the TwiML it gets back and follows it:
<Say>/<Play> are heard, <Gather> asks for keys, <Record> and <Dial> ask what
happens, <Redirect> and actions are followed, <Hangup> ends the call.
<Start><Transcription> makes it post Twilio's transcription events: what the caller says
while recording, as final segments, and the end at <Stop><Transcription> or at hang-up.
``ivr call`` uses it with a terminal; the end-to-end tests with a script.
"""

from __future__ import annotations

import json
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urljoin

from twilio.request_validator import RequestValidator

from .errors import HotlineUnreachable
from .inputs import ascii_int

DIAL_OUTCOMES = ("answered", "busy", "no-answer", "failed", "canceled")
_ANSWERED = {"answered", "completed"}  # "completed" is what Twilio reports for an answered dial
LOCAL_ACCOUNT_SID = "AC" + "0" * 32


class Transport(Protocol):
    """Sends one signed form post and returns (status code, body)."""

    def post(self, url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]: ...


class HttpTransport:
    """Real HTTP, for a hotline running in another process."""

    def __init__(self, timeout: float = 15.0) -> None:
        import requests

        self._session, self._timeout = requests.Session(), timeout

    def post(self, url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        import requests

        try:
            reply = self._session.post(url, data=data, headers=headers, timeout=self._timeout)
        except requests.Timeout:
            raise HotlineUnreachable(f"{url} did not answer within {self._timeout:g} s") from None
        except requests.ConnectionError:
            raise HotlineUnreachable(f"nothing answers at {url}: is `ivr serve` running there? (--url says where)") from None
        return reply.status_code, reply.text


class WsgiTransport:
    """Straight into a WSGI app (the whole Flask stack, no socket)."""

    def __init__(self, app) -> None:
        from werkzeug.test import Client

        self._client = Client(app)

    def post(self, url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        reply = self._client.post(url, data=data, headers=headers)
        return reply.status_code, reply.get_data(as_text=True)


class CallerUi(Protocol):
    """The person holding the phone."""

    def hear(self, text: str, who: str = "caller") -> None: ...
    def keys(self, num_digits: int | None, finish_on_key: str) -> str | None: ...
    def dial_outcome(self, targets: list[str]) -> str: ...
    def record_seconds(self, max_length: int) -> int: ...
    def speech(self) -> str:
        """What the caller says in the recording, for a transcription that listens ("" = nothing)."""
    def conversation(self) -> None:
        """The caller talks with the operator; returns when they hang up."""


@dataclass
class ScriptedCaller:
    """A caller who follows a script: one entry of ``keys`` per <Gather> (None = silence;
    text starting with "say:" is speech), one of ``dials`` per <Dial>, one of ``records``
    per <Record> (seconds, 0 = silence), and one of ``said`` per recording a transcription
    listens to (its words). A script that runs out answers with silence, an unanswered dial
    and an empty recording."""

    keys_script: list[str | None] = field(default_factory=list)
    dials: list[str] = field(default_factory=list)
    records: list[int] = field(default_factory=list)
    heard: list[str] = field(default_factory=list)
    operator_heard: list[str] = field(default_factory=list)
    said: list[str] = field(default_factory=list)

    def hear(self, text: str, who: str = "caller") -> None:
        (self.heard if who == "caller" else self.operator_heard).append(text)

    def keys(self, num_digits: int | None, finish_on_key: str) -> str | None:
        return self.keys_script.pop(0) if self.keys_script else None

    def dial_outcome(self, targets: list[str]) -> str:
        return self.dials.pop(0) if self.dials else "no-answer"

    def record_seconds(self, max_length: int) -> int:
        return self.records.pop(0) if self.records else 0

    def speech(self) -> str:
        return self.said.pop(0) if self.said else ""

    def conversation(self) -> None:
        return None

    @property
    def transcript(self) -> str:
        return "\n".join(self.heard)


@dataclass
class CallLog:
    """What happened on the line, for the tests and the terminal."""

    call_sid: str
    requests: list[tuple[str, dict[str, str], int]] = field(default_factory=list)
    dials: list[list[str]] = field(default_factory=list)
    recordings: list[dict[str, str]] = field(default_factory=list)
    # The transcription status callbacks posted, each as (url, fields): tests may post them again.
    transcription_events: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    ended_by: str = ""
    said: list[str] = field(default_factory=list)  # what the hotline said to the caller, in order
    said_before_last_recording: int = 0  # how much of ``said`` came before the last recording

    def said_after_recording(self) -> list[str]:
        """What the caller heard after their last recording: what became of the complaint."""
        return self.said[self.said_before_last_recording:] if self.recordings else []


@dataclass
class _Transcription:
    """A <Start><Transcription> running on the call."""

    name: str
    url: str
    language: str
    sid: str = field(default_factory=lambda: "GT" + secrets.token_hex(16))
    sequence: int = 0


class Call:
    """One inbound call from ``caller`` to the hotline at ``base_url``."""

    def __init__(
        self, base_url: str, auth_token: str, transport: Transport, ui: CallerUi,
        caller: str = "+40722123456", called: str = "+40215894141",
        account_sid: str = LOCAL_ACCOUNT_SID, max_steps: int = 60,
    ) -> None:
        self.base_url, self.transport, self.ui = base_url.rstrip("/") + "/", transport, ui
        self.validator = RequestValidator(auth_token)
        self.account_sid, self.max_steps = account_sid, max_steps
        self.log = CallLog("CA" + secrets.token_hex(16))
        self.transcription: _Transcription | None = None
        self.params = {
            "CallSid": self.log.call_sid, "AccountSid": account_sid, "From": caller, "To": called,
            "Caller": caller, "Called": called, "Direction": "inbound", "ApiVersion": "2010-04-01",
            "CallStatus": "in-progress",
        }

    # -- talking to the hotline -------------------------------------------------

    def post(self, url: str, extra: dict[str, str] | None = None) -> tuple[int, str]:
        data = {**self.params, **(extra or {})}
        headers = {"X-Twilio-Signature": self.validator.compute_signature(url, data)}
        status, body = self.transport.post(url, data, headers)
        self.log.requests.append((url, data, status))
        return status, body

    def run(self) -> CallLog:
        self._play_call()
        if self.transcription is not None:  # a transcription ends with the call
            self._transcription_event("transcription-stopped")
            self.transcription = None
        # Twilio's "call status changes" webhook, once the caller has hung up.
        self.post(urljoin(self.base_url, "voice/status"), {"CallStatus": "completed", "CallDuration": "60"})
        return self.log

    def _play_call(self) -> None:
        url = urljoin(self.base_url, "voice/incoming")
        extra: dict[str, str] | None = None
        for _ in range(self.max_steps):
            status, body = self.post(url, extra)
            if status != 200:
                self.ui.hear(f"[the hotline answered HTTP {status}: Twilio would say 'an application error has occurred']")
                self.log.ended_by = f"http {status}"
                return
            step = self._follow(ET.fromstring(body), url)
            if step is None:
                return
            url, extra = step
        self.log.ended_by = "too many steps"

    def _follow(self, document: ET.Element, url: str) -> tuple[str, dict[str, str]] | None:
        """Play one TwiML document; return the next request to make, or None when the call ended."""
        for verb in document:
            handler = getattr(self, f"_{verb.tag.lower()}", None)
            if handler is None:
                raise ValueError(f"the softphone does not know <{verb.tag}>")
            step = handler(verb, url)
            if step == "hangup":
                self.log.ended_by = self.log.ended_by or verb.tag.lower()
                return None
            if step is not None:
                return step
        self.log.ended_by = self.log.ended_by or "end of document"
        return None

    # -- the verbs --------------------------------------------------------------

    def _say(self, verb: ET.Element, url: str, who: str = "caller") -> None:
        text = (verb.text or "").strip()
        if who == "caller":
            self.log.said.append(text)
        self.ui.hear(text, who)

    def _play(self, verb: ET.Element, url: str, who: str = "caller") -> None:
        self.ui.hear(f"[recording {verb.text}]", who)

    def _pause(self, verb: ET.Element, url: str) -> None:
        return None

    def _hangup(self, verb: ET.Element, url: str) -> str:
        return "hangup"

    _reject = _hangup

    def _redirect(self, verb: ET.Element, url: str) -> tuple[str, dict[str, str]]:
        return urljoin(url, (verb.text or "").strip()), {}

    def _gather(self, verb: ET.Element, url: str):
        for child in verb:
            (self._say if child.tag == "Say" else self._play)(child, url)
        num_digits = int(verb.get("numDigits")) if verb.get("numDigits") else None
        finish_on_key = verb.get("finishOnKey", "#")
        pressed = self.ui.keys(num_digits, finish_on_key) or ""
        if finish_on_key and not pressed.startswith("say:"):
            pressed = pressed.split(finish_on_key)[0]
        if num_digits and not pressed.startswith("say:"):
            pressed = pressed[:num_digits]
        if not pressed:
            return None  # Twilio goes on to the next verb
        action = urljoin(url, verb.get("action") or url)
        if pressed.startswith("say:"):
            return action, {"SpeechResult": pressed[4:].strip(), "Confidence": "0.9"}
        return action, {"Digits": pressed}

    def _dial(self, verb: ET.Element, url: str):
        targets = [f"{t.tag.lower()}:{(t.text or '').strip()}" for t in verb] or [(verb.text or "").strip()]
        self.log.dials.append(targets)
        outcome = self.ui.dial_outcome(targets)
        if outcome in _ANSWERED:
            outcome = "completed"
            for target in verb:
                if target.get("url"):
                    self._whisper(urljoin(url, target.get("url")), _dialled(target))
                    break
            self.ui.conversation()
            if verb.get("recordingStatusCallback"):
                self._conversation_recorded(urljoin(url, verb.get("recordingStatusCallback")))
        if not verb.get("action"):
            return "hangup" if outcome == "completed" else None
        duration = "42" if outcome == "completed" else "0"
        return urljoin(url, verb.get("action")), {
            "DialCallStatus": outcome, "DialCallSid": "CA" + secrets.token_hex(16), "DialCallDuration": duration,
        }

    def _whisper(self, url: str, target: str) -> None:
        # The operator's leg is a call of its own, the caller's its parent.
        leg = {"CallSid": "CA" + secrets.token_hex(16), "ParentCallSid": self.log.call_sid, "Direction": "outbound-dial"}
        status, body = self.post(url, {**leg, "From": self.params["From"], "To": target, "ParentCallFrom": self.params["From"]})
        if status == 200:
            for verb in ET.fromstring(body):
                if verb.tag in ("Say", "Play"):
                    (self._say if verb.tag == "Say" else self._play)(verb, url, who="operator")

    def _start(self, verb: ET.Element, url: str) -> None:
        for noun in verb:
            if noun.tag != "Transcription":
                raise ValueError(f"the softphone does not know <Start><{noun.tag}>")
            callback = noun.get("statusCallbackUrl")
            self.transcription = _Transcription(noun.get("name", ""), urljoin(url, callback) if callback else "",
                                                noun.get("languageCode", "en-US"))
            self._transcription_event("transcription-started", {
                "LanguageCode": self.transcription.language, "Track": noun.get("track", "both_tracks"),
            })

    def _stop(self, verb: ET.Element, url: str) -> None:
        for noun in verb:
            if noun.tag == "Transcription" and self.transcription and noun.get("name") == self.transcription.name:
                self._transcription_event("transcription-stopped")
                self.transcription = None

    def _transcribe(self, words: str) -> None:
        """Twilio's final results of what the caller said: a segment per sentence."""
        for sentence in re.split(r"(?<=[.!?])\s+", words.strip()):
            if sentence:
                self._transcription_event("transcription-content", {
                    "LanguageCode": self.transcription.language, "Track": "inbound_track", "Final": "true",
                    "TranscriptionData": json.dumps({"transcript": sentence, "confidence": 0.92}, ensure_ascii=False),
                })

    def _transcription_event(self, event: str, fields: dict[str, str] | None = None) -> None:
        transcription = self.transcription
        assert transcription is not None
        transcription.sequence += 1
        data = {"TranscriptionSid": transcription.sid, "TranscriptionEvent": event,
                "SequenceId": str(transcription.sequence), "Timestamp": "2026-11-17T10:00:00.000Z", **(fields or {})}
        if transcription.url:
            self.log.transcription_events.append((transcription.url, data))
            self.post(transcription.url, data)

    def _record(self, verb: ET.Element, url: str):
        seconds = self.ui.record_seconds(int(verb.get("maxLength", "3600")))
        if seconds > 0 and self.transcription is not None:
            self._transcribe(self.ui.speech())
        callback = verb.get("recordingStatusCallback")
        if seconds <= 0:
            if callback and "absent" in verb.get("recordingStatusCallbackEvent", ""):
                self.post(urljoin(url, callback), {"RecordingStatus": "absent", "RecordingSid": "RE" + secrets.token_hex(16)})
            return None  # nothing recorded: Twilio skips the action
        sid = "RE" + secrets.token_hex(16)
        self.log.said_before_last_recording = len(self.log.said)
        recording = {
            "RecordingSid": sid,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}",
            "RecordingDuration": str(seconds),
        }
        self.log.recordings.append(recording)
        action = urljoin(url, verb.get("action") or url)
        if callback:
            self.deliver_recording_status(urljoin(url, callback), recording)
        return action, {**recording, "Digits": "#"}

    def _conversation_recorded(self, url: str) -> None:
        sid = "RE" + secrets.token_hex(16)
        self.post(url, {
            "RecordingSid": sid, "RecordingStatus": "completed", "RecordingDuration": "60", "RecordingChannels": "2",
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}",
            "RecordingSource": "DialVerb",
        })

    def deliver_recording_status(self, url: str, recording: dict[str, str]) -> tuple[int, str]:
        return self.post(url, {
            "RecordingSid": recording["RecordingSid"], "RecordingUrl": recording["RecordingUrl"],
            "RecordingDuration": recording["RecordingDuration"], "RecordingStatus": "completed",
            "RecordingChannels": "1", "RecordingSource": "RecordVerb",
        })


def _dialled(noun: ET.Element) -> str:
    """What Twilio puts in the operator leg's To: the number, client:NAME or the SIP URI."""
    text = (noun.text or "").strip()
    return f"client:{text}" if noun.tag == "Client" else text


class TerminalCaller:
    """A person at the keyboard; scripted answers are used first when given."""

    def __init__(self, keys: Iterable[str] = (), dial: str | None = None, record: int | None = None) -> None:
        self._keys, self._dial, self._record = list(keys), dial, record

    def hear(self, text: str, who: str = "caller") -> None:
        print(f"  {'🔊' if who == 'caller' else '🎧 operator hears:'} {text}")

    def keys(self, num_digits: int | None, finish_on_key: str) -> str | None:
        if self._keys:
            pressed = self._keys.pop(0)
            print(f"  ☎ keys: {pressed or '(nothing)'}")
            return pressed or None
        hint = f"up to {num_digits} key(s)" if num_digits else "keys"
        answer = self._ask(f"  ☎ press {hint} (Enter = silence, 'say: words' = speech): ")
        return answer or None

    def dial_outcome(self, targets: list[str]) -> str:
        print(f"  📞 dialling {', '.join(targets)}")
        if self._dial:
            return self._dial
        answer = self._ask(f"  how does the dial end? {'/'.join(DIAL_OUTCOMES)} [no-answer]: ")
        return answer if answer in DIAL_OUTCOMES else "no-answer"

    def conversation(self) -> None:
        print("  🗣 talking with the operator: the console shows them this call.")
        self._ask("  press Enter to hang up: ")

    def record_seconds(self, max_length: int) -> int:
        print(f"  ⏺ beep: recording (at most {max_length} s)")
        if self._record is not None:
            return self._record
        answer = self._ask("  how many seconds do you speak? (0 = silence) [20]: ")
        seconds = ascii_int(answer, max_digits=4)
        return 20 if seconds is None else seconds

    def speech(self) -> str:
        return self._ask("  ✎ what do you say? (the transcription hears it) ")

    @staticmethod
    def _ask(question: str) -> str:
        try:
            return input(question).strip()
        except EOFError:
            return ""
