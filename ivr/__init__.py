"""Complaint hotline: Twilio voice webhooks, complaint tickets and their SMS.

``create_app`` is the application factory; ``wsgi.py`` exposes its result for gunicorn.

Importing the package is cheap on purpose: every ``ivr`` command imports it, and ``ivr --help``
must not pay for Flask, SQLAlchemy and the webhooks. What ``create_app`` needs it imports itself.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ConfigError

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app", "after_fork", "ConfigError"]


def _environment_config(instance_path: str) -> dict[str, Any]:
    from .proxies import trusted_proxies
    from .settings import config_paths
    from .twilio_auth import local_auth_token

    env = os.environ
    routing_file, prompts_dir = config_paths()
    return {
        "ROUTING_FILE": str(routing_file),
        "PROMPTS_DIR": str(prompts_dir),
        "DATABASE_URL": env.get("IVR_DATABASE_URL")
        or f"sqlite:///{Path(instance_path, 'ivr.sqlite3').resolve()}",
        "PUBLIC_URL": env.get("IVR_PUBLIC_URL"),
        "TRUSTED_PROXIES": trusted_proxies(env.get("IVR_TRUSTED_PROXIES")),
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID"),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN") or local_auth_token(instance_path),
        "LOCAL_TRIAL_TOKEN": not env.get("TWILIO_AUTH_TOKEN"),
        "TWILIO_API_BASE_URL": env.get("TWILIO_API_BASE_URL", "https://api.twilio.com"),
        "SECRET_KEY": env.get("IVR_SECRET_KEY"),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": (env.get("IVR_PUBLIC_URL") or "").startswith("https://"),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        "JOURNAL_DIR": instance_path,
        # Twilio waits 15 s for a webhook: past this the report goes to the journal instead.
        "WEBHOOK_DATABASE_SECONDS": 4.0,
        "JOURNAL_REPLAY_SECONDS": 10.0,
        # A caller waits in silence while their complaints are looked up: past this, the menu.
        "STATUS_LOOKUP_SECONDS": 1.0,
        # How long the menu dials a "user:NAME" operator at the phone it last read (0: read every call).
        "OPERATOR_PHONES_SECONDS": 30.0,
        "METRICS_TOKEN": env.get("IVR_METRICS_TOKEN"),  # /metrics answers only with it
        "LOG_FORMAT": env.get("IVR_LOG_FORMAT", "plain"),  # or json
        # How long a declared or closed incident may take to reach another process's calls.
        "INCIDENTS_SECONDS": 15.0,
    }


def instance_folder() -> str:
    """Where the local database and trial token live: $IVR_INSTANCE_DIR or ./instance."""
    return str(Path(os.environ.get("IVR_INSTANCE_DIR", "instance")).resolve())


_Built = TypeVar("_Built")


def _without_cyclic_gc(build: Callable[..., _Built]) -> Callable[..., _Built]:
    """Run ``build`` with the cyclic garbage collector paused. Building the hotline imports
    most of it and of its libraries: some 200,000 long-lived objects (modules, classes,
    SQLAlchemy and pydantic schemas) that ~300 collection passes walked through again and again
    to free almost nothing, ~0.15 s of a start-up. Reference counting still frees objects meanwhile."""

    @functools.wraps(build)
    def paused(*args: Any, **kwargs: Any) -> _Built:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return build(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return paused


@_without_cyclic_gc
def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the hotline. Raises ConfigError when routing.yaml or a prompts file is invalid
    or no Twilio auth token is known, so a bad configuration never starts serving."""
    from flask import Flask, redirect, url_for
    from flask_wtf.csrf import CSRFProtect

    from .bounded import BoundedWork
    from .call_dialer import make_dialer
    from .calls.events import CallEvents
    from .calls.incidents import ActiveIncidents
    from .calls.operators import OperatorPhones
    from .monitoring.logs import configure_logging
    from .proxies import trust_proxies
    from .recordings import make_recording_store
    from .recovery.intake import Intake
    from .recovery.journal import Journal
    from .settings import load_hotline
    from .sms.gateway import make_gateway
    from .twilio_auth import instance_secret

    app = Flask(__name__, instance_path=instance_folder(), instance_relative_config=True)
    app.config.from_mapping(_environment_config(app.instance_path))
    app.config["CLOCK"] = lambda: datetime.now(timezone.utc)
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = instance_secret(app.instance_path, "secret_key", create=True)
    if not app.config["TWILIO_AUTH_TOKEN"]:
        raise ConfigError(["TWILIO_AUTH_TOKEN: not set (ivr serve makes a local one for a trial)"])

    hotline = app.config.get("HOTLINE") or load_hotline(
        Path(app.config["ROUTING_FILE"]), Path(app.config["PROMPTS_DIR"])
    )
    app.extensions["ivr.hotline"] = hotline
    configure_logging(app.config["LOG_FORMAT"])

    trust_proxies(app)  # X-Forwarded-* count only with IVR_TRUSTED_PROXIES

    from . import console, db, voice
    from .sms import status_callback
    from .monitoring import health, metrics

    database = db.init_app(app)
    app.extensions["ivr.call_events"] = CallEvents(database)
    app.extensions["ivr.bounded_work"] = BoundedWork("ivr-webhook-db")
    app.extensions["ivr.operator_phones"] = OperatorPhones(database, ttl=app.config["OPERATOR_PHONES_SECONDS"])
    app.extensions["ivr.incidents"] = ActiveIncidents(database, lambda: app.config["CLOCK"](), ttl=app.config["INCIDENTS_SECONDS"])
    app.extensions["ivr.intake"] = Intake(
        database, hotline, Journal(app.config["JOURNAL_DIR"]),
        deadline_seconds=app.config["WEBHOOK_DATABASE_SECONDS"], replay_interval=app.config["JOURNAL_REPLAY_SECONDS"],
    )
    app.extensions["ivr.sms.gateway"] = app.config.get("SMS_GATEWAY") or make_gateway(app.config)
    app.extensions["ivr.recordings"] = app.config.get("RECORDING_STORE") or make_recording_store(app.config)
    app.extensions["ivr.call_dialer"] = app.config.get("CALL_DIALER") or make_dialer(app.config)
    csrf = CSRFProtect(app)
    voice.init_app(app, csrf)
    csrf.exempt(status_callback.bp)  # Twilio's webhooks are authenticated by their signature instead
    app.register_blueprint(status_callback.bp)
    console.init_app(app)
    app.register_blueprint(health.bp)
    metrics.init_app(app)

    @app.get("/")
    def home():
        return redirect(url_for("console.tickets"))

    @app.get("/favicon.ico")
    def favicon():
        # Browsers ask for /favicon.ico whatever the page links; the console's icon is an SVG.
        return redirect(url_for("static", filename="favicon.svg"), code=301)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def after_fork(app: Flask) -> None:
    """Make a hotline built before a fork (gunicorn's preload_app) safe to use in the child.

    The database pool may hold connections the parent opened (the embedded SQLite's schema
    check at start leaves one); two processes talking over one connection corrupt each other's answers, so the
    child forgets them, leaving them to the parent (SQLAlchemy's advice for os.fork). Nothing
    else needs it: the background threads (call log, incidents, operator phones, journal
    replay) start at their first use, so none runs yet in a parent that only built the app."""
    app.extensions["ivr.db"].engine.dispose(close=False)
