"""Work a webhook waits for only so long: the database's part of a call, given up at a bound.

Twilio gives a webhook 15 seconds. A database that is down fails fast, but one that hangs
would hold the caller past that, and they would hear an application error. So the work runs in
one of a few threads kept for it, and the webhook waits for it at most ``seconds``. (A thread
started per request cost more than the query it ran: every mobile caller's arrival looks up
their complaints.)

Work given up before it started never starts. Work given up while it runs finishes on its own;
whatever it writes is keyed by the CallSid, so whoever comes next (the journal's replay, a
repeat from Twilio) finds it rather than doubling it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Late(Exception):
    """The work did not end within its bound."""


class BoundedWork:
    """A few threads for work that a waiting webhook bounds; they start with the first work, so
    an app built before gunicorn forks (preload_app) holds none."""

    def __init__(self, name: str, threads: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    def run(self, work: Callable[[], T], seconds: float) -> T:
        """``work()``'s result, or what it raised; Late once ``seconds`` have passed."""
        future = self._pool.submit(work)
        try:
            return future.result(timeout=seconds)
        except TimeoutError:
            if future.done():  # it ended as the wait did, or it raised a TimeoutError of its own
                return future.result()
            future.cancel()  # not started yet: it never will
            raise Late(f"no answer within {seconds} s") from None
