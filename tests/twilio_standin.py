"""A local HTTP stand-in for Twilio's Messages, Recordings and Calls APIs, for tests over real HTTP.

What it imitates (the 2010-04-01 REST API, as twilio-python reads it):

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with form fields To, From or
  MessagingServiceSid, Body and StatusCallback. HTTP Basic auth must be the account SID
  and auth token given at construction, else 401 with Twilio's error 20003. A missing To,
  sender or Body gets Twilio's 400 (21604, 21603, 21602). Success is 201 with a Message
  resource: sid "SM" + 32 hex, status "queued" ("accepted" with a messaging service, when
  Twilio also leaves ``from`` null), date_sent null, dates in RFC 2822.
* ``GET`` on the same path: the list shape (``messages``, ``page``, ``page_size``,
  ``next_page_uri``...), newest first, filtered by To, From, DateSent, DateSent< and
  DateSent> (inclusive, like Twilio's ``DateSent>=``; a bare date means midnight UTC).
* ``GET /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.wav`` (and ``.mp3``):
  the audio of a recording registered with ``add_recording(sid)``, a 1-second 8 kHz mono
  16-bit WAV, Content-Type ``audio/x-wav``. ``.mp3`` serves the same WAV bytes labelled
  ``audio/mpeg``: enough to test that the format reaches the URL, not a real MP3. Same
  Basic auth as Messages; an unknown SID is Twilio's 404 (20404), as for a deleted one.
  One byte range (``Range: bytes=0-99``, ``bytes=1000-``, ``bytes=-500``) is answered 206
  with Content-Range, one it cannot satisfy or read 416 with ``Content-Range: bytes */LENGTH``,
  like Twilio's media storage; ``ignore_ranges = True`` answers 200 with the whole file
  instead, as a server without range support does (RFC 9110 allows it). The body is written
  in chunks of 64 KiB; ``pause_recordings_after(n)`` holds every recording answer after its
  first ``n`` bytes until the event it returns is set, to show that a client streams.
  ``redirect_recordings_to(host)`` makes it answer 302 to ``http://{host}:{port}/media/...``
  instead (Twilio's hand-off to its media storage), served without auth; the Authorization
  header each media request carried is kept in ``media_authorizations``.
* ``GET /2010-04-01/Accounts/{AccountSid}/Recordings.json``: the Recording list of what
  ``add_call_recording`` registered, newest first, in the list shape twilio-python reads
  (``recordings``, ``page``, ``page_size``, ``next_page_uri``...), filtered by CallSid,
  DateCreated (that UTC day), DateCreated> and DateCreated< (inclusive, like Twilio's
  ``DateCreated>=``; a bare date means midnight UTC). Pages of ``PageSize`` (default 50)
  with ``Page=N``; ``next_page_uri`` keeps the filters and is null on the last page.
  Each Recording has sid, call_sid, source (``RecordVerb`` for <Record>), status, duration
  (a string, as Twilio gives it), date_created/start_time in RFC 2822 and uri.
* ``GET /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json``: the Call resource of a
  call ``add_call_recording`` registered (from, to, direction, status completed,
  start_time...); an unknown SID is Twilio's 404 (20404).
* ``POST /2010-04-01/Accounts/{AccountSid}/Calls.json`` (Calls.create, an outbound call): form
  fields To, From, Url, Method, StatusCallback, StatusCallbackEvent (repeated: every value is
  kept), StatusCallbackMethod and Timeout, stored in ``placed_calls`` as dicts with those
  keys in snake case (``status_callback_event`` a list). A missing To, From or Url gets
  Twilio's 400 (21201, 21213, 21205). Success is 201 with a Call resource: sid "CA" + 32 hex,
  status "queued", direction "outbound-api". Nothing is dialled and no webhook is requested:
  a test plays Twilio's part by posting to the URLs itself.
* Errors in Twilio's JSON shape: ``{"code", "message", "more_info", "status"}``.
* Faults scripted in order, consumed one per request before normal behaviour:
  ``fail_next(status, code, message)``, ``drop_next()`` (close the connection without an
  answer) and ``accept_then_drop_next()`` (store the message, then close without an answer).
  They apply to every request, recordings and media included; with ``to=`` a fault waits for
  the next Messages POST to that number instead (messages sent together, in any order).
* Load: ``answer_delay`` (seconds) holds every Messages POST before it is answered, and
  ``max_in_flight`` is the most Messages POSTs it was answering at once; ``keep_alive=True``
  (HTTP/1.1) keeps a client's connection open between requests, as Twilio does.

What it does not imitate: delivery (a stored message turns "sent" at once, with date_sent =
date_created, and no status callback is ever made), other resources, media, paging of
Messages beyond the first page (``PageSize`` newest messages, ``next_page_uri`` always
null), Twilio's ``PageToken`` (pages are counted with ``Page`` alone), the Calls list, the
progress of a placed call, a
single recording's metadata (``Recordings/{sid}.json``) and the extension-less recording
URL, calls' child legs, prices, number validation, opt-outs, rate limits and the RFC 9457
error shape of newer Twilio APIs.

This module holds what the stand-in keeps and answers; ``twilio_standin_http`` serves it over
HTTP, and ``twilio_standin_resources`` writes its answers in Twilio's JSON.
"""

