"""ivr.bounded: the database work a webhook waits for only so long, in threads kept for it."""

from __future__ import annotations

import threading
import time

import pytest

from ivr.bounded import BoundedWork, Late


@pytest.fixture
def bounded():
    """A BoundedWork of one thread, so that a second piece of work waits behind the first."""
    return BoundedWork("test-bounded", threads=1)


def test_work_in_time_gives_its_result_or_raises_its_error(bounded):
    assert bounded.run(lambda: 42, 1) == 42
    with pytest.raises(ZeroDivisionError):
        bounded.run(lambda: 1 / 0, 1)


def test_late_work_is_given_up_at_the_bound_and_finishes_on_its_own(bounded):
    release, finished = threading.Event(), []
    started = time.monotonic()
    with pytest.raises(Late):
        bounded.run(lambda: release.wait(10) and finished.append("late"), 0.2)
    assert time.monotonic() - started < 2
    release.set()
    assert bounded.run(lambda: "next", 5) == "next"  # queued behind the late one, which has ended
    assert finished == ["late"]


def test_work_given_up_before_it_started_never_starts(bounded):
    release, ran = threading.Event(), []
    with pytest.raises(Late):
        bounded.run(lambda: release.wait(10), 0.1)  # holds the one thread
    with pytest.raises(Late):
        bounded.run(lambda: ran.append("queued"), 0.1)  # waits behind it, and is given up
    release.set()
    assert bounded.run(lambda: "after", 5) == "after" and ran == []


def test_the_threads_are_kept_not_started_per_piece_of_work():
    bounded = BoundedWork("test-kept", threads=2)
    names = {bounded.run(lambda: threading.current_thread().name, 1) for _ in range(50)}
    assert len(names) <= 2 and all(name.startswith("test-kept") for name in names)


def test_a_process_ends_without_waiting_for_work_stuck_on_a_hung_database(tmp_path):
    """A gunicorn worker told to stop ends at once; the registration it gave up on (a hung
    database) is not waited for, as nobody is waiting for its answer any more."""
    import subprocess
    import sys

    script = (
        "import time\n"
        "from ivr.bounded import BoundedWork, Late\n"
        "work = BoundedWork('stuck')\n"
        "try:\n"
        "    work.run(lambda: time.sleep(30), 0.1)\n"
        "except Late:\n"
        "    print('late', flush=True)\n"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout == "late\n" and done.returncode == 0
    assert time.monotonic() - started < 10  # not the 30 s the stuck work would take
