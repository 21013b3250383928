"""One call to the hotline, played as Twilio plays it: signed webhooks posted, TwiML followed
verb by verb, and what happened on the line kept in a ``CallLog``."""

from __future__ import annotations

import json
import re
import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from urllib.parse import urljoin

from twilio.request_validator import RequestValidator

from .callers import CallerUi
from .transports import Transport

_ANSWERED = {"answered", "completed"}  # "completed" is what Twilio reports for an answered dial
LOCAL_ACCOUNT_SID = "AC" + "0" * 32


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
        bridged = False
        if outcome in _ANSWERED or outcome == "voicemail":  # a person, or the phone's own voicemail
            person, outcome = outcome != "voicemail", "completed"
            screened = next((target for target in verb if target.get("url")), None)
            bridged = person if screened is None else self._whisper(urljoin(url, screened.get("url")), _dialled(screened), person)
            if bridged:
                self.ui.conversation()
                if verb.get("recordingStatusCallback"):
                    self._conversation_recorded(urljoin(url, verb.get("recordingStatusCallback")))
        if not verb.get("action"):
            return "hangup" if bridged else None
        return urljoin(url, verb.get("action")), {
            "DialCallStatus": outcome, "DialCallSid": "CA" + secrets.token_hex(16),
            "DialCallDuration": "42" if bridged else "0", "DialBridged": "true" if bridged else "false",
        }

    def _whisper(self, url: str, target: str, person: bool) -> bool:
        """The whisper's TwiML on the operator's leg; whether the caller is put through. A person
        presses a key when asked; a voicemail presses none."""
        # The operator's leg is a call of its own, the caller's its parent.
        leg = {"CallSid": "CA" + secrets.token_hex(16), "ParentCallSid": self.log.call_sid, "Direction": "outbound-dial",
               "From": self.params["From"], "To": target, "ParentCallFrom": self.params["From"]}
        for _ in range(5):
            status, body = self.post(url, leg)
            if status != 200:
                return False
            next_url = None
            for verb in ET.fromstring(body):
                if verb.tag in ("Say", "Play"):
                    (self._say if verb.tag == "Say" else self._play)(verb, url, who="operator")
                elif verb.tag in ("Hangup", "Reject"):
                    return False
                elif verb.tag == "Gather":
                    for child in verb:
                        (self._say if child.tag == "Say" else self._play)(child, url, who="operator")
                    if person:
                        next_url, leg = urljoin(url, verb.get("action") or url), {**leg, "Digits": "1"}
                        break
            if next_url is None:
                return True  # the document ended: Twilio puts the caller through
            url = next_url
        return False

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
