"""Fetch a voicemail recording's audio from Twilio, for the operator console to play.

The browser never talks to Twilio: the server fetches the audio with the account's
credentials and passes the bytes on. Only this account's recordings are fetched, so the
server cannot be made to fetch an arbitrary URL (or to send the credentials there).

The audio streams through in chunks, never whole in memory, and a byte range asked for
(an <audio> element seeking) is asked of Twilio in turn, or cut out here when Twilio sends
the whole file anyway.

This uses ``requests`` rather than ``twilio.rest.Client``: the recording is a file download,
not a REST resource, and twilio-python's ``TwilioHttpClient.request`` wraps every answer in
``twilio.http.response.Response(status, response.text, ...)``; ``.text`` decodes the body
as text, which corrupts audio (checked in twilio 9.13).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .byte_ranges import ByteRange, ContentRange, parse_content_range, unsatisfied_total
from .errors import RecordingUnavailable
from .twilio_rest import TWILIO_API_BASE_URL

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)
_FORMATS = {"wav": "audio/x-wav", "mp3": "audio/mpeg"}
# What some media stores say when they do not know better; the format asked for is then trusted.
_UNLABELLED = {"", "application/octet-stream", "binary/octet-stream"}
CHUNK_BYTES = 64 * 1024  # what is held in memory at a time while a recording passes through


@dataclass(frozen=True)
class Recording:
    audio: bytes
    content_type: str  # e.g. "audio/x-wav" or "audio/mpeg"


@dataclass
class RecordingStream:
    """A recording (or the part of it asked for) on its way from Twilio, read in chunks of
    CHUNK_BYTES as it is iterated; ``close()`` it when done, read or not.

    ``status`` is what to answer: 200 (the whole recording), 206 (``content_range`` of it) or
    416 (the range asked for lies outside the recording; no bytes). ``length`` is the number
    of bytes iterating gives and ``total`` the whole recording's, each None when Twilio did
    not say. A failure of Twilio halfway raises RecordingUnavailable from the iteration."""

    status: int
    content_type: str
    length: int | None
    total: int | None
    content_range: ContentRange | None = None
    _chunks: Iterator[bytes] = field(default_factory=lambda: iter(()), repr=False)
    _response: requests.Response | None = field(default=None, repr=False)

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        if self._response is not None:
            self._response.close()

    def read(self) -> bytes:
        """All of it, closed afterwards: for callers that need the bytes at once (not the console)."""
        try:
            return b"".join(self)
        finally:
            self.close()


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
        """The whole audio of ``recording_url`` (a RecordingUrl Twilio gave us) as ``fmt``
        ("wav" or "mp3"), in memory. The console streams with ``open`` instead."""
        stream = self.open(recording_url, fmt)
        return Recording(audio=stream.read(), content_type=stream.content_type)

    def open(self, recording_url: str, fmt: str = "wav", byte_range: ByteRange | None = None) -> RecordingStream:
        """Start fetching the audio of ``recording_url`` as ``fmt``, only ``byte_range`` of it
        when given. The range is asked of Twilio; when Twilio sends the whole file instead,
        the range is cut out of it here as it streams past."""
        if fmt not in _FORMATS:
            raise ValueError(f"unknown recording format {fmt!r}; use 'wav' or 'mp3'")
        match = self._url.fullmatch(recording_url or "")
        if match is None:
            raise RecordingUnavailable("this is not a recording of our Twilio account; it was not fetched")
        sid = match["sid"]
        path = match.group(0)[len(TWILIO_API_BASE_URL) : match.end("sid")]
        headers = {"Range": byte_range.header()} if byte_range is not None else {}
        import requests  # at the first recording played, not at every start-up (~0.06 s)

        try:
            # Redirects are followed (to Twilio's media storage), the Range header with them;
            # requests drops the Authorization header when a redirect leaves the host
            # (Session.rebuild_auth/should_strip_auth).
            response = requests.get(f"{self._base_url}{path}.{fmt}", auth=self._auth, headers=headers,
                                    timeout=self._timeout, stream=True)
        except requests.Timeout as exc:
            raise RecordingUnavailable(f"Twilio did not answer in time for recording {sid}") from exc
        except requests.RequestException as exc:
            raise RecordingUnavailable(f"Twilio could not be reached for recording {sid} ({exc.__class__.__name__})") from exc
        try:
            return _stream(response, sid, fmt, byte_range)
        except BaseException:
            response.close()
            raise


def _stream(response: requests.Response, sid: str, fmt: str, byte_range: ByteRange | None) -> RecordingStream:
    status = response.status_code
    if status == 416 and byte_range is not None:
        total = unsatisfied_total(response.headers.get("Content-Range"))
        response.close()
        return RecordingStream(416, _FORMATS[fmt], length=0, total=total)
    _check_status(status, sid)
    content_type = _audio_type(response, sid, fmt)
    if status == 206:
        part = parse_content_range(response.headers.get("Content-Range"))
        if byte_range is None or part is None:
            raise RecordingUnavailable(f"Twilio answered a part of recording {sid} that was not asked for", status)
        return RecordingStream(206, content_type, part.length, part.total, part, _chunks(response, sid), response)
    total = _plain_length(response)
    if byte_range is None or total is None:
        # Without a length, a range cannot be placed: the whole file is sent, as RFC 9110 allows.
        return RecordingStream(200, content_type, total, total, None, _chunks(response, sid), response)
    span = byte_range.resolve(total)
    if span is None:
        response.close()
        return RecordingStream(416, content_type, length=0, total=total)
    part = ContentRange(span[0], span[1], total)
    return RecordingStream(206, content_type, part.length, total, part, _cut(_chunks(response, sid), *span), response)


def _check_status(status: int, sid: str) -> None:
    if status == 404:
        raise RecordingUnavailable(f"the recording {sid} was deleted at Twilio (or never existed)", status)
    if status in (401, 403):
        raise RecordingUnavailable(f"Twilio refused our account credentials (HTTP {status}) for recording {sid}", status)
    if status not in (200, 206):
        raise RecordingUnavailable(f"Twilio answered HTTP {status} for recording {sid}; try again later", status)


def _audio_type(response: requests.Response, sid: str, fmt: str) -> str:
    content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if content_type in _UNLABELLED:
        return _FORMATS[fmt]
    if not content_type.startswith("audio/"):
        # Passed on to the browser from our own origin, so never anything but audio (say, an HTML page).
        raise RecordingUnavailable(f"Twilio answered {content_type} instead of audio for recording {sid}", response.status_code)
    return content_type


def _plain_length(response: requests.Response) -> int | None:
    """The body's length in bytes as it will be read; None when unknown (chunked, or
    compressed, where Content-Length counts the compressed bytes)."""
    length = response.headers.get("Content-Length", "")
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        return None
    return int(length) if length.isascii() and length.isdigit() and len(length) < 19 else None


def _chunks(response: requests.Response, sid: str) -> Iterator[bytes]:
    import requests

    try:
        yield from response.iter_content(CHUNK_BYTES)
    except requests.RequestException as exc:
        raise RecordingUnavailable(f"Twilio stopped sending recording {sid} halfway ({exc.__class__.__name__})") from exc
    finally:
        response.close()


def _cut(chunks: Iterator[bytes], first: int, last: int) -> Iterator[bytes]:
    """Bytes ``first`` to ``last`` (inclusive) of a stream of chunks, holding one chunk at a time."""
    position = 0
    try:
        for chunk in chunks:
            start, end = max(first - position, 0), min(last + 1 - position, len(chunk))
            position += len(chunk)
            if start < end:
                yield chunk[start:end]
            if position > last:
                return
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def make_recording_store(config: dict[str, Any]) -> RecordingStore | None:
    """Recordings can be played only with the account's real credentials."""
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    if not sid or not token or config.get("LOCAL_TRIAL_TOKEN"):
        return None
    return RecordingStore(sid, token, base_url=config.get("TWILIO_API_BASE_URL") or TWILIO_API_BASE_URL)
