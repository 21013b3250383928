"""The geometry of the supervisor's overview charts, from its figures (``ivr.tickets.queries.Overview``).

Pure: drawn by the template as SVG in a 0..100 box stretched to its cell, like the call
statistics (``ivr.calls.figures``), every word and number staying HTML text around it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from ..calls.figures import Segment, scale_top, stacked

SERIES_COLOURS = 6  # console.css gives .series-0 .. .series-5
CLOSED_PARTS = ("in_time", "late")


@dataclass(frozen=True)
class DayColumn:
    day: date
    total: int
    segments: list[Segment]   # one per department, bottom first


@dataclass(frozen=True)
class ClosedBar:
    department: str
    closed: int
    in_time: int
    segments: list[Segment]   # in time, then late


@dataclass(frozen=True)
class OverviewCharts:
    colours: dict[str, str]       # department -> CSS class of its series
    day_top: int
    days: list[DayColumn]
    closed_top: int
    closed: list[ClosedBar]


def overview_charts(summary, departments: list[str]) -> OverviewCharts:
    """Registered per day, stacked by department; closed per department, in time and late."""
    order = departments + sorted(key for key in summary.registered if key not in departments)
    per_day = [(day, summary.registered_on(day)) for day in summary.days]
    day_top = scale_top(max((sum(counts.values()) for _, counts in per_day), default=0))
    figures = summary.per_department
    closed_keys = [key for key in order if key in figures and figures[key].closed]
    closed_top = scale_top(max((figures[key].closed for key in closed_keys), default=0))
    return OverviewCharts(
        colours={key: f"series-{index % SERIES_COLOURS}" for index, key in enumerate(order)},
        day_top=day_top,
        days=[DayColumn(day, sum(counts.values()), stacked(counts, day_top, order)) for day, counts in per_day],
        closed_top=closed_top,
        closed=[ClosedBar(key, figures[key].closed, figures[key].closed_in_time,
                          stacked({"in_time": figures[key].closed_in_time, "late": figures[key].closed_late},
                                  closed_top, CLOSED_PARTS)) for key in closed_keys],
    )
