"""The ``ivr`` command: serve the hotline, call it from a terminal, check its configuration."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import create_app, instance_folder
from .errors import ConfigError
from .settings import load_hotline
from .softphone import DIAL_OUTCOMES, Call, HttpTransport, TerminalCaller
from .twilio_auth import local_auth_token


def _fail(error: ConfigError) -> None:
    click.echo(str(error), err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """Complaint hotline on Twilio."""


@main.command()
def check() -> None:
    """Validate routing.yaml and every prompts file."""
    routing_file = Path(os.environ.get("IVR_ROUTING_FILE", "routing.yaml"))
    prompts_dir = Path(os.environ.get("IVR_PROMPTS_DIR", "prompts"))
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
    try:
        app = create_app()
    except ConfigError as exc:
        _fail(exc)
    click.echo(f"Hotline answering on http://{host}:{port}/voice/incoming  (try: ivr call --url http://{host}:{port})")
    waitress.serve(app, host=host, port=port, threads=8, ident="ivr")


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
