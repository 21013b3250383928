"""The only code that talks to Twilio's Messages API: send an SMS, or ask whether one was sent.

Everything above this module sees ``OutgoingSms``/``SentSms`` and the two ``SmsError``
subclasses, never a twilio exception, so the retry policy lives in one place:
``SmsTemporaryError`` may be retried later, ``SmsPermanentError`` never.

A failure is not proof that Twilio did not accept the message: a timeout after the
request went out looks the same as one before it. Callers that retry should first ask
``find_sent`` so that a complainant does not receive the same SMS twice.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Protocol

from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException

if TYPE_CHECKING:
    from twilio.http import HttpClient
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

from .errors import SmsError, SmsPermanentError, SmsTemporaryError

TWILIO_API_BASE_URL = "https://api.twilio.com"

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

    def find_sent(self, to: str, body: str, since: datetime) -> SentSms | None:
        """The SMS with exactly this ``to`` and ``body`` accepted since ``since``, if any.

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
        _require_credentials(account_sid, auth_token)  # refused now, not at the first SMS

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

    def find_sent(self, to: str, body: str, since: datetime) -> SentSms | None:
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
            if message.body == body and message.date_created is not None and message.date_created >= earliest:
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


def twilio_rest_client(account_sid: str, auth_token: str, base_url: str, http_client: HttpClient) -> Client:
    """The real ``twilio.rest.Client`` of this account, its API requests sent to ``base_url``."""
    _require_credentials(account_sid, auth_token)
    from twilio.rest import Client  # here, where a client is built: see TwilioGateway._client

    client = Client(account_sid, auth_token, http_client=http_client)
    if base_url.rstrip("/") != TWILIO_API_BASE_URL:
        redirect_client(client, base_url)
    return client


def _require_credentials(account_sid: str, auth_token: str) -> None:
    if not account_sid or not auth_token:
        # twilio.rest.Client would silently fall back to TWILIO_* environment variables.
        raise ValueError("a Twilio client needs an account SID and an auth token (a local trial has none)")


def redirect_client(client: Client, base_url: str) -> None:
    """Send the client's 2010-04-01 API requests (Messages, Recordings, Calls) to ``base_url``
    instead of api.twilio.com.

    ``Domain.base_url`` is the one place twilio-python builds the API's URLs from (including
    next-page links). Edge and region (TWILIO_EDGE/TWILIO_REGION) rewrite the host name and
    would mangle a host such as 127.0.0.1:8080, so they are switched off here.
    """
    client.api.base_url = base_url.rstrip("/")
    client.edge = None
    client.region = None


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


def http_failure(exc: Exception) -> tuple[int | None, int | None, str]:
    """HTTP status, Twilio error code and message out of the three shapes twilio raises."""
    if isinstance(exc, TwilioRestException):
        return exc.status, _twilio_code(exc.code, exc.status), exc.msg
    if isinstance(exc, TwilioServiceException):
        return exc.status, _twilio_code(exc.code, exc.status), exc.detail or exc.title
    # A list page that is not 200 comes as TwilioException("Unable to fetch page", response).
    response = exc.args[1] if len(exc.args) > 1 else None
    status = getattr(response, "status_code", None)
    if status is None:
        return None, None, str(exc.args[0] if exc.args else exc.__class__.__name__)
    payload = _json_object(getattr(response, "text", ""))
    message = f"{exc.args[0]}: {payload.get('message', '')}".rstrip(": ")
    return status, _twilio_code(payload.get("code"), status), message


def _twilio_code(code: object, status: int) -> int | None:
    # Without a code in the body twilio fills in the HTTP status; that is not a Twilio error code.
    try:
        number = int(code)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return None if number == status else number


def _json_object(text: str) -> dict:
    try:
        payload = json.loads(text)
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


class LogGateway:
    """For a local trial without Twilio credentials: logs each SMS instead of sending it."""

    def send(self, sms: OutgoingSms) -> SentSms:
        sid = "LG" + uuid.uuid4().hex  # 34 characters, like a Twilio SID
        sender = sms.messaging_service_sid or sms.sender
        log.warning("SMS not sent: no Twilio credentials. %s to %s from %s: %r", sid, sms.to, sender, sms.body)
        return SentSms(sid=sid, status="logged")

    def find_sent(self, to: str, body: str, since: datetime) -> SentSms | None:
        # Nothing ever reaches a phone, so re-"sending" after a crash cannot duplicate anything.
        return None


def make_gateway(config: dict[str, Any]) -> SmsGateway:
    """Twilio when the account's credentials are set; otherwise (a local trial) the log."""
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    if sid and token and not config.get("LOCAL_TRIAL_TOKEN"):
        return TwilioGateway(sid, token, base_url=config.get("TWILIO_API_BASE_URL") or TWILIO_API_BASE_URL)
    return LogGateway()
