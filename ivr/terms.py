"""The terms of a complaint in routing.yaml: deadline rules, a department's milestones, and
compensation rules. Validated with pydantic like the rest of routing.yaml (``ivr.config``)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .inputs import matches
from .schedule import parse_days, parse_span

if TYPE_CHECKING:
    from .config import Department, Routing


class Strict(BaseModel):
    """A routing.yaml mapping: unknown keys are errors, and nothing changes once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DeadlineRule(Strict):
    """``{days: N, count: calendar|working}`` or ``{hours: N, within: "09:00-21:00", days: mon-sun}``."""

    days: int | str | None = None
    count: Literal["calendar", "working"] | None = None
    hours: int | None = Field(default=None, ge=1, le=10_000)
    within: str | None = None
    holidays: Literal["count", "pause"] | None = None  # an hours rule's clock on public holidays

    @model_validator(mode="after")
    def _one_shape(self) -> DeadlineRule:
        if self.holidays is not None and self.hours is None:
            raise ValueError("holidays: pause belongs to an hours rule (a day rule already skips them when count: working)")
        if self.hours is not None:
            if self.count is not None:
                raise ValueError("an hours rule takes within and days, not count")
            if self.within is None:
                raise ValueError('an hours rule needs within, such as "09:00-21:00"')
            parse_span(self.within)
            parse_days(str(self.days or "mon-sun"))
            return self
        if self.within is not None:
            raise ValueError("within belongs to an hours rule: add hours: N")
        if not isinstance(self.days, int) or self.days < 1:
            raise ValueError("needs days: a whole number of days, 1 or more")
        if self.count is None:
            raise ValueError("needs count: calendar or working")
        return self

    @property
    def hours_days(self) -> tuple[int, ...]:
        return parse_days(str(self.days or "mon-sun"))

    def describe(self) -> str:
        if self.hours is not None:
            paused = ", paused on public holidays" if self.holidays == "pause" else ""
            return f"{self.hours} business hours ({self.within}, {self.days or 'mon-sun'}{paused})"
        return f"{self.days} {self.count} days"


class PerDayLate(Strict):
    """Canal+ (seed 002): monthly value ÷ days in the month × days late; see ``ivr.compensation``."""

    kind: Literal["per_day_late"]


class PercentPerStartedWeek(Strict):
    """ALMSOFT (seed 000): ``percent`` of the monthly value per started week late, each week at most
    ``cap_per_week`` lei, the whole at most the monthly value; see ``ivr.compensation``."""

    kind: Literal["percent_per_started_week"]
    percent: Decimal = Field(gt=0, le=100)
    cap_per_week: Decimal = Field(gt=0)


CompensationRule = Annotated[PerDayLate | PercentPerStartedWeek, Field(discriminator="kind")]
COMPENSATION_KINDS = ("per_day_late", "percent_per_started_week")


MET_BY = ("registration_sms", "taken", "progress", "resolution")
# Placeholders the registration texts already have: a milestone, also a placeholder there, cannot take their names.
RESERVED_MILESTONE_NAMES = ("ticket", "deadline", "company", "department", "message", "time", "date")
_MILESTONE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


class Milestone(Strict):
    """A deadline a ticket must meet: ``rule`` names a rule of ``deadlines:``; it counts from the
    registration, or from the due moment of the milestone named in ``after``."""

    rule: str
    met_by: Literal["registration_sms", "taken", "progress", "resolution"] = "resolution"
    after: str | None = None
    final: bool = False  # the legal term: what the caller hears and the registration SMS carries
    title: dict[str, str] = {}  # what operators read, per language: {ro: "Termen promis", en: "Promised"}


class Extension(Strict):
    """``extensions.NAME``: how a ticket may be extended, exceptionally and with notice. A
    department names one in ``extension:``; without it, its tickets are never extended."""

    rule: str                            # a rule of deadlines: the extra time, counted from the due moment
    milestones: list[str] | None = None  # the milestones it moves; by default the final (legal) one
    times: int = Field(default=1, ge=1, le=10)  # how many times one ticket may be extended


class CompensationRef(Strict):
    """A department's ``compensation: {rule: NAME, milestone: NAME}``: lateness is counted
    against that milestone rather than the final one."""

    rule: str
    milestone: str


