"""The ``ivr`` command: serve the hotline, call it from a terminal, check its configuration."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from datetime import datetime, timezone

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from . import create_app, instance_folder
from .deadlines import deadline_for_department
from .dispatcher import Dispatcher
from .errors import AccountError, ConfigError
from .models import Role, Ticket
from .users import add_user, disable_user, set_password
from .settings import config_paths, load_hotline
from .softphone import DIAL_OUTCOMES, Call, HttpTransport, TerminalCaller
from .twilio_auth import local_auth_token


def _fail(error: ConfigError) -> None:
    click.echo(str(error), err=True)
    sys.exit(1)


def _app() -> Flask:
    if not os.environ.get("TWILIO_AUTH_TOKEN"):
        local_auth_token(instance_folder(), create=True)  # a local trial: see `ivr serve`
    try:
        return create_app()
    except ConfigError as exc:
        _fail(exc)
        raise


def _dispatcher(app: Flask) -> Dispatcher:
    public = app.config.get("PUBLIC_URL")
    return Dispatcher(
        app.extensions["ivr.db"], app.extensions["ivr.sms_gateway"], app.config["CLOCK"],
        status_callback=f"{public.rstrip('/')}/sms/status" if public else None,
    )


def _run_dispatcher() -> None:
    """The body of the dispatcher process that ``ivr serve`` starts."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _dispatcher(create_app()).run_forever(stop)
    except KeyboardInterrupt:
        pass


@click.group()
def main() -> None:
    """Complaint hotline on Twilio."""


