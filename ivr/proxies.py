"""Who may tell the hotline which URL Twilio called: a known number of reverse proxies.

Twilio signs the public URL. A reverse proxy that rewrites it says what it was in
X-Forwarded-Proto/-Host (and -For, -Port, -Prefix), but any client can send those headers:
they count only when IVR_TRUSTED_PROXIES says how many proxies stand in front, and then
Werkzeug's ProxyFix takes the value the last of them appended. IVR_PUBLIC_URL overrides all
of it. Neither server applies or drops the headers on its own (waitress through
``waitress_options``, gunicorn through gunicorn.conf.py), so both behave the same.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from .errors import ConfigError
from .inputs import ascii_int

ENV_VAR = "IVR_TRUSTED_PROXIES"


def trusted_proxies(text: str | None) -> int:
    """The number of trusted reverse proxies written in IVR_TRUSTED_PROXIES (unset: none)."""
    count = ascii_int((text or "0").strip(), max_digits=1)
    if count is None:
        raise ConfigError([f'{ENV_VAR}: "{text}" is not a number of reverse proxies from 0 to 9'])
    return count


def trust_proxies(app: Flask) -> None:
    """Apply the X-Forwarded-* values appended by the app's ``TRUSTED_PROXIES`` proxies, if any."""
    count = app.config["TRUSTED_PROXIES"]
    if count:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count, x_prefix=count
        )


def waitress_options(app: Flask) -> dict[str, Any]:
    """waitress drops X-Forwarded-* it was not told to trust: keep them for ProxyFix when it applies them."""
    return {"clear_untrusted_proxy_headers": not app.config["TRUSTED_PROXIES"]}
