"""What the console's pages say of a ticket, in the reader's language: times in the hotline's
timezone, the time left, a row's urgency, deadlines, milestones, rules and department names.
Every template may call them (``init_app``); the console's views use ``label`` and ``local_time``.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask, g, request, url_for

from .. import appctx
from ..console_labels import label_text
from ..errors import TicketClosed, TicketError, TicketRefused, TicketTaken
from ..schedule import DAYS
from ..states import TicketStatus
from .common import ticket_due


def init_app(app: Flask) -> None:
    app.add_template_filter(local_time, "local")
    for helper in (label, time_left, list_url, urgency, deadline_text, milestone_state, rule_text, milestone_name,
                   department_name):
        app.add_template_global(helper)


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(appctx.hotline().routing.timezone).strftime("%d.%m.%Y %H:%M")


def label(key: str, **values) -> str:
    return label_text(g.labels, g.lang, key, **values)


def time_left(ticket) -> str:
    """Plain words: due today, due tomorrow, 3 days left, overdue by 2 days."""
    if ticket.status not in TicketStatus.OPEN:
        return label(f"status_{ticket.status}")
    now = appctx.now()
    if now >= ticket.deadline_at:
        days = max((now.astimezone(appctx.hotline().routing.timezone).date() - ticket.deadline_on).days, 1)
        return label("overdue_by", count=days)
    days = (ticket.deadline_on - now.astimezone(appctx.hotline().routing.timezone).date()).days
    return label("due_today") if days <= 0 else label("due_tomorrow") if days == 1 else label("days_left", count=days)


def list_url(**changes) -> str:
    """The work list's URL with its current query changed: a value None (or "") drops that
    parameter, and any change but a page's starts again at page 1."""
    params = request.args.to_dict()
    if "page" not in changes:
        params.pop("page", None)
    params.update(changes)
    return url_for("console.tickets", **{k: v for k, v in params.items() if v not in (None, "")})


def urgency(ticket) -> str:
    """"overdue", "due-today" (its deadline falls today, local time) or "": a list row's class."""
    if ticket.status not in TicketStatus.OPEN:
        return ""
    now = appctx.now()
    if now >= ticket.deadline_at:
        return "overdue"
    today = now.astimezone(appctx.hotline().routing.timezone).date()
    return "due-today" if ticket.deadline_on <= today else ""


def deadline_text(ticket) -> str:
    """"04.12.2026", or "23.11.2026 10:30" when the ticket's rule counts hours."""
    return ticket_due(ticket).text(appctx.hotline().routing.timezone)


def milestone_state(milestone) -> str:
    """When a milestone is due, and whether it was met (when), missed, or is still running."""
    tz = appctx.hotline().routing.timezone
    due = milestone.deadline.text(tz)
    if milestone.met_at is not None:
        state = label("milestone_met", at=local_time(milestone.met_at))
        return f"{due} · {state}" + (f" · {label('milestone_late')}" if milestone.missed(milestone.met_at) else "")
    return f"{due} · {label('milestone_missed') if milestone.missed(appctx.now()) else label('milestone_open')}"


def rule_text(rule_name: str) -> str:
    """A deadline rule of routing.yaml in the reader's words: "3 zile lucrătoare", "2 ore
    lucrătoare (09:00-21:00, luni - duminică)"; a rule no longer configured, by its name."""
    rule = appctx.hotline().routing.deadlines.get(rule_name)
    if rule is None:
        return rule_name
    if rule.hours is None:
        return label(f"rule_{rule.count}_days", count=rule.days)
    days = appctx.hotline().prompt_set(g.lang).days
    weekdays = [DAYS[d] for d in rule.hours_days]
    span = days[weekdays[0]] if len(weekdays) == 1 else f"{days[weekdays[0]]} - {days[weekdays[-1]]}"
    text = label("rule_hours", count=rule.hours, within=rule.within, days=span)
    return text + (label("rule_paused") if rule.holidays == "pause" else "")


def milestone_name(department: str, name: str) -> str:
    """A milestone as operators read it: its routing.yaml title in their language, else the
    console's word for a common name (resolve, legal, ...), else its key."""
    return appctx.hotline().milestone_name(department, name, g.lang)


def department_name(key: str) -> str:
    department = appctx.hotline().routing.departments.get(key)
    return department.name[g.lang] if department else key


def refusal_words(exc: TicketError) -> str:
    """Why a ticket action was refused, in the reader's words: taken or closed by a colleague, or refused."""
    if isinstance(exc, TicketTaken):
        return label("already_taken", number=exc.number, name=exc.by)
    if isinstance(exc, TicketClosed):
        return label(f"already_{exc.status}", number=exc.number, name=exc.by)
    if isinstance(exc, TicketRefused):
        return label(f"refused_{exc.reason}", **exc.params)
    return str(exc)
