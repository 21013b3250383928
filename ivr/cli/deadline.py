"""``ivr deadline``: when a complaint registered at a given time is due, by a department's
milestones or by a single rule of routing.yaml. It joins the ``ivr`` group of ``ivr.cli``."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from . import configured_hotline, main


@main.command()  # its line in `ivr --help`: ivr.cli.LAZY_COMMANDS
@click.option("--department", default=None, help="a department of routing.yaml: its deadline rule")
@click.option("--rule", default=None, help="a rule of routing.yaml's deadlines: (instead of, or with, --department), "
              "or of its extensions: (with --department: the department's terms once extended)")
@click.option("--registered", default=None, help="ISO time, e.g. 2026-11-27T10:00 (hotline's timezone if naive); default now")
def deadline(department: str | None, rule: str | None, registered: str | None) -> None:
    """Print when a complaint registered at a given time is due.

    The first line is machine-readable: 2026-12-04 for a rule in days, 2026-11-27T12:00 (the
    hotline's timezone) for a rule in hours."""
    from ..deadlines import compute_deadline

    routing_file, hotline = configured_hotline()
    routing = hotline.routing
    if department is None and rule is None:
        raise click.UsageError("give --department or --rule (see: ivr deadline --help)")
    if department is not None and department not in routing.departments:
        raise click.BadParameter(f"not a department of {routing_file}: {', '.join(routing.departments)}", param_hint="--department")
    if rule is None:
        _print_milestones(routing, department, _registered(registered, routing.timezone))
        return
    if rule in routing.extensions and rule not in routing.deadlines:
        if department is None:
            raise click.UsageError(f"--rule {rule} is an extension: give the --department whose milestones it moves")
        _print_extended(routing, department, rule, _registered(registered, routing.timezone))
        return
    if rule not in routing.deadlines:
        known = ", ".join([*routing.deadlines, *routing.extensions])
        raise click.BadParameter(f"not a rule of {routing_file} deadlines: or extensions: ({known})", param_hint="--rule")
    at = _registered(registered, routing.timezone)
    due = compute_deadline(rule, routing.deadlines[rule], at, routing.calendar, routing.timezone)
    click.echo(due.machine_text(routing.timezone))
    click.echo(f"{due.description} ({due.rule}), registered {at.astimezone(routing.timezone):%Y-%m-%d %H:%M %Z}")


def _registered(text: str | None, tz) -> datetime:
    try:
        at = datetime.fromisoformat(text) if text else datetime.now(timezone.utc)
    except ValueError:
        raise click.BadParameter("an ISO date and time such as 2026-11-27T10:00", param_hint="--registered") from None
    return at if at.tzinfo else at.replace(tzinfo=tz)


def _print_milestones(routing, department: str, at: datetime) -> None:
    """The final (legal) due moment first, machine-readable; then every milestone in words."""
    from ..deadlines import milestones_for_department

    tz = routing.timezone
    milestones = milestones_for_department(routing, department, at)
    final = next(m for m in milestones if m.final)
    click.echo(final.deadline.machine_text(tz))
    click.echo(f"{final.deadline.description} ({final.deadline.rule}), registered {at.astimezone(tz):%Y-%m-%d %H:%M %Z}")
    if len(milestones) > 1:
        for m in milestones:
            flags = " (legal)" if m.final else ""
            click.echo(f"  {m.name}: {m.deadline.machine_text(tz)}  {m.deadline.description} ({m.deadline.rule}), met by {m.met_by}{flags}")
    name = routing.departments[department].extension
    if name is None:
        click.echo("  no extension (the department names no extension: rule)")
    else:
        moved = ", ".join(f"{n} {d.machine_text(tz)}" for n, d in _extended(routing, department, name, milestones).items())
        click.echo(f"  extended by {name} (at most {routing.extensions[name].times}x): {moved}")


def _extended(routing, department: str, name: str, milestones) -> dict:
    """The milestones the extension ``name`` moves, at their extended due moments."""
    from ..deadlines import extend_deadline

    extension = routing.extensions[name]
    names = extension.milestones or [routing.departments[department].final_milestone]
    rule = routing.deadlines[extension.rule]
    return {m.name: extend_deadline(m.deadline, extension.rule, rule, routing.calendar, routing.timezone)
            for m in milestones if m.name in names}


def _print_extended(routing, department: str, name: str, at: datetime) -> None:
    """The department's terms once extended by ``name``: the legal (or first moved) due moment first."""
    from ..deadlines import milestones_for_department

    tz = routing.timezone
    milestones = milestones_for_department(routing, department, at)
    moved = _extended(routing, department, name, milestones)
    if not moved:
        raise click.UsageError(f"the extension {name} moves no milestone of {department}")
    final = routing.departments[department].final_milestone
    first = moved.get(final) or next(iter(moved.values()))
    click.echo(first.machine_text(tz))
    for milestone, due in moved.items():
        click.echo(f"  {milestone}: {due.machine_text(tz)}  {due.description}")
