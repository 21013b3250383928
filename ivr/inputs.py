"""Reading untrusted text from requests: numbers, identifiers and free text.

``str.isdigit()`` accepts "²" and "①", which ``int()`` then refuses, and a regex ending in
``$`` matches before a trailing newline. Everything a webhook or a form hands over goes
through these helpers instead, so each rule is written once.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

_ASCII_DIGITS = re.compile(r"[0-9]+")
# Unicode categories Cc (controls, NUL and newlines included), Cs (lone surrogates, which
# PostgreSQL's UTF-8 refuses) and Co/Cn (private use, unassigned).
_UNSAFE_CATEGORIES = {"Cc", "Cs", "Co", "Cn"}


def ascii_int(text: str | None, max_digits: int = 9) -> int | None:
    """The integer written in ASCII digits only, at most ``max_digits`` of them; else None."""
    text = text or ""
    if len(text) > max_digits or not _ASCII_DIGITS.fullmatch(text):
        return None
    return int(text)


def ascii_digits(text: str | None, length: int) -> str | None:
    """``text`` when it is exactly ``length`` ASCII digits, leading zeros kept (a code, not a number); else None."""
    text = text or ""
    return text if len(text) == length and _ASCII_DIGITS.fullmatch(text) else None


def matches(pattern: re.Pattern[str], text: str | None) -> bool:
    """Whether the whole of ``text`` matches ``pattern`` (never a prefix, never before a newline)."""
    return pattern.fullmatch(text or "") is not None


def has_control_characters(text: str | None) -> bool:
    """True when ``text`` holds a control character (NUL, newline, ...) or an unassigned one."""
    return any(unicodedata.category(c) in _UNSAFE_CATEGORIES for c in text or "")


def clean_text(text: str | None, max_length: int) -> str:
    """Free text for storage: control characters except newline and tab removed, cut to ``max_length``."""
    kept = "".join(
        c for c in (text or "") if c in "\n\t" or unicodedata.category(c) not in _UNSAFE_CATEGORIES
    )
    return kept[:max_length]


def safe_redirect_target(text: str | None) -> str | None:
    """``text`` when it is a path on this site ("/console/?status=open"); else None.

    Refused: anything with a scheme or a host, "//host" and "/\\host" (which browsers read as
    another host), backslashes, control characters (a newline would split the Location
    header), spaces and line separators, and text that does not start with "/".
    """
    text = text or ""
    if not text.startswith("/") or text[1:2] == "/" or "\\" in text:
        return None
    if has_control_characters(text) or any(unicodedata.category(c).startswith("Z") for c in text):
        return None
    parts = urlsplit(text)
    return text if not parts.scheme and not parts.netloc else None


def spoken_words(text: str) -> list[str]:
    """The words of ``text``, in lower case and without diacritics ("Plăți" and "plati" alike):
    how the menu compares what a caller said with a department's keywords."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return re.findall(r"\w+", "".join(c for c in decomposed if not unicodedata.combining(c)))
