"""How the softphone's signed form posts reach the hotline: over HTTP, or straight into a WSGI app."""

from __future__ import annotations

from typing import Protocol

from ..errors import HotlineUnreachable


class Transport(Protocol):
    """Sends one signed form post and returns (status code, body)."""

    def post(self, url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]: ...


class HttpTransport:
    """Real HTTP, for a hotline running in another process."""

    def __init__(self, timeout: float = 15.0) -> None:
        import requests

        self._session, self._timeout = requests.Session(), timeout

    def post(self, url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        import requests

        try:
            reply = self._session.post(url, data=data, headers=headers, timeout=self._timeout)
        except requests.Timeout:
            raise HotlineUnreachable(f"{url} did not answer within {self._timeout:g} s") from None
        except requests.ConnectionError:
            raise HotlineUnreachable(f"nothing answers at {url}: is `ivr serve` running there? (--url says where)") from None
        return reply.status_code, reply.text


class WsgiTransport:
    """Straight into a WSGI app (the whole Flask stack, no socket)."""

    def __init__(self, app) -> None:
        from werkzeug.test import Client

        self._client = Client(app)

    def post(self, url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        reply = self._client.post(url, data=data, headers=headers)
        return reply.status_code, reply.get_data(as_text=True)
