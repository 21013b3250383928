"""The supervisor's call statistics and the console's CSV downloads (blueprint ``console_stats``).

``/console/calls/stats`` shows calls per day, per department and per hour of day as tables and
as server-drawn SVG charts; ``/console/calls.csv`` and ``/console/tickets.csv`` give the same CSV
as ``ivr export`` for a filtered list. The sign-in, language and page context are the console's
(``ivr.console.common``).
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from flask import Blueprint, Response, g, render_template, request

from .. import appctx
from ..calls.figures import ANSWER_TARGET_SECONDS, CHART_OUTCOMES, Tally, scale_top, stacked
from ..calls.stats import MAX_DAYS, call_stats, hourly_stats, local_range
from ..exports import CALL_COLUMNS, TICKET_COLUMNS, CallFilter, call_rows, ticket_rows, write_csv
from ..inputs import matches
from ..states import CallOutcome
from ..tickets.queries import all_tickets
from ..transcripts import transcript_texts
from .common import load_user, page_context, supervisor_only, ticket_filter

bp = Blueprint("console_stats", __name__, url_prefix="/console")
bp.before_request(load_user)
bp.context_processor(page_context)

DEFAULT_DAYS = 14
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def day_param(text: str | None) -> date | None:
    if not matches(_DATE, text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _department(text: str | None) -> str:
    return text if text in appctx.hotline().routing.departments else ""


# -- the statistics page ------------------------------------------------------------------------

@bp.get("/calls/stats")
@supervisor_only
def calls_stats():
    routing, now = appctx.hotline().routing, appctx.now()
    today = now.astimezone(routing.timezone).date()
    last = day_param(request.args.get("to")) or today
    first = day_param(request.args.get("from")) or last - timedelta(days=DEFAULT_DAYS - 1)
    with appctx.database().reading() as db:
        stats = call_stats(db, first, last, routing.timezone)
        per_hour = hourly_stats(db, now, routing.timezone)
    day_top = scale_top(max(t.calls for t in stats.per_day.values()))
    hour_top = scale_top(max(t.calls for t in per_hour.values()))
    return render_template(
        "console/call_stats.html", stats=stats, total=stats.total, per_hour=per_hour,
        departments=_department_rows(stats.per_department),
        day_bars=[(day, stats.per_day[day], stacked(stats.per_day[day].outcomes, day_top)) for day in stats.days],
        hour_bars=[(hour, stacked(per_hour[hour].outcomes, hour_top)) for hour in range(24)],
        day_top=day_top, hour_top=hour_top, outcomes=CHART_OUTCOMES, target=ANSWER_TARGET_SECONDS,
        cut=(max(first, last) - min(first, last)).days >= MAX_DAYS, max_days=MAX_DAYS,
    )


def _department_rows(per_department: dict[str | None, Tally]) -> list[tuple[str | None, Tally]]:
    """The routing's departments in their order, then calls without one, then departments since removed."""
    keys: list[str | None] = list(appctx.hotline().routing.departments)
    keys += [None] if None in per_department else []
    keys += sorted(key for key in per_department if key is not None and key not in keys)
    return [(key, per_department.get(key) or Tally()) for key in keys]


# -- CSV downloads ------------------------------------------------------------------------------

def _csv(name: str, columns, rows) -> Response:
    out = io.StringIO()
    write_csv(out, columns, rows)
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"', "Cache-Control": "private, no-store",
    })


@bp.get("/calls.csv")
@supervisor_only
def calls_csv():
    """The call log with its filters: department, outcome, from and to (local days, inclusive)."""
    args, tz = request.args, appctx.hotline().routing.timezone
    first, last = day_param(args.get("from")), day_param(args.get("to"))
    wanted = CallFilter(
        department=_department(args.get("department")),
        outcome=args.get("outcome", "") if args.get("outcome") in CallOutcome.ALL else "",
        start=local_range(first, first, tz)[0] if first else None,
        end=local_range(last, last, tz)[1] if last else None,
    )
    with appctx.database().reading() as db:
        return _csv("calls", CALL_COLUMNS, list(call_rows(db, wanted, tz)))


@bp.get("/tickets.csv")
def tickets_csv():
    """The ticket list's filters: every signed-in user exports what the list shows them (every ticket)."""
    with appctx.database().reading() as db:
        tickets = all_tickets(db, g.user, ticket_filter(request.args), appctx.now())
        transcripts = transcript_texts(db, (t.call_sid for t in tickets))
        return _csv("tickets", TICKET_COLUMNS, list(ticket_rows(tickets, appctx.hotline().routing.timezone, transcripts)))
