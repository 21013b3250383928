"""The only code that talks to Twilio's Messages API: send an SMS, or ask whether one was sent.

Everything above this module sees ``OutgoingSms``/``SentSms`` and the two ``SmsError``
subclasses, never a twilio exception, so the retry policy lives in one place:
``SmsTemporaryError`` may be retried later, ``SmsPermanentError`` never.

A failure is not proof that Twilio did not accept the message: a timeout after the
request went out looks the same as one before it. Callers that retry should first ask
``find_sent`` so that a complainant does not receive the same SMS twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from twilio.base.exceptions import TwilioException

if TYPE_CHECKING:
    from twilio.http import HttpClient
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

from ..errors import SmsError, SmsPermanentError, SmsTemporaryError
from ..twilio_rest import TWILIO_API_BASE_URL, http_failure, require_credentials, twilio_rest_client

log = logging.getLogger("ivr.sms")

# 408 and 429 say "not now" rather than "never"; every 5xx is Twilio's problem, not ours.
_RETRYABLE_STATUSES = {408, 429}
# Twilio's list is newest first; a caller gets a handful of SMS, so this reaches far back.
_FIND_LIMIT = 50
# Twilio stamps date_created to the second and its clock is not ours.
_CLOCK_SLACK = timedelta(minutes=1)


@dataclass(frozen=True)
class OutgoingSms:
    """One SMS to send. ``sender`` is used only when there is no messaging service."""

    to: str
    body: str
    sender: str | None
    messaging_service_sid: str | None = None
    status_callback: str | None = None

    def __post_init__(self) -> None:
        # Twilio would refuse it with 21603; a programming error should fail here, not in a retry queue.
        if not self.sender and not self.messaging_service_sid:
            raise ValueError("an SMS needs a sender or a messaging service")


@dataclass(frozen=True)
class SentSms:
    """Twilio's Message SID (SM...) and its status when we last heard (queued, accepted, sent...)."""

    sid: str
    status: str


class SmsGateway(Protocol):
    def send(self, sms: OutgoingSms) -> SentSms:
        """Hand the SMS to the provider; raise ``SmsTemporaryError`` or ``SmsPermanentError``."""
        ...

    def find_sent(self, to: str, body: str, since: datetime, taken: Collection[str] = ()) -> SentSms | None:
        """The SMS with exactly this ``to`` and ``body`` accepted since ``since``, if any, but for
        those in ``taken`` (other SMS of the outbox with the same text, such as the same
        acknowledgement twice: one is not the other).

        Used after a crash between "sent" and "recorded as sent"."""
        ...


