"""``ivr user ...``: the operator console's accounts. They join the ``ivr`` group of ``ivr.cli``."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import click
from flask import Flask

from ..errors import AccountError
from ..states import Role
from ..users import MIN_PASSWORD, add_user, all_users, check_password, disable_user, find_user, set_password, set_phone
from . import _app, main


@main.group()  # its line in `ivr --help`: ivr.cli.LAZY_COMMANDS
def user() -> None:
    """Operator console users."""


def _password_option(command):
    # Not click.password_option: that one asks before the command runs and gives up on a
    # short password; _ask_password says the rule first and asks again.
    return click.option("--password", default=None, envvar="IVR_USER_PASSWORD",
                        help=f"at least {MIN_PASSWORD} characters; asked for when not given (IVR_USER_PASSWORD also works)")(command)


def _ask_password(given: str | None) -> str:
    """``given`` (checked later, with the rest), else a password typed twice at a hidden
    prompt that states the rule; a short one, or a repeat that differs, is asked for again."""
    if given is not None:
        return given
    return click.prompt(f"Password (at least {MIN_PASSWORD} characters)", hide_input=True,
                        confirmation_prompt="Repeat the password", value_proc=_follows_the_rule)


def _follows_the_rule(password: str) -> str:
    try:
        check_password(password)
    except AccountError as exc:
        raise click.UsageError(f"{exc}; try again") from None  # click.prompt shows it and asks again
    return password


@user.command("list")
def user_list() -> None:
    """The console users: name, role, phone, whether they may sign in, when they were added."""
    app = _app()
    zone = app.extensions["ivr.hotline"].routing.timezone
    with app.extensions["ivr.db"].session() as session:
        rows = [(u.name, u.role, u.phone or "-", "yes" if u.active else "no (disabled)",
                 u.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")) for u in all_users(session)]
    if not rows:
        click.echo("no users yet: ivr user add NAME")
        return
    rows.insert(0, ("NAME", "ROLE", "PHONE", "ACTIVE", "CREATED"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(Role.ALL), default=Role.OPERATOR, show_default=True,
              help="an operator works the tickets; a supervisor also sees everyone's work and the overview")
@click.option("--phone", default=None, help="the phone NAME answers hotline calls on (routing.yaml: user:NAME)")
@_password_option
def user_add(name: str, role: str, phone: str | None, password: str | None) -> None:
    """Add a console user who signs in with NAME and a password."""
    app = _app()
    with app.extensions["ivr.db"].session() as session:
        if find_user(session, name) is not None:  # said before the password is typed, not after
            click.echo(f'there is already a user "{name.strip()}"', err=True)
            sys.exit(1)
    password = _ask_password(password)
    try:
        with app.extensions["ivr.db"].session() as session, session.begin():
            add_user(session, name, password, role, datetime.now(timezone.utc), phone=phone)
    except AccountError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"user {name} added as {role}")


@user.command("passwd")
@click.argument("name")
@_password_option
def user_passwd(name: str, password: str | None) -> None:
    """Give NAME a new password; every session of NAME ends."""
    app = _app()
    with app.extensions["ivr.db"].session() as session:
        if find_user(session, name) is None:  # said before the password is typed, not after
            click.echo(f'there is no user "{name.strip()}"', err=True)
            sys.exit(1)
    _change_user(set_password, name, _ask_password(password), app=app)
    click.echo(f"password of {name} changed; its sessions are signed out")


@user.command("disable")
@click.argument("name")
def user_disable(name: str) -> None:
    """Refuse NAME's sign-ins from now on; every session of NAME ends."""
    _change_user(disable_user, name)
    click.echo(f"user {name} disabled; its sessions are signed out")


@user.command("phone")
@click.argument("name")
@click.argument("number", required=False)
def user_phone(name: str, number: str | None) -> None:
    """Set the phone NAME answers hotline calls on (none given: remove it)."""
    _change_user(set_phone, name, number)
    click.echo(f"phone of {name}: {number or 'none'}")


def _change_user(change, *args: str | None, app: Flask | None = None) -> None:
    try:
        with (app or _app()).extensions["ivr.db"].session() as session, session.begin():
            change(session, *args)
    except AccountError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
