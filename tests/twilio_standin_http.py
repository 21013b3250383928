"""The Twilio stand-in's HTTP side: routing a request to what ``twilio_standin.TwilioStandin``
holds (messages, recordings, calls), the scripted faults and delays, audio with byte ranges and
redirects to a media host, and answers in Twilio's JSON shape. What it imitates is described in
``twilio_standin``."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from twilio_standin import TwilioStandin


_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_RECORDING_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Recordings/(?P<sid>[^/.]+)\.(?P<ext>wav|mp3)$")
_RECORDINGS_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Recordings\.json$")
_CALLS_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Calls\.json$")
_CALL_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Calls/(?P<sid>[^/.]+)\.json$")
_MEDIA_PATH = re.compile(r"^/media/(?P<sid>[^/.]+)\.(?P<ext>wav|mp3)$")
_AUDIO_TYPES = {"wav": "audio/x-wav", "mp3": "audio/mpeg"}
_CHUNK = 64 * 1024
_RANGE = re.compile(r"bytes=(?P<first>[0-9]*)-(?P<last>[0-9]*)")


@dataclass(frozen=True)
class _Media:
    """A non-JSON answer: audio bytes, or a redirect when ``location`` is set."""

    data: bytes = b""
    content_type: str = ""
    location: str | None = None
    content_range: str | None = None
    accept_ranges: bool = False


def _span(requested: str, length: int) -> tuple[int, int] | None:
    """The first and last byte of one ``Range: bytes=...`` in a file of ``length`` bytes;
    None when it cannot be read or satisfied (several ranges included: not needed here)."""
    match = _RANGE.fullmatch(requested.strip())
    if match is None or not (match["first"] or match["last"]):
        return None
    if not match["first"]:
        suffix = int(match["last"])
        return (max(length - suffix, 0), length - 1) if suffix and length else None
    first = int(match["first"])
    last = int(match["last"]) if match["last"] else length - 1
    if first >= length or last < first:
        return None
    return first, min(last, length - 1)


def twilio_error(status: int, code: int | None, message: str) -> tuple[int, dict]:
    if code is None:  # an error Twilio gives no code for: twilio-python then reports the HTTP status
        return status, {"message": message, "status": status}
    return status, {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def handler_for(standin: TwilioStandin) -> type[BaseHTTPRequestHandler]:
    """The request handler of ``standin``'s server: each request answered from what it holds."""
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0 closes every connection after its answer; every answer has a Content-Length.
        protocol_version = "HTTP/1.1" if standin.keep_alive else "HTTP/1.0"
        # Headers and body leave in two writes: on a kept connection, Nagle's algorithm would hold
        # the body until the client's delayed ACK, 40 ms later.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            sending = self.command == "POST" and _MESSAGES_PATH.match(url.path) is not None
            if sending:
                standin._in_flight_change(+1)
            try:
                self._serve_request(url, raw, _single_values(raw).get("To") if sending else None)
            finally:
                if sending:
                    standin._in_flight_change(-1)

        def _serve_request(self, url, raw: str, to: str | None) -> None:
            fault = standin._next_fault(to)
            if standin.answer_delay and to is not None:
                time.sleep(standin.answer_delay)
            if fault is not None and fault.kind == "drop":
                self.close_connection = True
                return
            if fault is not None and fault.kind == "fail":
                self._answer(*twilio_error(fault.status, fault.code, fault.message), raw_body=fault.body)
                return
            status, payload = self._route(url.path, url.query, raw)
            if fault is not None and fault.kind == "accept_then_drop":
                self.close_connection = True
                return
            self._answer(status, payload)

        def _route(self, path: str, query: str, raw: str) -> tuple[int, dict | _Media]:
            media = _MEDIA_PATH.match(path)
            if media is not None and self.command == "GET":  # the media store: no auth, like a presigned URL
                standin.media_authorizations.append(self.headers.get("Authorization"))
                return self._recording(media["sid"], media["ext"], path)
            if not standin._authorised(self.headers.get("Authorization")):
                return twilio_error(401, 20003, "Authenticate")
            recording = _RECORDING_PATH.match(path)
            if recording is not None and recording["account"] == standin.account_sid and self.command == "GET":
                if standin._media_host is not None and recording["sid"] in standin.recordings:
                    port = standin._server.server_address[1]
                    location = f"http://{standin._media_host}:{port}/media/{recording['sid']}.{recording['ext']}"
                    return 302, _Media(location=location)
                return self._recording(recording["sid"], recording["ext"], path)
            listing = _RECORDINGS_PATH.match(path)
            if listing is not None and listing["account"] == standin.account_sid and self.command == "GET":
                return standin._list_recordings(_single_values(query))
            placing = _CALLS_PATH.match(path)
            if placing is not None and placing["account"] == standin.account_sid and self.command == "POST":
                return standin._place_call(parse_qs(raw, keep_blank_values=True))
            call = _CALL_PATH.match(path)
            if call is not None and call["account"] == standin.account_sid and self.command == "GET":
                return standin._call(call["sid"], path)
            match = _MESSAGES_PATH.match(path)
            if match is None or match["account"] != standin.account_sid:
                return twilio_error(404, 20404, f"The requested resource {path} was not found")
            if self.command == "POST":
                return standin._create(_single_values(raw))
            return standin._list(_single_values(query))

        def _recording(self, sid: str, ext: str, path: str) -> tuple[int, dict | _Media]:
            requested = self.headers.get("Range")
            with standin._lock:
                audio = standin.recordings.get(sid)
                standin.range_headers.append(requested)
            if audio is None:
                return twilio_error(404, 20404, f"The requested resource {path} was not found")
            if standin.ignore_ranges:
                return 200, _Media(audio, _AUDIO_TYPES[ext])
            if requested is None:
                return 200, _Media(audio, _AUDIO_TYPES[ext], accept_ranges=True)
            span = _span(requested, len(audio))
            if span is None:
                return 416, _Media(b"", _AUDIO_TYPES[ext], content_range=f"bytes */{len(audio)}", accept_ranges=True)
            first, last = span
            return 206, _Media(audio[first : last + 1], _AUDIO_TYPES[ext], accept_ranges=True,
                               content_range=f"bytes {first}-{last}/{len(audio)}")

        def _answer(self, status: int, payload: dict | _Media, raw_body: str | None = None) -> None:
            if isinstance(payload, _Media):
                data, content_type = payload.data, payload.content_type or "text/plain"
            else:
                data = (raw_body if raw_body is not None else json.dumps(payload)).encode()
                content_type = "application/json; charset=utf-8" if raw_body is None else "text/html"
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if isinstance(payload, _Media) and payload.location:
                self.send_header("Location", payload.location)
            if isinstance(payload, _Media) and payload.content_range:
                self.send_header("Content-Range", payload.content_range)
            if isinstance(payload, _Media) and payload.accept_ranges:
                self.send_header("Accept-Ranges", "bytes")
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
            self.end_headers()
            if isinstance(payload, _Media) and payload.data:
                self._write_audio(data)
            else:
                self.wfile.write(data)

        def _write_audio(self, data: bytes) -> None:
            pause = standin._pause
            for start in range(0, len(data), _CHUNK):
                if pause is not None and start >= pause[0] and not pause[1].is_set():
                    self.wfile.flush()
                    if not pause[1].wait(pause[2]):
                        standin.pause_timed_out = True
                    pause = None
                self.wfile.write(data[start : start + _CHUNK])

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep pytest's output to the test's own

    return Handler


def _single_values(encoded: str) -> dict[str, str]:
    # Twilio's Messages fields are single-valued (MediaUrl aside, which the stand-in ignores).
    return {key: values[0] for key, values in parse_qs(encoded, keep_blank_values=True).items()}
