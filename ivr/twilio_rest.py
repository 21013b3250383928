"""Twilio's REST client as every service here uses it (SMS, calls, recordings): the account's
``twilio.rest.Client`` sent to api.twilio.com or to a stand-in, and its failures read out of
the shapes twilio raises them in."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from twilio.base.exceptions import TwilioRestException, TwilioServiceException

if TYPE_CHECKING:
    from twilio.http import HttpClient
    from twilio.rest import Client

TWILIO_API_BASE_URL = "https://api.twilio.com"


def twilio_rest_client(account_sid: str, auth_token: str, base_url: str, http_client: HttpClient) -> Client:
    """The real ``twilio.rest.Client`` of this account, its API requests sent to ``base_url``."""
    require_credentials(account_sid, auth_token)
    from twilio.rest import Client  # here, where a client is built: see ivr.sms.gateway.TwilioGateway._client

    client = Client(account_sid, auth_token, http_client=http_client)
    if base_url.rstrip("/") != TWILIO_API_BASE_URL:
        redirect_client(client, base_url)
    return client


def require_credentials(account_sid: str, auth_token: str) -> None:
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
