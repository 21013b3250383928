"""``ivr user ...``: the operator console's accounts. They join the ``ivr`` group of ``ivr.cli``."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import click

from .cli import _app, main
from .errors import AccountError
from .models import Role
from .users import add_user, disable_user, set_password, set_phone


@main.group()
def user() -> None:
    """Operator console users."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(Role.ALL), default=Role.OPERATOR, show_default=True,
              help="an operator works the tickets; a supervisor also sees everyone's work and the overview")
@click.option("--phone", default=None, help="the phone NAME answers hotline calls on (routing.yaml: user:NAME)")
@click.password_option(help="asked for when not given (IVR_USER_PASSWORD also works)", envvar="IVR_USER_PASSWORD")
def user_add(name: str, role: str, phone: str | None, password: str) -> None:
    """Add a console user who signs in with NAME and a password."""
    app = _app()
    try:
        with app.extensions["ivr.db"].session() as session, session.begin():
            add_user(session, name, password, role, datetime.now(timezone.utc), phone=phone)
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


@user.command("phone")
@click.argument("name")
@click.argument("number", required=False)
def user_phone(name: str, number: str | None) -> None:
    """Set the phone NAME answers hotline calls on (none given: remove it)."""
    _change_user(set_phone, name, number)
    click.echo(f"phone of {name}: {number or 'none'}")


def _change_user(change, *args: str | None) -> None:
    try:
        with _app().extensions["ivr.db"].session() as session, session.begin():
            change(session, *args)
    except AccountError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
