"""What a test pays before it starts, and how long the SQLite test suite takes.

    python benchmarks/test_suite.py [--quick] [--rounds 3] [--tests 10]

1. The set-up of a test that makes an app: a database of its own at the latest schema, then
   ``create_app``, then its teardown. conftest's way (a copy of the session's template, see
   tests/databases.py, with the templates, URL rules and configuration built once per run, see
   tests/built_once.py) side by side with a copy alone and with running the migrations in each
   test, as the tests did before: milliseconds per test, the median of the rounds, and the
   ratio. On PostgreSQL too when IVR_TEST_DATABASE_URL is set. Then one password hash, at the
   shipped argon2 cost and at the tests' (conftest's quick_password_hashes).
2. The whole suite on SQLite (PostgreSQL's tests skipped), in one process (``-n 0``) and as
   pyproject.toml runs it, a process per core; then, a process per core, without the tests
   marked slow (``-m "not slow"``, the quick check while working): wall and CPU seconds,
   against the target of 30 s. ``--quick`` (CI) runs one small test file instead, to show that
   this works.

A figure, not a test. On a shared machine the wall time counts other people's work too; the CPU
seconds (the suite's processes alone) do not.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("IVR_INSTANCE_DIR", tempfile.mkdtemp(prefix="ivr-bench-instance-"))

from ivr import create_app  # noqa: E402

import built_once  # noqa: E402
import conftest  # noqa: E402  (the tests' fixtures: what is measured is theirs)
import databases  # noqa: E402

TARGET_SECONDS = 30.0
QUICK_FILES = ["tests/test_tickets.py"]


def one_test_setup(kind: str, folder: Path, copied: bool) -> tuple[float, float]:
    """Seconds for a test's database, its app, and their teardown: wall, and this process's CPU."""
    started, cpu = time.perf_counter(), time.process_time()
    for url in databases.database_url_for(kind, folder, upgraded=copied):
        app = create_app({
            "TESTING": True, "TWILIO_AUTH_TOKEN": conftest.AUTH_TOKEN, "PUBLIC_URL": None,
            "ROUTING_FILE": str(ROOT / "routing.yaml"), "PROMPTS_DIR": str(ROOT / "prompts"),
            "DATABASE_URL": url, "DATABASE_AUTO_UPGRADE": True, "JOURNAL_DIR": str(folder / "journal"),
        })
        app.extensions["ivr.call_events"].flush(5)
        app.extensions["ivr.db"].engine.dispose()
    return time.perf_counter() - started, time.process_time() - cpu


def _setups(kind: str, copied: bool, shared: bool, tests: int) -> list[tuple[float, float]]:
    if not shared:
        return [one_test_setup(kind, Path(tempfile.mkdtemp()), copied) for _ in range(tests)]
    with built_once.everything():  # as conftest applies it to a run, whose first app builds it
        one_test_setup(kind, Path(tempfile.mkdtemp()), copied)
        return [one_test_setup(kind, Path(tempfile.mkdtemp()), copied) for _ in range(tests)]


def compare_setups(kind: str, rounds: int, tests: int) -> None:
    # way: (a copy of the template, templates/URL rules/configuration built once)
    ways = {"migrations per test": (False, False), "template copy": (True, False), "copy, built once": (True, True)}
    wall: dict[str, list[float]] = {way: [] for way in ways}
    cpu: dict[str, list[float]] = {way: [] for way in ways}
    one_test_setup(kind, Path(tempfile.mkdtemp()), True)  # the session's template, made once
    for _ in range(rounds):
        for way, (copied, shared) in ways.items():  # side by side in each round: the same load for all
            times = _setups(kind, copied, shared, tests)
            wall[way].append(sum(w for w, _ in times) / tests)
            cpu[way].append(sum(c for _, c in times) / tests)
    for way in ways:
        print(f"  {kind:<10}  {way:<20} {statistics.median(wall[way]) * 1000:7.1f} ms per test "
              f"({statistics.median(cpu[way]) * 1000:.1f} ms CPU here)")
    migrated = statistics.median(wall["migrations per test"])
    for way in ("template copy", "copy, built once"):
        print(f"  {kind:<10}  {way}: {migrated / statistics.median(wall[way]):.1f}x faster than migrations (wall)")


def compare_hashes() -> None:
    from argon2 import PasswordHasher

    for name, hasher in (("shipped", PasswordHasher()), ("tests'", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))):
        started = time.perf_counter()
        hasher.verify(hasher.hash("a password"), "a password")
        print(f"  argon2 at the {name + ' cost':<19} {(time.perf_counter() - started) * 1000:7.1f} ms per hash and sign-in")


def time_suite(files: list[str], processes: str, *options: str) -> None:
    env = {key: value for key, value in os.environ.items() if key != "IVR_TEST_DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", processes, *options, *files],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]
    what = " ".join(files) or "the whole suite"
    how = " ".join(["in one process" if processes == "0" else f"-n {processes}", shlex.join(options)]).strip()
    print(f"  {what} on SQLite, {how}: {wall:.0f} s wall, {cpu:.0f} s CPU (target {TARGET_SECONDS:.0f} s): {summary}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few set-ups, and one test file instead of the suite")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tests", type=int, default=10, help="set-ups per way and round")
    args = parser.parse_args()
    rounds, tests = (1, 2) if args.quick else (args.rounds, args.tests)
    print(f"Set-up of a test with an app (median of {rounds} round(s) of {tests}):")
    compare_setups("sqlite", rounds, tests)
    if databases.POSTGRES_URL:
        compare_setups("postgresql", rounds, tests)
    else:
        print("  postgresql  skipped (set IVR_TEST_DATABASE_URL)")
    compare_hashes()
    print("The suite:")
    files = QUICK_FILES if args.quick else []
    for processes in ("0", "auto"):  # pyproject.toml's addopts: a process per core
        time_suite(files, processes)
    time_suite(files, "auto", "-m", "not slow")
    databases.SCHEMA_TEMPLATE.remove()


if __name__ == "__main__":
    main()
