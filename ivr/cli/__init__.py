"""The ``ivr`` command: serve the hotline and its SMS worker, check its configuration, upgrade
its database; ``ivr call``, ``ivr deadline`` and the others live in this package's other
modules (``call``, ``deadline``, ``users``, ``records``, ``compensation``).

Every failure an administrator can fix ends as one or two lines saying what to do and a
non-zero exit status, never a traceback: ``_Ivr.invoke`` turns the hotline's own errors,
database errors and usage errors into such lines, in one place.

``ivr --help`` answers without importing Flask, SQLAlchemy or the configuration's validation:
the commands here import what they use when they run, and the commands of other modules
(``LAZY_COMMANDS``) are imported only when one of them is called.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import signal
import sys
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from .. import create_app, instance_folder
from ..errors import ConfigError, IvrError

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.exc import DBAPIError

    from ..alerts import AlertPass
    from ..sms.dispatcher import Dispatcher
    from ..recovery.replay import ReplayResult
    from ..settings import HotlineConfig

# The commands that live in modules of their own, with the summary `ivr --help` lists for each:
# the listing must not import them (the list is the command's short help once it is loaded).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "call": ("ivr.cli.call", "Place a call to the running hotline from this terminal."),
    "compensation": ("ivr.cli.compensation", "Print a late resolution's compensation."),
    "deadline": ("ivr.cli.deadline", "Print when a complaint is due."),
    "export": ("ivr.cli.records", "Write calls, tickets or incidents as CSV."),
    "reconcile": ("ivr.cli.records", "Register Twilio's voicemails that have no ticket."),
    "user": ("ivr.cli.users", "Operator console users."),
}


def _fail(error: ConfigError) -> NoReturn:
    click.echo(str(error), err=True)
    sys.exit(1)


def iso_day(text: str, option: str) -> date:
    """A day given on the command line as 2026-12-04; a usage error naming ``option`` otherwise."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter("a date such as 2026-12-04", param_hint=option) from None


def configured_hotline() -> tuple[Path, HotlineConfig]:
    """routing.yaml's path and the hotline it configures, for the commands that need no app;
    a bad configuration ends the command with its problems, each naming its file and key."""
    from ..settings import config_paths, load_hotline

    routing_file, prompts_dir = config_paths()
    try:
        return routing_file, load_hotline(routing_file, prompts_dir)
    except ConfigError as exc:
        _fail(exc)


def _app(*, upgraded: bool = True) -> Flask:
    """The hotline for a command; with ``upgraded``, refused (DatabaseNotUpgraded) when its
    database answers but was never upgraded. An unreachable database is let through: the
    serving commands wait it out, the others fail on their first query."""
    from ..twilio_auth import local_auth_token

    if not os.environ.get("TWILIO_AUTH_TOKEN"):
        local_auth_token(instance_folder(), create=True)  # a local trial: see `ivr serve`
    app = create_app()
    if upgraded:
        _database_is_current(app)
    return app


def _database_is_current(app: Flask) -> bool:
    """False when the database cannot be reached now; raises DatabaseNotUpgraded when it can but is behind."""
    from sqlalchemy.exc import OperationalError

    try:
        app.extensions["ivr.db"].require_current_schema()
    except OperationalError:
        return False
    return True


def _database_failure(exc: DBAPIError) -> str:
    from sqlalchemy.engine import make_url

    from ..db import sqlalchemy_url

    url = os.environ.get("IVR_DATABASE_URL")
    where = make_url(sqlalchemy_url(url)).render_as_string(hide_password=True) if url else f"in {instance_folder()}"
    reason = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
    return (f"the database {where} failed: {reason}\n"
            "Check IVR_DATABASE_URL and that the database server runs; create a missing database, then `ivr db upgrade`.")


class _BriefUsageError(click.UsageError):
    """A usage error in one line that says where the help is, instead of the usage text."""

    def show(self, file=None) -> None:
        hint = f" (see: {self.ctx.command_path} --help)" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{hint}", file=file, err=file is None)


def _brief(exc: click.UsageError) -> click.UsageError:
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        return exc  # `ivr user` alone: the help is what was asked for
    return _BriefUsageError(exc.format_message(), exc.ctx)


