"""HTTP byte ranges (RFC 9110 §14), as far as an audio player needs them: one range per request.

Pure: parses ``Range`` and ``Content-Range`` values and resolves a range against a length.
A browser seeking in an <audio> element asks for ``bytes=N-`` (and sometimes ``bytes=N-M`` or
a suffix ``bytes=-N``); several ranges in one request (a multipart answer) are never asked
for by media players, so they are treated as no range at all, which RFC 9110 allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"(?P<first>[0-9]*)-(?P<last>[0-9]*)")
_CONTENT_RANGE = re.compile(r"bytes (?P<first>[0-9]+)-(?P<last>[0-9]+)/(?P<total>[0-9]+|\*)")
_UNSATISFIED = re.compile(r"bytes \*/(?P<total>[0-9]+)")
_MAX_DIGITS = 18  # far beyond any recording; keeps int() on a hostile header cheap


class MalformedRange(ValueError):
    """A ``Range`` header that is not one valid range of bytes."""


@dataclass(frozen=True)
class ByteRange:
    """One requested range, not yet held against the file's length: ``first-last``,
    ``first-`` (``last`` None: to the end) or the final ``suffix`` bytes (``first`` None)."""

    first: int | None
    last: int | None = None
    suffix: int | None = None

    def header(self) -> str:
        """The ``Range`` value asking for this range."""
        if self.first is None:
            return f"bytes=-{self.suffix}"
        return f"bytes={self.first}-{'' if self.last is None else self.last}"

    def resolve(self, length: int) -> tuple[int, int] | None:
        """The first and last byte (inclusive) this range means in a file of ``length`` bytes;
        None when it is unsatisfiable (it starts at or past the end, or asks for 0 final bytes)."""
        if self.first is None:
            if not self.suffix or not length:
                return None
            return max(length - self.suffix, 0), length - 1
        if self.first >= length:
            return None
        return self.first, length - 1 if self.last is None else min(self.last, length - 1)


def parse_range(value: str | None) -> ByteRange | None:
    """The one range a ``Range`` header asks for; None without a header or for several ranges
    (the whole file is then sent). Raises MalformedRange for anything else that is not bytes."""
    if value is None:
        return None
    unit, _, specs = value.strip().partition("=")
    if unit.strip().lower() != "bytes" or not specs.strip():
        raise MalformedRange(f"not a range of bytes: {value[:80]!r}")
    ranges = [_spec(spec.strip(), value) for spec in specs.split(",")]
    return ranges[0] if len(ranges) == 1 else None


def _spec(spec: str, value: str) -> ByteRange:
    match = _SPEC.fullmatch(spec)
    if match is None or len(spec) > 2 * _MAX_DIGITS + 1 or spec == "-":
        raise MalformedRange(f"not a range of bytes: {value[:80]!r}")
    first, last = match["first"], match["last"]
    if not first:
        return ByteRange(first=None, suffix=int(last))
    if last and int(last) < int(first):
        raise MalformedRange(f"a range that ends before it starts: {value[:80]!r}")
    return ByteRange(first=int(first), last=int(last) if last else None)


@dataclass(frozen=True)
class ContentRange:
    """A ``Content-Range`` answer: bytes ``first``-``last`` of ``total`` (None: unknown)."""

    first: int
    last: int
    total: int | None

    def header(self) -> str:
        return f"bytes {self.first}-{self.last}/{'*' if self.total is None else self.total}"

    @property
    def length(self) -> int:
        return self.last - self.first + 1


def parse_content_range(value: str | None) -> ContentRange | None:
    """A satisfied ``Content-Range`` (``bytes 0-99/1000``); None when absent or not one."""
    match = _CONTENT_RANGE.fullmatch((value or "").strip())
    if match is None or int(match["last"]) < int(match["first"]):
        return None
    total = None if match["total"] == "*" else int(match["total"])
    if total is not None and int(match["last"]) >= total:
        return None
    return ContentRange(int(match["first"]), int(match["last"]), total)


def unsatisfied_total(value: str | None) -> int | None:
    """The length in an unsatisfied ``Content-Range`` (``bytes */1000``), else None."""
    match = _UNSATISFIED.fullmatch((value or "").strip())
    return int(match["total"]) if match else None