class TwilioGateway:
    """``SmsGateway`` over the real ``twilio.rest.Client``; safe to use from several threads at once.

    ``base_url`` replaces https://api.twilio.com (TWILIO_API_BASE_URL), e.g. for a local
    stand-in. ``http_client`` replaces the default one, which times out after ``timeout``
    seconds and never retries on its own; a given one is shared by every thread, so it must
    be thread-safe itself.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        base_url: str = TWILIO_API_BASE_URL,
        timeout: float = 10.0,
        http_client: HttpClient | None = None,
    ) -> None:
        require_credentials(account_sid, auth_token)  # refused now, not at the first SMS

        def new_client() -> Client:
            return twilio_rest_client(account_sid, auth_token, base_url, http_client or _http_client(base_url, timeout))

        # One client per thread, each made at its thread's first SMS: TwilioHttpClient keeps the
        # last request and answer on itself, and its requests.Session is not documented as
        # thread-safe; and twilio's REST API and requests take ~0.2 s to import, which a web
        # worker that never sends (the SMS leave from the dispatcher) need not pay at start-up.
        self._new_client = new_client
        self._clients = threading.local()

    @property
    def _client(self) -> Client:
        client = getattr(self._clients, "client", None)
        if client is None:
            client = self._clients.client = self._new_client()
        return client

    def warm_up(self) -> None:
        """Load the Messages API now: twilio imports it on first use, a third of a second that
        would otherwise delay the first SMS."""
        self._client.messages  # noqa: B018 (the attribute access is the point)

    def send(self, sms: OutgoingSms) -> SentSms:
        # With a messaging service Twilio picks the sender, so From is left out on purpose.
        service = sms.messaging_service_sid
        sender = {"messaging_service_sid": service} if service else {"from_": sms.sender}
        import requests  # here, not at start-up: the client imports it anyway (see _client)

        try:
            message = self._client.messages.create(
                to=sms.to, body=sms.body, status_callback=sms.status_callback, **sender
            )
        except (TwilioException, requests.RequestException) as exc:
            raise _sms_error(exc) from exc
        return SentSms(sid=message.sid, status=message.status)

    def find_sent(self, to: str, body: str, since: datetime, taken: Collection[str] = ()) -> SentSms | None:
        """Look for the SMS in Twilio's log; list errors are classified like ``send``'s.

        Filters by ``To`` only and compares date_created here: Twilio's DateSent filter
        works on whole days and skips messages still queued, which have no date_sent yet.
        """
        if since.tzinfo is None:
            raise ValueError("since must be timezone-aware")
        earliest = since.astimezone(timezone.utc) - _CLOCK_SLACK
        import requests  # here, not at start-up: the client imports it anyway (see _client)

        try:
            messages = self._client.messages.list(to=to, limit=_FIND_LIMIT)
        except (TwilioException, requests.RequestException) as exc:
            raise _sms_error(exc) from exc
        for message in messages:  # newest first
            if (message.body == body and message.sid not in taken
                    and message.date_created is not None and message.date_created >= earliest):
                return SentSms(sid=message.sid, status=message.status)
        return None


def _http_client(base_url: str, timeout: float) -> TwilioHttpClient:
    """Twilio's HTTP client as the SMS need it: no retries of its own (a retry inside requests
    could send an SMS twice, and would hide the failure), and the environment's proxy and CA
    settings read once rather than on every request (requests scans all of os.environ each time)."""
    from twilio.http.http_client import TwilioHttpClient  # imports requests: see TwilioGateway

    http_client = TwilioHttpClient(timeout=timeout, max_retries=0)
    session = http_client.session
    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.trust_env = False
    return http_client


def _sms_error(exc: Exception) -> SmsError:
    """Translate a twilio or requests exception into a temporary or permanent ``SmsError``."""
    import requests

    if isinstance(exc, requests.RequestException):
        return SmsTemporaryError(f"Twilio could not be reached: {exc.__class__.__name__}: {exc}")
    status, code, message = http_failure(exc)
    if status is None:
        # Most likely a network error wrapped by twilio; it may have gone through, so retry (after find_sent).
        return SmsTemporaryError(f"Twilio request failed: {message}", code)
    text = f"Twilio answered HTTP {status}" + (f" (error {code})" if code else "") + f": {message}"
    if status in _RETRYABLE_STATUSES or status >= 500:
        return SmsTemporaryError(text, code)
    return SmsPermanentError(text, code)


class LogGateway:
    """For a local trial without Twilio credentials: logs each SMS instead of sending it."""

    def send(self, sms: OutgoingSms) -> SentSms:
        sid = "LG" + uuid.uuid4().hex  # 34 characters, like a Twilio SID
        sender = sms.messaging_service_sid or sms.sender
        log.warning("SMS not sent: no Twilio credentials. %s to %s from %s: %r", sid, sms.to, sender, sms.body)
        return SentSms(sid=sid, status="logged")

    def find_sent(self, to: str, body: str, since: datetime, taken: Collection[str] = ()) -> SentSms | None:
        # Nothing ever reaches a phone, so re-"sending" after a crash cannot duplicate anything.
        return None


def make_gateway(config: dict[str, Any]) -> SmsGateway:
    """Twilio when the account's credentials are set; otherwise (a local trial) the log."""
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    if sid and token and not config.get("LOCAL_TRIAL_TOKEN"):
        return TwilioGateway(sid, token, base_url=config.get("TWILIO_API_BASE_URL") or TWILIO_API_BASE_URL)
    return LogGateway()