def _is_database_error(exc: Exception) -> bool:
    """A DBAPIError, told without importing SQLAlchemy: none was raised if it was never imported."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.DBAPIError)


class _Ivr(click.Group):
    """The ``ivr`` group: the one place where failures become one or two lines and an exit status,
    and the one that imports the ``LAZY_COMMANDS`` when they are called."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            importlib.import_module(LAZY_COMMANDS[cmd_name][0])  # its commands join this group as they are defined
        command = self.commands.get(cmd_name)
        if command is not None and cmd_name in LAZY_COMMANDS:
            command.short_help = LAZY_COMMANDS[cmd_name][1]
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's list of commands, where a lazy command's summary comes from LAZY_COMMANDS
        (whether it is loaded or not), so that listing them imports none."""
        names = [name for name in self.list_commands(ctx) if name in LAZY_COMMANDS or not self.commands[name].hidden]
        limit = formatter.width - 6 - max(len(name) for name in names)
        # A lazy command's summary is shortened as click shortens any (a stand-in command's).
        rows = [(name, click.Command(name, help=LAZY_COMMANDS[name][1]).get_short_help_str(limit) if name in LAZY_COMMANDS
                 else self.commands[name].get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _brief(exc) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _brief(exc) from None
        except IvrError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:
            if _is_database_error(exc):
                raise click.ClickException(_database_failure(exc)) from None
            raise


def _replay(app: Flask) -> ReplayResult | None:
    """Turn what the journal in this host's instance folder holds into tickets."""
    from ..recovery.replay import replay_if_pending

    intake = app.extensions["ivr.intake"]
    return replay_if_pending(intake.journal, intake.database, intake.hotline)


def _housekeeping(app: Flask) -> None:
    """What every dispatcher pass also does: the journal, and calls whose end Twilio never reported."""
    from ..calls.log import close_stale

    _replay(app)
    with app.extensions["ivr.db"].session() as session, session.begin():
        close_stale(session, app.config["CLOCK"]())


def _alerts(app: Flask) -> AlertPass:
    """Queue the SMS of the milestones about to be missed (routing.yaml alert:)."""
    from ..alerts import run_alerts

    return run_alerts(app.extensions["ivr.db"], app.extensions["ivr.hotline"], app.config["CLOCK"]())


def _dispatcher(app: Flask) -> Dispatcher:
    """The SMS dispatcher of ``ivr worker`` and of ``ivr serve``'s dispatcher process; its loop
    also looks for milestones to alert about, every ``SCAN_SECONDS``."""
    from ..alerts import AlertSchedule
    from ..sms.dispatcher import Dispatcher

    public = app.config.get("PUBLIC_URL")
    alerts = AlertSchedule(app.extensions["ivr.db"], app.extensions["ivr.hotline"], app.config["CLOCK"])
    return Dispatcher(
        app.extensions["ivr.db"], app.extensions["ivr.sms.gateway"], app.config["CLOCK"],
        status_callback=f"{public.rstrip('/')}/sms/status" if public else None,
        housekeeping=lambda: (_housekeeping(app), alerts()),
    )


def _run_dispatcher() -> None:
    """The body of the dispatcher process that ``ivr serve`` starts. It stops on SIGTERM, and
    by itself when the server is gone (even killed with SIGKILL): never an orphan polling forever."""
    stop = threading.Event()
    # While the app is still being built nothing is under way: a stop ends the process at once,
    # by the system's default action, even inside a call that waits in C (SQLite waiting for a
    # lock) where a Python handler would run only once it returns. The server waits for it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = multiprocessing.parent_process()
    if parent is not None:
        # join() returns when the pipe from the server closes, that is when the server exits.
        threading.Thread(target=lambda: (parent.join(), stop.set()), name="ivr-parent-watch", daemon=True).start()
    try:
        dispatcher = _dispatcher(create_app())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())  # from now on, a send under way ends first
        dispatcher.run_forever(stop)
    except KeyboardInterrupt:
        pass


