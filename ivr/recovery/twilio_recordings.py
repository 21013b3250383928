"""Twilio's own record of the account's recordings and calls, read through its REST API.

``ivr reconcile`` compares it with the tickets. Like ``ivr.sms.gateway`` this is services-layer
code over the real ``twilio.rest.Client``; everything above it sees ``TwilioRecording``,
``TwilioCall`` and ``TwilioApiError``, never a twilio or requests exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient

from ..errors import TwilioApiError
from ..inputs import ascii_int
from ..twilio_rest import TWILIO_API_BASE_URL, http_failure, twilio_rest_client


@dataclass(frozen=True)
class TwilioRecording:
    """One Recording resource. ``url`` is the recording's address in the form Twilio's
    webhooks give as RecordingUrl (always on api.twilio.com, without an extension)."""

    sid: str
    call_sid: str | None
    source: str | None   # "RecordVerb" for <Record>; DialVerb, Conference, OutboundAPI, ...
    status: str | None   # in-progress, paused, stopped, processing, completed, absent, deleted
    duration: int | None
    date_created: datetime | None
    url: str


@dataclass(frozen=True)
class TwilioCall:
    """The fields of one Call resource that tell who called which number."""

    sid: str
    caller: str | None      # From: E.164, "anonymous", "client:...", "sip:..."
    called: str | None      # To
    direction: str | None   # inbound, outbound-api, outbound-dial, ...
    start_time: datetime | None


class RecordingSource(Protocol):
    def recordings_since(self, since: datetime) -> list[TwilioRecording]:
        """Every recording created at or after ``since``, newest first; raises ``TwilioApiError``."""
        ...

    def call(self, call_sid: str) -> TwilioCall:
        """The call ``call_sid``; raises ``TwilioApiError``."""
        ...


class TwilioRecordings:
    """``RecordingSource`` over the real ``twilio.rest.Client``. ``base_url`` replaces
    https://api.twilio.com (TWILIO_API_BASE_URL), e.g. for a local stand-in; ``page_size``
    is how many recordings each list request asks for (Twilio allows up to 1000)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str = TWILIO_API_BASE_URL,
        timeout: float = 10.0,
        page_size: int = 200,
    ) -> None:
        self._account_sid = account_sid
        self._base_url = base_url.rstrip("/")
        self._page_size = page_size
        self._client = twilio_rest_client(account_sid, auth_token, base_url, TwilioHttpClient(timeout=timeout))

    def recordings_since(self, since: datetime) -> list[TwilioRecording]:
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        # twilio-python formats the datetime as it is, with a "Z": it has to be in UTC already.
        after = since.astimezone(timezone.utc)
        try:
            found = self._client.recordings.list(date_created_after=after, page_size=self._page_size)
            return [self._recording(r) for r in found]
        except (TwilioException, requests.RequestException) as exc:
            raise self._error(exc, "listing the recordings") from exc

    def call(self, call_sid: str) -> TwilioCall:
        try:
            call = self._client.calls(call_sid).fetch()
        except (TwilioException, requests.RequestException) as exc:
            raise self._error(exc, f"fetching call {call_sid}") from exc
        # twilio-python names the From field ``_from`` (``from`` is a Python keyword).
        caller = getattr(call, "from_", None) or getattr(call, "_from", None)
        return TwilioCall(call.sid or call_sid, caller, call.to, call.direction, call.start_time)

    def _recording(self, r) -> TwilioRecording:
        account = r.account_sid or self._account_sid
        return TwilioRecording(
            sid=r.sid, call_sid=r.call_sid, source=r.source, status=r.status,
            duration=ascii_int(r.duration, max_digits=6), date_created=r.date_created,
            url=f"{TWILIO_API_BASE_URL}/2010-04-01/Accounts/{account}/Recordings/{r.sid}",
        )

    def _error(self, exc: Exception, doing: str) -> TwilioApiError:
        if isinstance(exc, requests.RequestException):
            return TwilioApiError(f"Twilio could not be reached at {self._base_url} ({doing}): {exc.__class__.__name__}")
        status, code, message = http_failure(exc)
        if status is None:
            return TwilioApiError(f"Twilio could not be reached at {self._base_url} ({doing}): {message}")
        detail = f" (error {code})" if code else ""
        return TwilioApiError(f"Twilio answered HTTP {status}{detail} {doing}: {message}", status)
