"""Which calendar days are working days: weekends, public holidays, decreed exceptions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache


@lru_cache(maxsize=64)
def _public_holidays(country: str, year: int) -> frozenset[date]:
    # Imported here: the holidays package costs ~0.1 s, which `ivr --help` need not pay.
    import holidays

    return frozenset(holidays.country_holidays(country, years=year).keys())


@cache
def supported_countries() -> frozenset[str]:
    """The two-letter country codes the holidays package has a calendar for (not its aliases,
    such as ROU: the hotline also reads its callers' numbers by this code).

    Read from its registry, which names every country without importing it: its
    ``list_supported_countries()`` also lists subdivisions, so imports all ~250 country modules."""
    from holidays.registry import EntityLoader

    return frozenset(EntityLoader.get_country_codes(include_aliases=False))


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