def _exit_on_sigterm() -> None:
    """SIGTERM (systemd, docker, a supervisor) stops ``ivr serve`` the way Ctrl-C does."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def _stop_process(process: multiprocessing.process.BaseProcess, grace_seconds: float = 10.0) -> None:
    if process.pid is None:
        return  # never started
    process.terminate()
    process.join(grace_seconds)
    if process.is_alive():
        process.kill()
        process.join(grace_seconds)


@click.group(name="ivr", cls=_Ivr)
@click.version_option(package_name="ivr", prog_name="ivr", message="%(prog)s %(version)s")
def main() -> None:
    """Complaint hotline on Twilio."""


@main.command()
def check() -> None:
    """Validate routing.yaml and every prompts file."""
    routing_file, hotline = configured_hotline()
    routing = hotline.routing
    click.echo(f"{routing_file}: OK, {routing.hotline.company}, languages {', '.join(routing.hotline.languages)}")
    prompts = hotline.prompt_set(routing.default_language)
    for key, dept in sorted(routing.departments.items(), key=lambda item: item[1].digit):
        hours = prompts.describe_hours(dept.weekly_hours)
        terms = ", ".join(f"{name} {m.rule}{' (final)' if m.final else ''}" for name, m in dept.milestones.items())
        click.echo(f"  {dept.digit} {key}: {hours}; {len(dept.operators)} operator(s); deadlines {terms}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on (0.0.0.0: every interface, e.g. behind a tunnel for Twilio)")
@click.option("--port", default=5000, show_default=True, type=int, envvar="IVR_PORT",
              help="port to listen on (or $IVR_PORT)")
def serve(host: str, port: int) -> None:
    """Serve the hotline (embedded defaults: SQLite in ./instance)."""
    import waitress

    from ..proxies import waitress_options
    from ..twilio_auth import local_auth_token

    if not os.environ.get("TWILIO_AUTH_TOKEN"):
        local_auth_token(instance_folder(), create=True)
        click.echo(
            f"TWILIO_AUTH_TOKEN is not set: using a local trial token kept in {instance_folder()}/ "
            "(ivr call uses it; real Twilio calls need your account's token)"
        )
    app = _app(upgraded=False)
    if not _database_is_current(app):
        click.echo("warning: the database cannot be reached now; serving anyway, it is retried", err=True)
    try:
        server = waitress.create_server(app, host=host, port=port, threads=8, ident="ivr", **waitress_options(app))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port") from None
    _exit_on_sigterm()
    dispatcher = multiprocessing.get_context("spawn").Process(target=_run_dispatcher, name="ivr-sms", daemon=True)
    try:
        dispatcher.start()
        click.echo(f"Hotline answering on http://{host}:{port}/voice/incoming  (try: ivr call --url http://{host}:{port})")
        click.echo(f"Operator console on http://{host}:{port}/console/  (add a user: ivr user add NAME)")
        server.run()  # returns on SIGINT and SIGTERM
    finally:
        server.close()
        _stop_process(dispatcher)


@main.command(short_help="Send the SMS outbox and milestone alerts.")
@click.option("--once", is_flag=True, help="send what is due, then exit")
def worker(once: bool) -> None:
    """Deliver the SMS outbox and the alerts before a milestone is missed (several workers may run at once)."""
    app = _app()
    dispatcher = _dispatcher(app)
    if once:
        _housekeeping(app)
        _echo_alerts(_alerts(app))
        click.echo(f"{dispatcher.drain()} SMS handled")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        dispatcher.run_forever(stop)
    except KeyboardInterrupt:
        pass


@main.command(short_help="Queue the alerts of milestones due soon.")
def alerts() -> None:
    """Queue the alerts of milestones about to be missed now (ivr worker sends them; it also
    does this every minute)."""
    _echo_alerts(_alerts(_app()))


def _echo_alerts(done: AlertPass) -> None:
    click.echo(f"{done.milestones} milestone alert(s), {done.sms} SMS queued")
    if done.unreachable:
        click.echo(f"{done.unreachable} recipient(s) without a phone: see the tickets' history "
                   "(ivr user phone NAME +40...)", err=True)


@main.command(short_help="Register the journaled complaints.")
def recover() -> None:
    """Register the complaints journaled while the database was unavailable."""
    app = _app()
    journal = app.extensions["ivr.intake"].journal
    result = _replay(app)
    if result is None:
        click.echo(f"nothing to recover: the journal in {journal.folder} is empty")
    elif result.busy:
        click.echo("another process is replaying the journal right now; try again in a moment")
    else:
        click.echo(f"{result.registered} journaled report(s) registered")
        if result.rejected:
            click.echo(f"{result.rejected} unreadable line(s) kept in {journal.rejected_path}", err=True)
        if result.pending:
            click.echo("the database failed again: the rest stays in the journal", err=True)
            sys.exit(1)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations to IVR_DATABASE_URL (or the embedded SQLite)."""
    app = _app(upgraded=False)
    app.extensions["ivr.db"].upgrade()
    click.echo(f"database at the latest schema: {app.extensions['ivr.db'].engine.url.render_as_string(hide_password=True)}")