from __future__ import annotations

import base64
import secrets
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from urllib.parse import urlencode

from twilio_standin_http import handler_for, twilio_error
from twilio_standin_resources import (
    call_resource, message_matches, message_resource, placed_call_resource, recording_matches, recording_resource, wav_tone,
)

# Twilio's own code and message for the statuses a test is likely to script.
_DEFAULT_ERRORS = {
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
    503: (20503, "Service unavailable"),
}


@dataclass(frozen=True)
class _Fault:
    kind: str  # "fail", "drop" or "accept_then_drop"
    to: str | None = None  # only for a Messages POST to this number
    status: int = 0
    code: int | None = None
    message: str | None = None
    body: str | None = None


class TwilioStandin:
    """The stand-in server. Use as a context manager: ``with TwilioStandin() as twilio: ...``.

    ``messages`` holds what was accepted (dicts with sid, to, from, messaging_service_sid,
    body, status_callback, status, date_created); ``requests`` counts every request received;
    ``recordings`` maps a recording SID to its WAV bytes (delete one to imitate a deletion,
    or set one to serve other bytes); ``range_headers`` holds the Range header (or None) of
    each recording request;
    ``recording_list`` and ``calls`` hold the Recording and Call resources' fields, as dicts,
    of what ``add_call_recording`` registered.
    """

    def __init__(self, account_sid: str = "AC" + "5" * 32, auth_token: str = "standin-auth-token",
                 keep_alive: bool = False) -> None:
        self.account_sid = account_sid
        self.keep_alive = keep_alive
        self.answer_delay = 0.0
        self.max_in_flight = 0
        self._in_flight = 0
        self.auth_token = auth_token
        self.messages: list[dict] = []
        self.recordings: dict[str, bytes] = {}
        self.recording_list: list[dict] = []
        self.calls: dict[str, dict] = {}
        self.placed_calls: list[dict] = []
        self.media_authorizations: list[str | None] = []
        self.range_headers: list[str | None] = []
        self.ignore_ranges = False
        self.pause_timed_out = False
        self._pause: tuple[int, threading.Event, float] | None = None
        self.requests = 0
        self._media_host: str | None = None
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> TwilioStandin:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(self))
        # A short poll interval keeps stop() fast; the default would add half a second per test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TwilioStandin:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- recordings --------------------------------------------------------

    def add_recording(self, sid: str, seconds: float = 1.0) -> bytes:
        """Register a recording (a quiet tone whose pitch depends on ``sid``, ``seconds`` long)
        and return its WAV bytes."""
        audio = wav_tone(200 + zlib.crc32(sid.encode()) % 600, seconds)
        with self._lock:
            self.recordings[sid] = audio
        return audio

    def add_call_recording(
        self,
        call_sid: str,
        from_: str,
        to: str,
        date_created: datetime,
        duration: int = 30,
        *,
        source: str = "RecordVerb",
        status: str = "completed",
        direction: str = "inbound",
    ) -> str:
        """Register a recording of ``call_sid`` made at ``date_created`` (timezone-aware), and the
        call itself the first time its SID is seen; returns the new recording's SID (its audio
        is served too). Defaults are a voicemail: <Record> on an inbound call, completed."""
        sid = "RE" + secrets.token_hex(16)
        created = date_created.astimezone(timezone.utc)
        with self._lock:
            self.calls.setdefault(call_sid, {
                "sid": call_sid, "from": from_, "to": to, "direction": direction,
                "start_time": created - timedelta(seconds=60),
            })
            self.recording_list.append({
                "sid": sid, "call_sid": call_sid, "source": source, "status": status,
                "duration": str(duration), "date_created": created,
            })
        self.add_recording(sid)
        return sid

    def pause_recordings_after(self, size: int, limit: float = 10.0) -> threading.Event:
        """Hold each recording answer after its first ``size`` bytes until the returned event is
        set; after ``limit`` seconds it goes on regardless and ``pause_timed_out`` turns True
        (a client that waited for the whole file before passing any of it on)."""
        release = threading.Event()
        self._pause = (size, release, limit)
        return release

    def redirect_recordings_to(self, host: str) -> None:
        """Answer recording requests with a 302 to ``host`` (say, "localhost" for a host other
        than 127.0.0.1 on this same server), as Twilio hands off to its media storage."""
        self._media_host = host

    # -- scripted faults ---------------------------------------------------

    def fail_next(self, status: int, code: int | None = None, message: str | None = None, body: str | None = None,
                  to: str | None = None) -> None:
        """Answer the next request (to ``to``) with an error; ``body`` replaces Twilio's JSON (say, a proxy's HTML page)."""
        default_code, default_message = _DEFAULT_ERRORS.get(status, (None, f"HTTP {status}"))
        code = default_code if code is None else code
        self._push(_Fault("fail", to, status, code, message or default_message, body))

    def drop_next(self, to: str | None = None) -> None:
        """Close the next connection (of a message to ``to``) without answering and without storing anything."""
        self._push(_Fault("drop", to))

    def accept_then_drop_next(self, to: str | None = None) -> None:
        """Handle the next request (to ``to``) normally (store the message) but close without answering."""
        self._push(_Fault("accept_then_drop", to))

    def _push(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _next_fault(self, to: str | None) -> _Fault | None:
        """The first fault for this request: one for any request, or one for its To."""
        with self._lock:
            self.requests += 1
            for index, fault in enumerate(self._faults):
                if fault.to is None or fault.to == to:
                    return self._faults.pop(index)
            return None

    def _in_flight_change(self, by: int) -> None:
        with self._lock:
            self._in_flight += by
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    # -- the API -----------------------------------------------------------

    def _authorised(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def _create(self, form: dict[str, str]) -> tuple[int, dict]:
        if not form.get("To"):
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return twilio_error(400, 21602, "Message body is required.")
        service = form.get("MessagingServiceSid")
        stored = {
            "sid": "SM" + secrets.token_hex(16),
            "to": form["To"],
            "from": None if service else form["From"],
            "messaging_service_sid": service,
            "body": form["Body"],
            "status_callback": form.get("StatusCallback"),
            "status": "accepted" if service else "queued",
            "date_created": datetime.now(timezone.utc),
        }
        answer = message_resource(self.account_sid, stored, date_sent=None)
        with self._lock:
            self.messages.append(stored)
        return 201, answer

    def _list(self, query: dict[str, str]) -> tuple[int, dict]:
        page_size = int(query.get("PageSize", "50"))
        with self._lock:
            found = [m for m in reversed(self.messages) if message_matches(m, query)]
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        first = f"{path}?PageSize={page_size}&Page=0"
        return 200, {
            "messages": [message_resource(self.account_sid, {**m, "status": "sent"}, m["date_created"]) for m in found[:page_size]],
            "end": max(0, min(len(found), page_size) - 1),
            "first_page_uri": first,
            "next_page_uri": None,
            "page": 0,
            "page_size": page_size,
            "previous_page_uri": None,
            "start": 0,
            "uri": first,
        }

    def _place_call(self, form: dict[str, list[str]]) -> tuple[int, dict]:
        field = lambda name: (form.get(name) or [""])[0]  # noqa: E731
        if not field("To"):
            return twilio_error(400, 21201, "No 'To' number is specified")
        if not field("From"):
            return twilio_error(400, 21213, "No 'From' number is specified")
        if not field("Url"):
            return twilio_error(400, 21205, "Url parameter is required")
        now = datetime.now(timezone.utc)
        placed = {
            "sid": "CA" + secrets.token_hex(16), "to": field("To"), "from": field("From"), "url": field("Url"),
            "method": field("Method"), "status_callback": field("StatusCallback"),
            "status_callback_event": form.get("StatusCallbackEvent", []),
            "status_callback_method": field("StatusCallbackMethod"), "timeout": field("Timeout"),
        }
        with self._lock:
            self.placed_calls.append(placed)
        return 201, placed_call_resource(self.account_sid, placed, now)

    def _list_recordings(self, query: dict[str, str]) -> tuple[int, dict]:
        page_size, page = int(query.get("PageSize", "50")), int(query.get("Page", "0"))
        with self._lock:
            found = sorted(
                (r for r in self.recording_list if recording_matches(r, query)),
                key=lambda r: r["date_created"], reverse=True,
            )
        path = f"/2010-04-01/Accounts/{self.account_sid}/Recordings.json"
        filters = {k: v for k, v in query.items() if k not in ("Page", "PageSize", "PageToken")}

        def page_uri(number: int) -> str:
            return f"{path}?{urlencode({**filters, 'PageSize': page_size, 'Page': number})}"

        start = page * page_size
        shown = found[start : start + page_size]
        return 200, {
            "recordings": [recording_resource(self.account_sid, r) for r in shown],
            "end": start + max(0, len(shown) - 1),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1) if start + page_size < len(found) else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }

    def _call(self, sid: str, path: str) -> tuple[int, dict]:
        with self._lock:
            call = self.calls.get(sid)
        if call is None:
            return twilio_error(404, 20404, f"The requested resource {path} was not found")
        return 200, call_resource(self.account_sid, sid, call)
