"""The only code that places a phone call through Twilio's REST API (Calls.create), for callbacks.

Everything above this module sees ``OutgoingCall`` and ``DialError``, never a twilio exception.
A call is never retried here: a timeout after the request went out may still have rung the
operator, and a second ring is worse than an operator pressing "call back" again.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from twilio.base.exceptions import TwilioException

from .twilio_rest import TWILIO_API_BASE_URL, http_failure, twilio_rest_client

if TYPE_CHECKING:
    from twilio.rest import Client

# What the status callback of the operator's leg is sent for.
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]


class DialError(Exception):
    """Twilio did not take the call; ``str()`` says why, for the operator."""


@dataclass(frozen=True)
class OutgoingCall:
    """Ring ``to`` showing ``caller_id``; when answered Twilio fetches the TwiML at ``url``, and
    reports the call's progress to ``status_callback``. Both URLs are absolute."""

    to: str
    caller_id: str
    url: str
    status_callback: str
    ring_seconds: int = 30


class CallDialer(Protocol):
    def place(self, call: OutgoingCall) -> str:
        """Start the call and return its CallSid; raise ``DialError`` when Twilio does not take it."""
        ...


class TwilioDialer:
    """``CallDialer`` over the real ``twilio.rest.Client``; ``base_url`` replaces https://api.twilio.com."""

    def __init__(self, account_sid: str, auth_token: str, base_url: str = TWILIO_API_BASE_URL, timeout: float = 10.0) -> None:
        self._credentials, self._timeout = (account_sid, auth_token, base_url), timeout

    @cached_property
    def _client(self) -> Client:
        # Built at the first callback, not in every web worker's start-up (see TwilioGateway._client).
        from twilio.http.http_client import TwilioHttpClient

        return twilio_rest_client(*self._credentials, TwilioHttpClient(timeout=self._timeout, max_retries=0))

    def place(self, call: OutgoingCall) -> str:
        import requests  # here, not at start-up: the client imports it anyway (see _client)

        try:
            created = self._client.calls.create(
                to=call.to, from_=call.caller_id, url=call.url, method="POST", timeout=call.ring_seconds,
                status_callback=call.status_callback, status_callback_method="POST",
                status_callback_event=STATUS_EVENTS,
            )
        except requests.RequestException as exc:
            raise DialError(f"Twilio could not be reached: {exc.__class__.__name__}") from exc
        except TwilioException as exc:
            status, code, message = http_failure(exc)
            answer = f"HTTP {status}" + (f" (error {code})" if code else "") if status else "no answer"
            raise DialError(f"Twilio refused the call: {answer}: {message}") from exc
        return created.sid


def make_dialer(config: dict[str, Any]) -> CallDialer | None:
    """Twilio when the account's credentials are set; None in a local trial (no call can be placed)."""
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    if sid and token and not config.get("LOCAL_TRIAL_TOKEN"):
        return TwilioDialer(sid, token, base_url=config.get("TWILIO_API_BASE_URL") or TWILIO_API_BASE_URL)
    return None
