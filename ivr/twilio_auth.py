"""Checking that a webhook really comes from Twilio (X-Twilio-Signature)."""

from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlparse, urlsplit

from flask import abort, current_app, request
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    add_port,
    get_signature_algorithm,
    remove_port,
)
from werkzeug.sansio.utils import get_current_url

from .inputs import matches

log = logging.getLogger(__name__)
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
TOKEN_FILE = "twilio_auth_token"
# What Werkzeug's url_for leaves unquoted in a path (its converters' safe characters).
_PATH_SAFE = "/!$&'()*+,:;=@"


def _from_wsgi(text: str) -> str:
    """A WSGI environ string (bytes as latin-1, PEP 3333) read as the UTF-8 the client sent."""
    try:
        return text.encode("latin-1").decode("utf-8", errors="replace")
    except UnicodeEncodeError:  # a server that already decoded it
        return text


def _target_as_sent() -> str:
    """The path and query string below the app's mount point, percent-encoding kept as sent.

    Werkzeug decodes the path (``plăți``) but Twilio signs the URL it requested
    (``pl%C4%83%C8%9Bi``). Servers pass the request line on as RAW_URI (gunicorn) or
    REQUEST_URI (waitress, Werkzeug); without it the path is quoted again as url_for quotes it.
    """
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not raw:
        query = _from_wsgi(environ.get("QUERY_STRING", ""))
        return quote(request.path, safe=_PATH_SAFE) + (f"?{query}" if query else "")
    parts = urlsplit(_from_wsgi(raw))  # an absolute-form request line carries a scheme and host too
    # ProxyFix may have replaced SCRIPT_NAME by X-Forwarded-Prefix: strip the server's own one.
    mount = quote(environ.get("werkzeug.proxy_fix.orig", environ).get("SCRIPT_NAME") or "", safe=_PATH_SAFE)
    path = parts.path[len(mount):] if mount and parts.path.startswith(mount) else parts.path
    return path + (f"?{parts.query}" if parts.query else "")


def url_twilio_called() -> str:
    """The URL exactly as Twilio requested it: IVR_PUBLIC_URL when set, else this request's
    scheme, host and mount point (behind trusted proxies, ProxyFix has applied X-Forwarded-*),
    followed by the path and query string as sent."""
    public = current_app.config.get("PUBLIC_URL")
    base = public.rstrip("/") if public else _request_base(request.scheme, request.host, request.script_root)
    return base + _target_as_sent()


@lru_cache(maxsize=64)
def _request_base(scheme: str, host: str, script_root: str) -> str:
    """Werkzeug's ``host_url`` (an IRI) and the mount point: made once for the few a server is reached at."""
    return get_current_url(scheme, host).rstrip("/") + quote(script_root, safe=_PATH_SAFE)


@lru_cache(maxsize=4)
def _validator(token: str) -> RequestValidator:
    return RequestValidator(token)


def signed_by_twilio(validator: RequestValidator, url: str, params, signature: str, algorithm: str | None) -> bool:
    """What ``validator.validate`` answers, computing one HMAC where it computes two.

    Twilio signs the URL with or without the default port, so RequestValidator accepts either
    form and always computes both. The URL as this request reached us is the likely one: it is
    tried first, and the other form only when it fails. The signatures are the library's own.
    """
    if isinstance(params, str):  # a JSON body, signed through its hash: the library's way only
        return validator.validate(url, params, signature, algorithm)
    parsed = urlparse(url)
    as_sent, other = (add_port, remove_port) if parsed.port else (remove_port, add_port)
    try:
        expected = validator.compute_signature(as_sent(parsed), params, algorithm)
    except ValueError:  # an algorithm twilio does not know: the library refuses it and says why
        return validator.validate(url, params, signature, algorithm)
    return _same(expected, signature) or _same(validator.compute_signature(other(parsed), params, algorithm), signature)


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def require_twilio_signature() -> None:
    """before_request hook: 403 unless the request is signed with our auth token."""
    signature = request.headers.get(SIGNATURE_HEADER, "")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    validator = _validator(current_app.config["TWILIO_AUTH_TOKEN"])
    if not signature or not signed_by_twilio(validator, url_twilio_called(), request.form, signature, algorithm):
        log.warning("rejected unsigned or forged request to %s from %s", request.path, request.remote_addr)
        abort(403)


def require_call_sid() -> None:
    """before_request hook of the voice webhooks: 400 without a well-formed CallSid."""
    if not matches(_CALL_SID, request.form.get("CallSid")):
        abort(400, "a Twilio voice webhook needs a CallSid")


def instance_secret(instance_path: str | Path, filename: str, *, create: bool = False) -> str | None:
    """A random secret kept in the instance folder, made once on first use when ``create``."""
    path = Path(instance_path) / filename
    if create and not path.exists():
        _create_once(path, secrets.token_hex(16 if filename == TOKEN_FILE else 32))
    return path.read_text().strip() if path.exists() else None


def _create_once(path: Path, content: str) -> None:
    """Write ``path`` unless it exists, so that nobody ever reads it half-written: several
    processes starting together each write a complete temporary file, and only the first
    link to the final name succeeds; the others then read the winner's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return
        directory = os.open(path.parent, os.O_RDONLY)
        try:  # the new name itself must survive a crash, not only the content
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        os.unlink(temporary)


def local_auth_token(instance_path: str | Path, *, create: bool = False) -> str | None:
    """The token of a local trial without Twilio, kept in the instance folder."""
    return instance_secret(instance_path, TOKEN_FILE, create=create)
