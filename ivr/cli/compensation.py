"""``ivr compensation``: what a department's compensation rule owes for a late resolution, so an
administrator can check a rule of routing.yaml against the company's procedure. Joins ``ivr.cli``'s group."""

from __future__ import annotations

import click

from ..compensation import compensation_for, formula_in_words, parse_money
from . import configured_hotline, iso_day, main


@main.command()  # its line in `ivr --help`: ivr.cli.LAZY_COMMANDS
@click.option("--department", required=True, help="a department of routing.yaml that names a compensation rule")
@click.option("--due", required=True, help="the deadline day, e.g. 2026-12-04 (hotline's timezone)")
@click.option("--resolved", required=True, help="the day it was resolved, e.g. 2026-12-09")
@click.option("--monthly", required=True, help="the customer's monthly value in lei, e.g. 45.00")
@click.option("--lang", default=None, help="language of the formula in words; default the hotline's first")
def compensation(department: str, due: str, resolved: str, monthly: str, lang: str | None) -> None:
    """Print the compensation owed (first line, in lei) and its formula in words."""
    routing_file, hotline = configured_hotline()
    routing = hotline.routing
    if department not in routing.departments:
        raise click.BadParameter(f"not a department of {routing_file}: {', '.join(routing.departments)}", param_hint="--department")
    rule = routing.compensation_rule(department)
    if rule is None:
        raise click.BadParameter(f"departments.{department} of {routing_file} names no compensation rule", param_hint="--department")
    value = parse_money(monthly)
    if value is None:
        raise click.BadParameter("an amount in lei such as 45 or 45.00", param_hint="--monthly")
    lang = lang or routing.default_language
    if lang not in hotline.console_labels:
        raise click.BadParameter(f"one of {', '.join(routing.hotline.languages)}", param_hint="--lang")
    owed = compensation_for(rule, value, iso_day(due, "--due"), iso_day(resolved, "--resolved"))
    click.echo(f"{owed.amount:.2f}")
    click.echo(formula_in_words(owed, hotline.console_labels[lang]))
    click.echo(f"rule {routing.departments[department].compensation} ({rule.kind}), {owed.days_late} days late")