@main.command()
def check() -> None:
    """Validate routing.yaml and every prompts file."""
    routing_file, prompts_dir = config_paths()
    try:
        hotline = load_hotline(routing_file, prompts_dir)
    except ConfigError as exc:
        _fail(exc)
    routing = hotline.routing
    click.echo(f"{routing_file}: OK, {routing.hotline.company}, languages {', '.join(routing.hotline.languages)}")
    prompts = hotline.prompt_set(routing.default_language)
    for key, dept in sorted(routing.departments.items(), key=lambda item: item[1].digit):
        hours = prompts.describe_hours(dept.weekly_hours)
        click.echo(f"  {dept.digit} {key}: {hours}; {len(dept.operators)} operator(s); deadline {dept.deadline}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the hotline (embedded defaults: SQLite in ./instance)."""
    import waitress

    if not os.environ.get("TWILIO_AUTH_TOKEN"):
        local_auth_token(instance_folder(), create=True)
        click.echo(
            f"TWILIO_AUTH_TOKEN is not set: using a local trial token kept in {instance_folder()}/ "
            "(ivr call uses it; real Twilio calls need your account's token)"
        )
    app = _app()
    worker = multiprocessing.get_context("spawn").Process(target=_run_dispatcher, name="ivr-sms", daemon=True)
    worker.start()
    click.echo(f"Hotline answering on http://{host}:{port}/voice/incoming  (try: ivr call --url http://{host}:{port})")
    click.echo(f"Operator console on http://{host}:{port}/console/  (add a user: ivr user add NAME)")
    try:
        waitress.serve(app, host=host, port=port, threads=8, ident="ivr")
    finally:
        worker.terminate()


@main.command()
@click.option("--once", is_flag=True, help="send what is due, then exit")
def worker(once: bool) -> None:
    """Deliver the SMS outbox (several workers may run at once)."""
    dispatcher = _dispatcher(_app())
    if once:
        click.echo(f"{dispatcher.drain()} SMS handled")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        dispatcher.run_forever(stop)
    except KeyboardInterrupt:
        pass


@main.group()
def user() -> None:
    """Operator console users."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(Role.ALL), default=Role.OPERATOR, show_default=True)
@click.password_option(help="asked for when not given (IVR_USER_PASSWORD also works)", envvar="IVR_USER_PASSWORD")
def user_add(name: str, role: str, password: str) -> None:
    """Add a console user who signs in with NAME and a password."""
    app = _app()
    try:
        with app.extensions["ivr.db"].session() as session, session.begin():
            add_user(session, name, password, role, datetime.now(timezone.utc))
    except AccountError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"user {name} added as {role}")


@user.command("passwd")
@click.argument("name")
@click.password_option(help="asked for when not given (IVR_USER_PASSWORD also works)", envvar="IVR_USER_PASSWORD")
def user_passwd(name: str, password: str) -> None:
    """Give NAME a new password; every session of NAME ends."""
    _change_user(set_password, name, password)
    click.echo(f"password of {name} changed; its sessions are signed out")


@user.command("disable")
@click.argument("name")
def user_disable(name: str) -> None:
    """Refuse NAME's sign-ins from now on; every session of NAME ends."""
    _change_user(disable_user, name)
    click.echo(f"user {name} disabled; its sessions are signed out")


def _change_user(change, *args: str) -> None:
    try:
        with _app().extensions["ivr.db"].session() as session, session.begin():
            change(session, *args)
    except AccountError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to IVR_DATABASE_URL (or the embedded SQLite)."""
    app = _app()
    app.extensions["ivr.db"].upgrade()
    click.echo(f"database at the latest schema: {app.extensions['ivr.db'].engine.url.render_as_string(hide_password=True)}")


@main.command()
@click.option("--department", required=True, help="a department of routing.yaml")
@click.option("--registered", default=None, help="ISO time, e.g. 2026-11-27T10:00 (hotline's timezone if naive); default now")
def deadline(department: str, registered: str | None) -> None:
    """Print the resolution deadline of a complaint registered at a given time."""
    routing_file, prompts_dir = config_paths()
    try:
        routing = load_hotline(routing_file, prompts_dir).routing
    except ConfigError as exc:
        _fail(exc)
    if department not in routing.departments:
        raise click.BadParameter(f"not a department of {routing_file}: {', '.join(routing.departments)}", param_hint="--department")
    try:
        at = datetime.fromisoformat(registered) if registered else datetime.now(timezone.utc)
    except ValueError:
        raise click.BadParameter("an ISO date and time such as 2026-11-27T10:00", param_hint="--registered") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=routing.timezone)
    due = deadline_for_department(routing, department, at)
    click.echo(due.due_on.isoformat())
    click.echo(f"{due.description} ({due.rule}), registered {at.astimezone(routing.timezone):%Y-%m-%d %H:%M %Z}")


@main.command()
@click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="where the hotline runs")
@click.option("--from", "caller", default="+40722123456", show_default=True, help="the caller's number, or anonymous")
@click.option("--to", "called", default="+40215894141", show_default=True, help="the hotline's number")
@click.option("--keys", default=None, help="scripted key presses, one per menu: 1,0722123456#,...")
@click.option("--dial", type=click.Choice(DIAL_OUTCOMES), default=None, help="how operator dials end")
@click.option("--record", type=int, default=None, help="seconds spoken at each beep (0 = silence)")
def call(url: str, caller: str, called: str, keys: str | None, dial: str | None, record: int | None) -> None:
    """Place a call to the running hotline from this terminal."""
    token = os.environ.get("TWILIO_AUTH_TOKEN") or local_auth_token(instance_folder())
    if not token:
        click.echo("No TWILIO_AUTH_TOKEN and no local trial token: start `ivr serve` first.", err=True)
        sys.exit(1)
    ui = TerminalCaller(keys.split(",") if keys is not None else (), dial, record)
    phone = Call(url, token, HttpTransport(), ui, caller=caller, called=called)
    click.echo(f"Calling {url} from {caller} (CallSid {phone.log.call_sid})")
    log = phone.run()
    click.echo(f"Call ended ({log.ended_by}).")
    if log.recordings:
        try:
            _show_ticket(log.call_sid)
        except SQLAlchemyError:
            pass  # the hotline keeps its tickets in a database we cannot read


def _show_ticket(call_sid: str, wait_seconds: float = 8.0) -> None:
    """The ticket and SMS of this call, when the hotline shares our database (a local trial)."""
    try:
        database = create_app({"DATABASE_AUTO_UPGRADE": False}).extensions["ivr.db"]
    except Exception:
        return
    deadline_at = time.monotonic() + wait_seconds
    while True:
        with database.session() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.call_sid == call_sid))
            if ticket is None:
                return
            pending = [m for m in ticket.messages if m.status in ("queued", "sending")]
            if not pending or time.monotonic() > deadline_at:
                click.echo(f"Ticket {ticket.number}, {ticket.department}, due {ticket.deadline_on:%d.%m.%Y}")
                for message in ticket.messages:
                    marker = " (local trial: written to the log, not sent)" if message.status == "logged" else ""
                    click.echo(f"  SMS to {message.to} [{message.status}{marker}]: {message.body}")
                return
        time.sleep(0.3)
