"""``ivr call``: a phone in the terminal that calls the running hotline the way Twilio would,
then shows the ticket and SMS the call left when it shares the hotline's database. It joins
the ``ivr`` group of ``ivr.cli``."""

from __future__ import annotations

import os
import re
import time

import click

from .. import create_app, instance_folder
from ..errors import ConfigError, IvrError
from ..softphone import DIAL_OUTCOMES, Call, HttpTransport, TerminalCaller
from . import main


@main.command()  # its line in `ivr --help`: ivr.cli.LAZY_COMMANDS
@click.option("--url", default="http://127.0.0.1:5000", show_default=True,
              help="the hotline's base URL (the call starts at URL/voice/incoming)")
@click.option("--from", "caller", default="+40722123456", show_default=True, help="the caller's number, or anonymous")
@click.option("--to", "called", default="+40215894141", show_default=True, help="the hotline's number")
@click.option("--keys", default=None, help="scripted key presses, one per menu: 1,0722123456#,...")
@click.option("--dial", type=click.Choice(DIAL_OUTCOMES), default=None, help="what happens when the operators' phones ring: answered (you play the operator), voicemail "
                   "(the phone's own voicemail picks up), busy, no-answer, "
                   "failed or canceled; without it you are asked at each dial")
@click.option("--record", type=int, default=None, help="seconds spoken at each beep (0 = silence)")
def call(url: str, caller: str, called: str, keys: str | None, dial: str | None, record: int | None) -> None:
    """Place a call to the running hotline from this terminal."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..twilio_auth import TOKEN_FILE, local_auth_token

    token = os.environ.get("TWILIO_AUTH_TOKEN") or local_auth_token(instance_folder())
    if not token:
        looked = os.path.join(instance_folder(), TOKEN_FILE)
        raise click.ClickException(
            f"no TWILIO_AUTH_TOKEN, and no local trial token in {looked}: start `ivr serve` first, "
            "or set IVR_INSTANCE_DIR to the instance folder of the running server"
        )
    ui = TerminalCaller(keys.split(",") if keys is not None else (), dial, record)
    phone = Call(url, token, HttpTransport(), ui, caller=caller, called=called)
    click.echo(f"Calling {url} from {caller} (CallSid {phone.log.call_sid})")
    log = phone.run()
    click.echo(f"Call ended ({log.ended_by}).")
    if log.recordings:
        number = spoken_ticket_number(" ".join(log.said_after_recording()))
        click.echo(f"The hotline registered ticket {number} (as said on the line)." if number else
                   "The hotline said no ticket number after the recording: " + " ".join(log.said_after_recording()))
        try:
            _show_ticket(log.call_sid)
        except SQLAlchemyError:
            click.echo("(its SMS are in the hotline's database, which this terminal cannot read)")


_SPELLED_NUMBER = re.compile(r"\b((?:[A-Z0-9] )*[A-Z0-9]), (\d \d \d \d), ((?:\d ){5,}\d)\b")


def spoken_ticket_number(speech: str) -> str | None:
    """A ticket number as the hotline spells it on the line ("R C, 2 0 2 6, 0 0 0 0 1 2"), written back."""
    found = _SPELLED_NUMBER.search(speech)
    return "-".join(part.replace(" ", "") for part in found.groups()) if found else None


def _show_ticket(call_sid: str, wait_seconds: float = 8.0) -> None:
    """The ticket and SMS of this call, when the hotline shares our database (a local trial)."""
    from sqlalchemy import select

    from ..models import Ticket

    try:
        database = create_app({"DATABASE_AUTO_UPGRADE": False}).extensions["ivr.db"]
    except ConfigError as exc:
        click.echo(f"(its SMS are not shown: {exc.problems[0]}; run `ivr call` from the server's folder)")
        return
    except (IvrError, OSError) as exc:  # whatever else keeps the hotline from starting here, in words
        click.echo(f"(its SMS are not shown: {exc})")
        return
    deadline_at = time.monotonic() + wait_seconds
    while True:
        with database.session() as session:
            ticket = session.scalar(select(Ticket).where(Ticket.call_sid == call_sid))
            if ticket is None:
                where = database.engine.url.render_as_string(hide_password=True)
                click.echo(f"(its SMS are not shown: the database this terminal reads, {where}, has no ticket "
                           "for this call; run `ivr call` from the server's folder, with its IVR_INSTANCE_DIR "
                           "or IVR_DATABASE_URL)")
                return
            pending = [m for m in ticket.messages if m.status in ("queued", "sending")]
            if not pending or time.monotonic() > deadline_at:
                click.echo(f"Ticket {ticket.number}, {ticket.department}, due {ticket.deadline_on:%d.%m.%Y}")
                for message in ticket.messages:
                    marker = " (local trial: written to the log, not sent)" if message.status == "logged" else ""
                    click.echo(f"  SMS to {message.to} [{message.status}{marker}]: {message.body}")
                return
        time.sleep(0.3)
