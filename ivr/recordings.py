"""Fetch a voicemail recording's audio from Twilio, for the operator console to play.

The browser never talks to Twilio: the server fetches the audio with the account's
credentials and passes the bytes on. Only this account's recordings are fetched, so the
server cannot be made to fetch an arbitrary URL (or to send the credentials there).

This uses ``requests`` rather than ``twilio.rest.Client``: the recording is a file download,
not a REST resource, and twilio-python's ``TwilioHttpClient.request`` wraps every answer in
``twilio.http.response.Response(status, response.text, ...)``; ``.text`` decodes the body
as text, which corrupts audio (checked in twilio 9.13).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests

from .errors import RecordingUnavailable
from .sms_gateway import TWILIO_API_BASE_URL

_FORMATS = {"wav": "audio/x-wav", "mp3": "audio/mpeg"}
# What some media stores say when they do not know better; the format asked for is then trusted.
_UNLABELLED = {"", "application/octet-stream", "binary/octet-stream"}


@dataclass(frozen=True)
class Recording:
    audio: bytes
    content_type: str  # e.g. "audio/x-wav" or "audio/mpeg"


class RecordingStore:
    """Recordings of one Twilio account. ``base_url`` replaces https://api.twilio.com
    (TWILIO_API_BASE_URL), e.g. for a local stand-in; ``timeout`` is per connect/read."""

    def __init__(
        self, account_sid: str, auth_token: str, base_url: str = TWILIO_API_BASE_URL, timeout: float = 10.0
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("RecordingStore needs an account SID and an auth token")
        self._auth = (account_sid, auth_token)
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        # A full match: no other host or scheme, no query, no "..", nothing after the SID but an extension.
        prefix = f"{TWILIO_API_BASE_URL}/2010-04-01/Accounts/{account_sid}/Recordings/"
        self._url = re.compile(re.escape(prefix) + r"(?P<sid>RE[0-9a-fA-F]{32})(?:\.(?:wav|mp3))?")

    def fetch(self, recording_url: str, fmt: str = "wav") -> Recording:
        """The audio of ``recording_url`` (a RecordingUrl Twilio gave us) as ``fmt`` ("wav" or "mp3")."""
        if fmt not in _FORMATS:
            raise ValueError(f"unknown recording format {fmt!r}; use 'wav' or 'mp3'")
        match = self._url.fullmatch(recording_url or "")
        if match is None:
            raise RecordingUnavailable("this is not a recording of our Twilio account; it was not fetched")
        sid = match["sid"]
        path = match.group(0)[len(TWILIO_API_BASE_URL) : match.end("sid")]
        try:
            # Redirects are followed (to Twilio's media storage); requests drops the Authorization
            # header when a redirect leaves the host (Session.rebuild_auth/should_strip_auth).
            response = requests.get(f"{self._base_url}{path}.{fmt}", auth=self._auth, timeout=self._timeout)
        except requests.Timeout as exc:
            raise RecordingUnavailable(f"Twilio did not answer in time for recording {sid}") from exc
        except requests.RequestException as exc:
            raise RecordingUnavailable(f"Twilio could not be reached for recording {sid} ({exc.__class__.__name__})") from exc
        status = response.status_code
        if status == 404:
            raise RecordingUnavailable(f"the recording {sid} was deleted at Twilio (or never existed)", status)
        if status in (401, 403):
            raise RecordingUnavailable(f"Twilio refused our account credentials (HTTP {status}) for recording {sid}", status)
        if status != 200:
            raise RecordingUnavailable(f"Twilio answered HTTP {status} for recording {sid}; try again later", status)
        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type in _UNLABELLED:
            content_type = _FORMATS[fmt]
        elif not content_type.startswith("audio/"):
            # Passed on to the browser from our own origin, so never anything but audio (say, an HTML page).
            raise RecordingUnavailable(f"Twilio answered {content_type} instead of audio for recording {sid}", status)
        return Recording(audio=response.content, content_type=content_type)


def make_recording_store(config: dict[str, Any]) -> RecordingStore | None:
    """Recordings can be played only with the account's real credentials."""
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    if not sid or not token or config.get("LOCAL_TRIAL_TOKEN"):
        return None
    return RecordingStore(sid, token, base_url=config.get("TWILIO_API_BASE_URL") or TWILIO_API_BASE_URL)
