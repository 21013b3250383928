"""Work a webhook waits for only so long: the database's part of a call, given up at a bound.

Twilio gives a webhook 15 seconds. A database that is down fails fast, but one that hangs
would hold the caller past that, and they would hear an application error. So the work runs in
one of a few threads kept for it, and the webhook waits for it at most ``seconds``. (A thread
started per request cost more than the query it ran: every mobile caller's arrival looks up
their complaints.)

Work given up before it started never starts. Work given up while it runs finishes on its own;
whatever it writes is keyed by the CallSid, so whoever comes next (the journal's replay, a
repeat from Twilio) finds it rather than doubling it.

The threads are daemons: a process that ends (a worker gunicorn stops) does not wait for work
stuck on a hung database, which nobody waits for any more. (``concurrent.futures``' threads are
joined at exit, and its hand-off, a Future and its Condition, costs more CPU than a lock's:
about 42 against 30 µs here.)
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Late(Exception):
    """The work did not end within its bound."""


class _Piece(Generic[T]):
    """One piece of work, and its outcome once ``ended`` is released."""

    __slots__ = ("work", "ended", "started", "given_up", "result", "error")

    def __init__(self, work: Callable[[], T]) -> None:
        self.work = work
        self.ended = threading.Lock()
        self.ended.acquire()  # released by the thread that ran the work
        self.started = self.given_up = False
        self.result: Any = None
        self.error: BaseException | None = None


class BoundedWork:
    """A few threads for work that a waiting webhook bounds; they start with the first work, so
    an app built before gunicorn forks (preload_app) holds none."""

    def __init__(self, name: str, threads: int = 16) -> None:
        self._name, self._most = name, threads
        self._pieces: queue.SimpleQueue[_Piece[Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()  # the counts below, and each piece's started/given_up
        self._threads = self._idle = 0

    def run(self, work: Callable[[], T], seconds: float) -> T:
        """``work()``'s result, or what it raised; Late once ``seconds`` have passed."""
        piece = _Piece(work)
        with self._lock:
            if self._idle:
                self._idle -= 1  # that thread takes this piece (or an earlier one)
            elif self._threads < self._most:
                self._threads += 1
                threading.Thread(target=self._serve, name=f"{self._name}-{self._threads}", daemon=True).start()
        self._pieces.put(piece)
        if not piece.ended.acquire(timeout=max(seconds, 0.0)):
            with self._lock:
                piece.given_up = not piece.started  # not started yet: it never will
                running = piece.started
            if not (running and piece.ended.acquire(blocking=False)):  # unless it ended as the wait did
                raise Late(f"no answer within {seconds} s")
        if piece.error is not None:
            raise piece.error
        return piece.result

    def _serve(self) -> None:
        while True:
            piece = self._pieces.get()
            with self._lock:
                skip = piece.given_up
                piece.started = not skip
            if not skip:
                try:
                    piece.result = piece.work()
                except BaseException as error:  # the waiter raises it, as a Future would
                    piece.error = error
                piece.ended.release()
            with self._lock:
                self._idle += 1
