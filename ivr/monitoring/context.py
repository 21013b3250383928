"""What the work in progress is about, for the log lines it writes: a call, a ticket.

Kept apart from the log formatting (which reads Flask's request) so that services and worker
threads, which have no request, can say which call or ticket they are working on.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_CALL: contextvars.ContextVar[str | None] = contextvars.ContextVar("ivr_call", default=None)
_TICKET: contextvars.ContextVar[str | None] = contextvars.ContextVar("ivr_ticket", default=None)


@contextmanager
def about_call(call_sid: str) -> Iterator[None]:
    """Every log line inside is about the call ``call_sid`` (outside its webhook's request)."""
    token = _CALL.set(call_sid)
    try:
        yield
    finally:
        _CALL.reset(token)


@contextmanager
def about_ticket(number: str) -> Iterator[None]:
    """Every log line inside is about ticket ``number``."""
    token = _TICKET.set(number)
    try:
        yield
    finally:
        _TICKET.reset(token)


def current_call() -> str | None:
    return _CALL.get()


def current_ticket() -> str | None:
    return _TICKET.get()