_LEAD = re.compile(r"(\d{1,4})\s*(m|h|d)")
_LEAD_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class Alert(Strict):
    """``departments.X.alert``: who is warned, and how long before a milestone falls due."""

    before: str                                # "30m", "2h", "1d"
    to: list[str] = Field(min_length=1)        # "user:NAME" (SMS to their phone) or an E.164 number

    @property
    def lead(self) -> timedelta:
        count, unit = _LEAD.fullmatch(self.before.strip()).groups()  # type: ignore[union-attr]
        return timedelta(**{_LEAD_UNITS[unit]: int(count)})

    @model_validator(mode="after")
    def _valid_lead(self) -> Alert:
        found = _LEAD.fullmatch(self.before.strip())
        if found is None or int(found.group(1)) == 0:
            raise ValueError(f'before: "{self.before}" is not a time such as 30m, 2h or 1d')
        return self


def milestone_problems(key: str, dept: Department, routing: Routing) -> list[str]:
    """Faults of a department's ``deadline:`` that involve other keys (rules, other milestones)."""
    where = f"departments.{key}.deadline"
    if isinstance(dept.deadline, str):
        if dept.deadline not in routing.deadlines:
            return [f'{where}: "{dept.deadline}" is not a rule under deadlines ({", ".join(routing.deadlines)})']
        return []
    problems = []
    for name, value in dept.deadline.items():
        milestone = Milestone(rule=value) if isinstance(value, str) else value
        if not matches(_MILESTONE_NAME, name):
            problems.append(f"{where}.{name}: a milestone name is lowercase letters, digits and _, such as legal")
        elif name in RESERVED_MILESTONE_NAMES:
            problems.append(f"{where}.{name}: {name} is a placeholder of the prompts already; choose another name")
        if milestone.rule not in routing.deadlines:
            problems.append(f'{where}.{name}: "{milestone.rule}" is not a rule under deadlines ({", ".join(routing.deadlines)})')
        for lang in milestone.title:
            if lang not in routing.hotline.languages:
                problems.append(f"{where}.{name}.title.{lang}: {lang} is not in hotline.languages")
        if milestone.after == name:
            problems.append(f"{where}.{name}.after: a milestone cannot count from itself")
        elif milestone.after is not None and milestone.after not in dept.deadline:
            problems.append(f'{where}.{name}.after: "{milestone.after}" is not a milestone of this department')
    if not any(m.met_by == "resolution" for m in dept.milestones.values()):
        problems.append(f"{where}: needs a milestone met by the resolution (met_by: resolution)")
    finals = [k for k, m in dept.milestones.items() if m.final]
    if len(finals) > 1:
        problems.append(f"{where}: only one milestone may be final ({', '.join(finals)} are)")
    elif finals and dept.milestones[finals[0]].met_by != "resolution":
        problems.append(f"{where}.{finals[0]}.final: the final (legal) milestone is met by the resolution")
    if not problems and _has_cycle(dept.milestones):
        problems.append(f"{where}: milestones count from each other in a circle (after: ...)")
    return problems


def _has_cycle(milestones: dict[str, Milestone]) -> bool:
    for start in milestones:
        seen, current = set(), start
        while current is not None:
            if current in seen:
                return True
            seen.add(current)
            current = milestones[current].after
    return False


def terms_problems(key: str, dept: Department, routing: Routing) -> list[str]:
    """Faults of a department's extension, compensation and alert keys."""
    where, problems = f"departments.{key}", []
    if dept.extension is not None:
        extension = routing.extensions.get(dept.extension)
        if extension is None:
            known = ", ".join(routing.extensions) or "none defined"
            problems.append(f'{where}.extension: "{dept.extension}" is not a rule under extensions ({known})')
        else:
            for name in extension.milestones or []:
                if name not in dept.milestones:
                    problems.append(f'extensions.{dept.extension}.milestones: "{name}" is not a milestone of {where}.deadline')
    if dept.compensation is not None:
        name = dept.compensation if isinstance(dept.compensation, str) else dept.compensation.rule
        if name not in routing.compensations:
            rules = ", ".join(routing.compensations) or "none defined"
            problems.append(f'{where}.compensation: "{name}" is not a rule under compensations ({rules})')
        if isinstance(dept.compensation, CompensationRef) and dept.compensation.milestone not in dept.milestones:
            problems.append(f'{where}.compensation.milestone: "{dept.compensation.milestone}" is not a milestone of {where}.deadline')
    return problems


def time_span(text: str) -> timedelta | None:
    """``"30m"``, ``"2h"`` or ``"1d"`` as a timedelta, like ``alert.before``; None when it is not one or is zero."""
    found = _LEAD.fullmatch(text.strip())
    if found is None or int(found.group(1)) == 0:
        return None
    return timedelta(**{_LEAD_UNITS[found.group(2)]: int(found.group(1))})
