"""Compensation owed to a customer whose complaint was resolved after its deadline.

Pure: the rule comes from routing.yaml (``compensations:``), the dates are arguments. Money is
``Decimal``, rounded half-up to bani once, at the step the formula shows. The words come from
prompts: ``formula_in_words`` fills the ``compensation_*`` texts of a prompts ``sms:`` section or of
a console catalog (same keys, same placeholders), so this module returns numbers, not sentences.

Days late: the calendar days after the deadline day up to and including the resolution day, both
days taken in the hotline's timezone by the caller (due 4 Dec, resolved 9 Dec: 5 days late;
resolved on the deadline day or before: 0).

``per_day_late`` (Canal+, seed 002): "despăgubiri echivalente cu valoarea lunară a serviciilor
afectate, împărţită la numărul de zile din luna respectivă, înmulţită cu numărul de zile în care
serviciul respectiv nu a fost disponibil peste termenul asumat". "Luna respectivă" is taken as the
month of the deadline day, the month in which the promised term ran out; the amount is
monthly × days late ÷ days in that month, rounded once at the end. The seed sets no ceiling.

``percent_per_started_week`` (ALMSOFT, seed 000): "despaguribi in cuantum de pana la 100% dar nu
mai mult de 10 Lei / saptamana". Each started week of delay (8 days late: 2 weeks) is worth
``percent``% of the monthly value, at most ``cap_per_week`` lei, rounded to bani; the total is
weeks × that, at most 100% of the monthly value. ALMSOFT's own reading is ``percent: 100,
cap_per_week: 10``: 10 lei a week (less if the subscription is cheaper), never more than the bill.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from .inputs import matches
from .terms import CompensationRule, PerDayLate

BANI = Decimal("0.01")
_MONEY = re.compile(r"[0-9]{1,7}([.,][0-9]{1,2})?")

# The texts a prompts ``sms:`` section and a console catalog give, with their placeholders.
TEXTS: dict[str, frozenset[str]] = {
    "compensation_money": frozenset({"lei", "bani"}),
    "compensation_on_time": frozenset({"days_late"}),
    "compensation_per_day_late": frozenset({"monthly", "days_in_month", "days_late", "amount"}),
    "compensation_percent_per_started_week": frozenset(
        {"weeks", "days_late", "percent", "monthly", "cap_per_week", "per_week", "amount"}
    ),
    "compensation_percent_per_started_week_capped": frozenset(
        {"weeks", "days_late", "percent", "monthly", "cap_per_week", "per_week", "uncapped", "amount"}
    ),
}


@dataclass(frozen=True)
class Compensation:
    """The amount owed and every number of the formula that produced it."""

    kind: str  # "per_day_late" | "percent_per_started_week"
    amount: Decimal
    monthly_value: Decimal
    days_late: int
    days_in_month: int | None = None
    weeks: int = 0
    percent: Decimal | None = None
    cap_per_week: Decimal | None = None
    per_week: Decimal | None = None
    uncapped: Decimal | None = None  # weeks × per_week, before the ceiling of the monthly value

    @property
    def text_key(self) -> str:
        """The prompts text that puts this formula in words."""
        if self.days_late == 0:
            return "compensation_on_time"
        if self.uncapped is not None and self.uncapped > self.amount:
            return f"compensation_{self.kind}_capped"
        return f"compensation_{self.kind}"


def to_bani(value: Decimal) -> Decimal:
    return value.quantize(BANI, rounding=ROUND_HALF_UP)


def parse_money(text: str) -> Decimal | None:
    """An amount in lei as typed ("45", "45.5", "45,50"), or None when it is not one."""
    text = text.strip()
    return Decimal(text.replace(",", ".")) if matches(_MONEY, text) else None


def days_late(due_on: date, resolved_on: date) -> int:
    return max(0, (resolved_on - due_on).days)


def compensation_for(rule: CompensationRule, monthly_value: Decimal, due_on: date, resolved_on: date) -> Compensation:
    if monthly_value < 0:
        raise ValueError("the monthly value cannot be negative")
    monthly, late = to_bani(monthly_value), days_late(due_on, resolved_on)
    if isinstance(rule, PerDayLate):
        in_month = calendar.monthrange(due_on.year, due_on.month)[1]
        return Compensation(rule.kind, to_bani(monthly * late / in_month), monthly, late, days_in_month=in_month)
    weeks = -(-late // 7)
    per_week = min(to_bani(monthly * rule.percent / 100), to_bani(rule.cap_per_week))
    uncapped = per_week * weeks
    return Compensation(
        rule.kind, min(uncapped, monthly), monthly, late, weeks=weeks, percent=rule.percent,
        cap_per_week=to_bani(rule.cap_per_week), per_week=per_week, uncapped=uncapped,
    )


def format_money(amount: Decimal, texts: Mapping[str, str]) -> str:
    lei, bani = f"{to_bani(amount):.2f}".split(".")
    return texts["compensation_money"].format(lei=lei, bani=bani)


def formula_in_words(compensation: Compensation, texts: Mapping[str, str]) -> str:
    """The formula as the customer (``sms:`` texts) or the operator (console labels) reads it."""
    values: dict[str, object] = {
        "days_late": compensation.days_late, "days_in_month": compensation.days_in_month,
        "weeks": compensation.weeks, "percent": _plain(compensation.percent),
    }
    money = {
        "monthly": compensation.monthly_value, "cap_per_week": compensation.cap_per_week,
        "per_week": compensation.per_week, "uncapped": compensation.uncapped, "amount": compensation.amount,
    }
    values.update({name: "" if amount is None else format_money(amount, texts) for name, amount in money.items()})
    key = compensation.text_key
    return texts[key].format_map({k: v for k, v in values.items() if k in TEXTS[key]})


def _plain(number: Decimal | None) -> str:
    """10 for Decimal("10.00"), 2.5 for Decimal("2.50"): a percentage as people write it."""
    if number is None:
        return ""
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
