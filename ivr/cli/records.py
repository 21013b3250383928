"""``ivr reconcile`` and ``ivr export``: the commands that reconcile the hotline's records with
Twilio's and take them out as CSV. They join the ``ivr`` group of ``ivr.cli``."""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta

import click

from ..calls.stats import local_range
from ..errors import TwilioApiError
from ..exports import (
    CALL_COLUMNS, TICKET_COLUMNS, CallFilter, call_rows, incident_columns, incident_rows, ticket_rows, write_csv,
)
from ..phone import caller_from
from ..recovery.reconcile import reconcile as reconcile_with_twilio
from ..recovery.twilio_recordings import TwilioRecordings
from ..tickets.queries import TicketFilter, all_tickets
from ..transcripts import transcript_texts
from . import _app, _replay, iso_day, main


@main.command()  # its line in `ivr --help`: ivr.cli.LAZY_COMMANDS
@click.option("--since", required=True, help="ISO date or time, e.g. 2026-11-20 (hotline's timezone if naive)")
@click.option("--to", "called", multiple=True, help="only calls to this hotline number (repeatable); default: every inbound call")
@click.option("--min-age", default=15, show_default=True, type=click.IntRange(0), help="minutes; younger recordings are left to the webhooks")
def reconcile(since: str, called: tuple[str, ...], min_age: int) -> None:
    """Register every voicemail Twilio recorded since a date that has no ticket (safe to repeat)."""
    account_sid, auth_token = os.environ.get("TWILIO_ACCOUNT_SID"), os.environ.get("TWILIO_AUTH_TOKEN")
    if not account_sid or not auth_token:
        click.echo("ivr reconcile needs the account's TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN", err=True)
        sys.exit(1)
    app = _app()
    hotline = app.extensions["ivr.hotline"]
    tz, region = hotline.routing.timezone, hotline.routing.hotline.holidays
    try:
        start = datetime.fromisoformat(since)
    except ValueError:
        raise click.BadParameter("an ISO date or time such as 2026-11-20 or 2026-11-20T08:00", param_hint="--since") from None
    start = start if start.tzinfo else start.replace(tzinfo=tz)
    numbers = [caller_from(number, region).e164 for number in called]
    if None in numbers:
        raise click.BadParameter("a phone number such as +40215894141", param_hint="--to")
    twilio = TwilioRecordings(account_sid, auth_token, base_url=app.config["TWILIO_API_BASE_URL"])
    _replay(app)  # what this host journaled knows the department and the SMS number: it goes first
    try:
        result = reconcile_with_twilio(
            app.extensions["ivr.db"], hotline, twilio, app.config["CLOCK"], start,
            called_numbers=numbers, min_age=timedelta(minutes=min_age),
            journaled=app.extensions["ivr.intake"].journal.call_sids(),  # still there: another process replays it
        )
    except TwilioApiError as exc:
        click.echo(" ".join(str(exc).split()), err=True)
        sys.exit(1)
    for t in result.registered:
        sms = f"SMS to {t.sms_to}" if t.sms_to else "no SMS"
        click.echo(f"{t.number}  {t.registered_at.astimezone(tz):%Y-%m-%d %H:%M}  {t.call_sid}  "
                   f"from {t.caller or 'withheld'}  {t.department} (guessed)  {sms}")
    click.echo(f"{result.seen} recordings seen, {result.had_ticket} already had tickets, {len(result.registered)} registered, "
               f"{result.not_voicemail} not hotline voicemails, {result.too_recent} left to the webhooks (under {min_age} min old)"
               + (f", {result.journaled} left to the journal's replay" if result.journaled else ""))


@main.command()  # its line in `ivr --help`: ivr.cli.LAZY_COMMANDS
@click.argument("what", type=click.Choice(["calls", "tickets", "incidents"]))
@click.option("--from", "first", required=True, help="first day, e.g. 2026-11-01 (hotline's timezone)")
@click.option("--to", "last", default=None, help="last day, included; default today")
def export(what: str, first: str, last: str | None) -> None:
    """Write the calls, tickets or incidents of a date range to stdout as CSV (calls and incidents by
    start, tickets by registration)."""
    start_day = iso_day(first, "--from")
    end_day = iso_day(last, "--to") if last else None
    if end_day is not None and end_day < start_day:
        raise click.BadParameter(f"{end_day} is before --from {start_day}", param_hint="--to")
    app = _app()
    routing = app.extensions["ivr.hotline"].routing
    tz = routing.timezone
    end_day = end_day or datetime.now(tz).date()
    start, end = local_range(start_day, end_day, tz)
    out = sys.stdout
    with app.extensions["ivr.db"].session() as session:
        if what == "calls":
            write_csv(out, CALL_COLUMNS, call_rows(session, CallFilter(start=start, end=end), tz))
        elif what == "incidents":
            languages = routing.hotline.languages
            write_csv(out, incident_columns(languages), incident_rows(session, languages, start, end, tz))
        else:
            tickets = all_tickets(session, None, TicketFilter(registered_from=start, registered_before=end), datetime.now(tz))
            transcripts = transcript_texts(session, (t.call_sid for t in tickets))
            write_csv(out, TICKET_COLUMNS, ticket_rows(tickets, tz, transcripts))
