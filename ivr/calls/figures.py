"""The supervisor's call figures: tallies, time-to-answer percentiles and chart geometry.

Pure: no database, no Flask. ``ivr.calls.stats`` feeds the tallies from the call log; the
console's templates draw the charts from the geometry computed here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..states import CallOutcome, TicketSource

# The service level: an offered call answered within this many seconds counts as answered in time.
ANSWER_TARGET_SECONDS = 20
# A call whose status callback has not come yet has no outcome: it is drawn as "ongoing".
ONGOING = "ongoing"
# Stacking order of the charts, bottom (left) first: the good news first.
CHART_OUTCOMES = (
    CallOutcome.ANSWERED, CallOutcome.VOICEMAIL, CallOutcome.ABANDONED_RINGING, CallOutcome.ABANDONED_VOICEMAIL,
    CallOutcome.ABANDONED_MENU, CallOutcome.ERROR, ONGOING,
)


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least ``share`` (0..1] of the
    values at or below it. Always one of the values (a wait someone really had); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]


@dataclass
class Tally:
    """What happened to the calls of one day, department or hour, and the complaints registered then."""

    calls: int = 0
    offered: int = 0              # reached the operators' ringing phones
    answered_in_time: int = 0     # answered within ANSWER_TARGET_SECONDS of being offered
    outcomes: Counter = field(default_factory=Counter)
    waits: list[int] = field(default_factory=list)   # seconds to answer of the answered calls
    complaints: Counter = field(default_factory=Counter)  # TicketSource -> tickets registered

    def add_call(self, outcome: str | None, offered: bool, seconds_to_answer: int | None) -> None:
        self.calls += 1
        self.offered += offered
        self.outcomes[outcome or ONGOING] += 1
        if outcome == CallOutcome.ANSWERED and seconds_to_answer is not None:
            self.waits.append(seconds_to_answer)
            self.answered_in_time += seconds_to_answer <= ANSWER_TARGET_SECONDS

    def add_complaint(self, source: str) -> None:
        self.complaints[source] += 1

    def count(self, outcome: str) -> int:
        return self.outcomes[outcome]

    @property
    def complaints_total(self) -> int:
        """Every complaint registered, however it came."""
        return sum(self.complaints.values())

    @property
    def complaints_live(self) -> int:
        return self.complaints[TicketSource.OPERATOR]

    @property
    def complaints_without_operator(self) -> int:
        """The complaints no operator took: voicemails, callback requests, outage notices joined."""
        return self.complaints_total - self.complaints_live

    @property
    def complaints_voicemail(self) -> int:
        return self.complaints[TicketSource.VOICEMAIL]

    @property
    def complaints_callback(self) -> int:
        return self.complaints[TicketSource.CALLBACK]

    @property
    def complaints_incident(self) -> int:
        return self.complaints[TicketSource.INCIDENT]

    @property
    def share_in_time(self) -> float | None:
        """Answered within the target, of the calls offered to operators (the service level)."""
        return self.answered_in_time / self.offered if self.offered else None

    @property
    def average_wait(self) -> float | None:
        return sum(self.waits) / len(self.waits) if self.waits else None

    @property
    def p90_wait(self) -> float | None:
        return percentile(self.waits, 0.9)


def total(tallies: Iterable[Tally]) -> Tally:
    """One tally of several (a range's days)."""
    result = Tally()
    for tally in tallies:
        result.calls += tally.calls
        result.offered += tally.offered
        result.answered_in_time += tally.answered_in_time
        result.outcomes.update(tally.outcomes)
        result.waits += tally.waits
        result.complaints.update(tally.complaints)
    return result


# -- chart geometry ------------------------------------------------------------------------
# Bars are drawn in a 0..100 box that the SVG stretches to its cell (preserveAspectRatio="none"),
# while every word and number stays HTML text around it: readable at a phone's width too.

@dataclass(frozen=True)
class Segment:
    outcome: str
    count: int
    start: float   # 0..100 along the bar
    length: float


def scale_top(largest: int) -> int:
    """A round axis maximum at or above ``largest`` (1 .. 10, then 12, 15, 20, 25, 30, 40, 50, 60,
    80, 100 ...), close enough that the longest bar fills most of the chart; at least 1."""
    if largest <= 10:
        return max(largest, 1)
    magnitude = 10 ** math.floor(math.log10(largest))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * magnitude >= largest:
            return round(step * magnitude)
    return 10 * magnitude


def stacked(counts: Mapping[str, int], top: int, order: Sequence[str] = CHART_OUTCOMES) -> list[Segment]:
    """The non-empty segments of one bar, in ``order``, scaled so that ``top`` fills the box."""
    segments, start = [], 0.0
    for outcome in order:
        count = counts.get(outcome, 0)
        if count:
            length = 100.0 * count / top
            segments.append(Segment(outcome, count, round(start, 3), round(length, 3)))
            start += length
    return segments
