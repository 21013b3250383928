"""Which calendar days are working days: weekends, public holidays, decreed exceptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import holidays as holidays_lib


@lru_cache(maxsize=64)
def _public_holidays(country: str, year: int) -> frozenset[date]:
    return frozenset(holidays_lib.country_holidays(country, years=year).keys())


def supported_countries() -> set[str]:
    return set(holidays_lib.list_supported_countries())


@dataclass(frozen=True)
class WorkCalendar:
    """Public holidays of ``country`` plus the days a government decree moved.

    ``extra_non_working`` are days off decreed on top of the legal holidays;
    ``extra_working`` are Saturdays or Sundays decreed working to make up for them.
    """

    country: str
    extra_non_working: frozenset[date] = field(default_factory=frozenset)
    extra_working: frozenset[date] = field(default_factory=frozenset)

    def is_holiday(self, day: date) -> bool:
        """A public holiday or a decreed day off."""
        return day in self.extra_non_working or day in _public_holidays(self.country, day.year)

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working:
            return True
        return day.weekday() < 5 and not self.is_holiday(day)
