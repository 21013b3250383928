"""How many tickets a second the <Record> action webhook registers, against what PostgreSQL
itself allows a gapless counter, and how long a voicemail waits on SQLite.

    python benchmarks/tickets.py [--postgres URL] [--runs 3] [--count 600] [--quick]

PostgreSQL (``--postgres``, default $IVR_TEST_DATABASE_URL: the server to use, not the database):
the script creates a database of its own there (dropped at the end), runs ``ivr db upgrade`` and
gunicorn with the shipped gunicorn.conf.py and 4 sync workers, then posts signed <Record>
actions, each for a fresh CallSid, from a pool of threads at concurrency 1, 4 and 16. No SMS
worker runs: the SMS stay queued. The baseline is pgbench in the same run, at the same
concurrencies, with the minimal gapless transaction (the counter's UPDATE and the ticket's
INSERT). After each load it checks that the year's numbers are 1..N without a gap or a
repeat, and that every ticket has exactly one queued registration SMS. A race phase then posts
the action and the recording status callback of each call at the same moment, and checks that
each call made one ticket.

SQLite: ``ivr serve`` (waitress and its SMS dispatcher, as shipped) at concurrency 4; its p99.

Every figure is the median of ``--runs`` runs. A figure, not a test: the machine is shared and
the numbers are noisy; the script fails only when a check fails (exit status 1) or it crashes.
Targets (issue 12): >= 400 tickets/s at concurrency 16, never fewer at 16 than at 4; SQLite
p99 < 100 ms at concurrency 4. ``--quick`` (CI) is one small run, to prove the script works.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import bindparam, create_engine, make_url, text
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchmark-token"
MOBILE = "+40722123456"
CONCURRENCIES = (1, 4, 16)
SQLITE_CONCURRENCY = 4
GUNICORN_WORKERS = 4
START_SECONDS = 60.0
TARGET_TICKETS_PER_SECOND = 400
TARGET_SQLITE_P99_MS = 100


# -- the load ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignedPost:
    path: str
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Load:
    """What one load gave: requests a second, and each request's latency."""

    per_second: float
    p50_ms: float
    p99_ms: float
    failures: int


def signed_post(base: str, path: str, form: dict[str, str]) -> SignedPost:
    """A webhook request as Twilio signs it: over the full URL and the sorted form fields."""
    signature = RequestValidator(TOKEN).compute_signature(base + path, form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return SignedPost(path, urlencode(form).encode(), headers)


def recording_form(call_sid: str, status: str | None = None) -> dict[str, str]:
    form = {
        "CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "From": MOBILE, "To": "+40215550000",
        "RecordingSid": "RE" + secrets.token_hex(16), "RecordingDuration": "30",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE",
    }
    if status:
        form["RecordingStatus"] = status
    else:
        form["Digits"] = "#"
    return form


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def record_action(base: str, call_sid: str) -> SignedPost:
    """The <Record> action of a caller who keyed nothing more than the department."""
    query = urlencode({"lang": "ro", "sms": MOBILE})
    return signed_post(base, f"/voice/recorded/technical?{query}", recording_form(call_sid))


def recording_callback(base: str, call_sid: str) -> SignedPost:
    query = urlencode({"lang": "ro", "sms": MOBILE})
    return signed_post(base, f"/voice/recording-status/technical?{query}", recording_form(call_sid, "completed"))


def post_all(base: str, posts: list[SignedPost], concurrency: int) -> Load:
    """Send ``posts`` from ``concurrency`` threads, each taking the next one as soon as it is
    answered. The requests are signed beforehand so that the client spends little CPU."""
    host, port = base.removeprefix("http://").split(":")
    latencies: list[float] = []
    failures: list[int] = []
    cursor = iter(range(len(posts)))
    cursor_lock = threading.Lock()
    start = threading.Barrier(concurrency + 1)

    def send() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        mine: list[float] = []
        start.wait()
        while True:
            with cursor_lock:
                index = next(cursor, None)
            if index is None:
                break
            post = posts[index]
            began = time.perf_counter()
            try:
                connection.request("POST", post.path, post.body, post.headers)
                response = connection.getresponse()
                response.read()  # a "Connection: close" answer (gunicorn's sync workers) reconnects
                ok = response.status in (200, 204)
            except OSError:
                connection.close()
                ok = False
            mine.append(time.perf_counter() - began)
            if not ok:
                failures.append(index)
        connection.close()
        with cursor_lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=send, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    return Load(len(posts) / elapsed, percentile(latencies, 50), percentile(latencies, 99), len(failures))


def percentile(values: list[float], p: int) -> float:
    """The ``p``-th percentile in milliseconds (nearest rank)."""
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


# -- servers ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hotline_env(instance: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update({
        "PYTHONPATH": str(ROOT), "TWILIO_AUTH_TOKEN": TOKEN, "IVR_INSTANCE_DIR": str(instance),
        "IVR_ROUTING_FILE": str(ROOT / "routing.yaml"), "IVR_PROMPTS_DIR": str(ROOT / "prompts"),
        "IVR_SECRET_KEY": "benchmark-secret",
    })
    if database_url:
        env["IVR_DATABASE_URL"] = database_url
    return env


@contextmanager
def server(command: list[str], env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen]:
    """Start ``command`` in its own process group; yields it once /health answers, stops it after."""
    with open(log, "w") as errors:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=errors, stderr=errors, start_new_session=True)
    try:
        deadline = time.monotonic() + START_SECONDS
        while not healthy(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{command[2]} did not start; its log:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def healthy(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def cpu_seconds(root_pid: int) -> float:
    """User plus system CPU of ``root_pid``'s children (gunicorn's workers), from /proc."""
    total = 0.0
    try:
        children = Path(f"/proc/{root_pid}/task/{root_pid}/children").read_text().split()
    except OSError:
        return 0.0
    for pid in children:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


# -- checks -----------------------------------------------------------------------------------

def check_tickets(connection, expected: int, sms_status: str | None) -> list[str]:
    """What is wrong with the tickets: numbers not 1..N per year, a counter that disagrees, a
    ticket without exactly one registration SMS (in ``sms_status``, when given), or a count that
    is not ``expected``."""
    problems = []
    years = connection.execute(text(
        "SELECT t.year, count(*), count(DISTINCT t.sequence), min(t.sequence), max(t.sequence), "
        "count(DISTINCT t.number), max(s.last) FROM tickets t LEFT JOIN ticket_sequences s ON s.year = t.year "
        "GROUP BY t.year"
    )).all()
    total = sum(row[1] for row in years)
    if total != expected:
        problems.append(f"{total} tickets for {expected} calls")
    for year, count, distinct, low, high, numbers, last in years:
        if not (count == distinct == numbers == high == last and low == 1):
            problems.append(f"{year}: {count} tickets, {distinct} distinct numbers in {low}..{high}, counter at {last}")
    status = "" if sms_status is None else " AND m.status = :status"
    unsent = connection.execute(text(
        "SELECT count(*) FROM tickets t WHERE (SELECT count(*) FROM sms_messages m WHERE m.ticket_id = t.id "
        f"AND m.purpose = 'ticket_registered'{status}) <> 1"
    ), {"status": sms_status}).scalar_one()
    if unsent:
        problems.append(f"{unsent} tickets without exactly one registration SMS{' ' + sms_status if sms_status else ''}")
    return problems


def check_races(connection, call_sids: list[str]) -> list[str]:
    """Each raced call: one ticket, with the callback's recording status, and one 'registered' event."""
    rows = connection.execute(text(
        "SELECT t.call_sid, t.recording_status, (SELECT count(*) FROM ticket_events e WHERE e.ticket_id = t.id "
        "AND e.kind = 'registered') FROM tickets t WHERE t.call_sid IN :sids"
    ).bindparams(bindparam("sids", expanding=True)), {"sids": call_sids}).all()
    wanted = set(call_sids)
    raced = [row for row in rows if row[0] in wanted]
    problems = []
    if len(raced) != len(wanted) or len({row[0] for row in raced}) != len(wanted):
        problems.append(f"{len(raced)} tickets for {len(wanted)} raced calls")
    if any(status != "completed" or registered != 1 for _, status, registered in raced):
        problems.append("a raced ticket lacks the callback's recording status or has not one 'registered' event")
    return problems


def check_journal(instance: Path) -> list[str]:
    """A report the database did not take in time went to the journal: not a ticket (yet)."""
    journal = instance / "voicemail-journal.jsonl"
    lines = len(journal.read_text().splitlines()) if journal.exists() else 0
    return [f"{lines} reports journaled (the database did not answer in time)"] if lines else []


# -- PostgreSQL -------------------------------------------------------------------------------

# The baseline: what PostgreSQL allows a gapless counter on this machine, with nothing else.
GAPLESS_SCHEMA = (
    "CREATE TABLE gapless_counter (year int PRIMARY KEY, last int NOT NULL)",
    "CREATE TABLE gapless_tickets (id bigserial PRIMARY KEY, year int NOT NULL, sequence int NOT NULL, "
    "call_sid text NOT NULL UNIQUE, UNIQUE (year, sequence))",
    "INSERT INTO gapless_counter VALUES (2026, 0)",
)
GAPLESS_TRANSACTION = """BEGIN;
UPDATE gapless_counter SET last = last + 1 WHERE year = 2026 RETURNING last AS sequence \\gset
INSERT INTO gapless_tickets (year, sequence, call_sid) VALUES (2026, :sequence, 'CA' || md5(random()::text));
END;
"""


@contextmanager
def own_database(server_url: str) -> Iterator[str]:
    """A new database on the server of ``server_url``, dropped afterwards; yields its URL."""
    from ivr.db import sqlalchemy_url

    name = "ivr_bench_" + secrets.token_hex(4)
    server_url = sqlalchemy_url(server_url)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def pgbench(url: str, script: Path, concurrency: int, count: int) -> float:
    """Transactions a second of ``script`` at ``concurrency`` clients, ``count`` in all (NaN
    without pgbench: Debian's postgresql-client has it)."""
    if shutil.which("pgbench") is None:
        return math.nan
    parts = make_url(url)
    command = ["pgbench", "-n", "-f", str(script), "-c", str(concurrency), "-j", str(min(concurrency, 2)),
               "-t", str(max(1, count // concurrency)), "-p", str(parts.port or 5432)]
    if parts.host:
        command += ["-h", parts.host]
    if parts.username:
        command += ["-U", parts.username]
    env = {**os.environ, "PGPASSWORD": parts.password or ""}
    output = subprocess.run([*command, parts.database], env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("tps = "))
    return float(line.split()[2])


@dataclass
class Figures:
    """One concurrency's figures over the runs."""

    tickets: list[float]
    p50: list[float]
    p99: list[float]
    baseline: list[float]
    cpu_ms: list[float]


def postgres_benchmark(server_url: str, runs: int, count: int, race_calls: int, folder: Path) -> list[str]:
    problems: list[str] = []
    instance = folder / "pg-instance"
    with own_database(server_url) as url:
        env = hotline_env(instance, url)
        subprocess.run([sys.executable, "-m", "ivr", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        engine = create_engine(url)
        with engine.begin() as connection:
            for statement in GAPLESS_SCHEMA:
                connection.execute(text(statement))
        script = folder / "gapless.sql"
        script.write_text(GAPLESS_TRANSACTION)
        port = free_port()
        env.update({"WEB_CONCURRENCY": str(GUNICORN_WORKERS), "IVR_BIND": f"127.0.0.1:{port}"})
        command = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
        base = f"http://127.0.0.1:{port}"
        figures = {c: Figures([], [], [], [], []) for c in CONCURRENCIES}
        with server(command, env, port, folder / "gunicorn.log") as gunicorn:
            # Every worker's app, pool and caches warm before anything is timed.
            expected = 8 * GUNICORN_WORKERS
            post_all(base, [record_action(base, new_call_sid()) for _ in range(expected)], GUNICORN_WORKERS)
            for run in range(runs):
                for concurrency in CONCURRENCIES:
                    posts = [record_action(base, new_call_sid()) for _ in range(count)]
                    cpu_before = cpu_seconds(gunicorn.pid)
                    load = post_all(base, posts, concurrency)
                    cpu = cpu_seconds(gunicorn.pid) - cpu_before
                    expected += count
                    with engine.connect() as connection:
                        found = check_tickets(connection, expected, "queued") + check_journal(instance)
                    if load.failures:
                        found.append(f"{load.failures} requests failed")
                    problems += [f"PostgreSQL run {run + 1}, concurrency {concurrency}: {p}" for p in found]
                    figure = figures[concurrency]
                    figure.tickets.append(load.per_second)
                    figure.p50.append(load.p50_ms)
                    figure.p99.append(load.p99_ms)
                    figure.cpu_ms.append(1000 * cpu / count)
                    figure.baseline.append(pgbench(url, script, concurrency, count))
            problems += race_phase(base, engine, race_calls, expected, instance)
        engine.dispose()
    print(f"PostgreSQL: gunicorn with {GUNICORN_WORKERS} sync workers, {count} <Record> actions per load, "
          f"median of {runs} run(s); baseline: pgbench, counter UPDATE + INSERT")
    print(f"{'concurrency':>11} {'tickets/s':>10} {'pgbench tps':>12} {'ratio':>6} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'app CPU ms/ticket':>18}")
    medians = {}
    for concurrency, figure in figures.items():
        tickets, baseline = statistics.median(figure.tickets), statistics.median(figure.baseline)
        medians[concurrency] = tickets
        print(f"{concurrency:>11} {tickets:>10.0f} {baseline:>12.0f} {tickets / baseline:>6.2f} "
              f"{statistics.median(figure.p50):>7.1f} {statistics.median(figure.p99):>7.1f} "
              f"{statistics.median(figure.cpu_ms):>18.2f}")
    top, four = medians[max(CONCURRENCIES)], medians[4]
    print(f"target: >= {TARGET_TICKETS_PER_SECOND} tickets/s at concurrency {max(CONCURRENCIES)}: "
          f"{'met' if top >= TARGET_TICKETS_PER_SECOND else 'NOT met'}; no fewer at {max(CONCURRENCIES)} than at 4: "
          f"{'met' if top >= four else 'NOT met'}")
    return problems


def race_phase(base: str, engine, calls: int, expected: int, instance: Path) -> list[str]:
    """The action and the recording callback of each call posted at the same moment (side by
    side in the queue of 16 senders): one ticket each, numbers still gapless."""
    call_sids = [new_call_sid() for _ in range(calls)]
    posts = [post for sid in call_sids for post in (record_action(base, sid), recording_callback(base, sid))]
    load = post_all(base, posts, max(CONCURRENCIES))
    with engine.connect() as connection:
        found = check_tickets(connection, expected + calls, "queued") + check_races(connection, call_sids)
    found += check_journal(instance) + ([f"{load.failures} requests failed"] if load.failures else [])
    print(f"race: {calls} calls, action and callback at once: {'one ticket each' if not found else 'FAILED'}")
    return [f"PostgreSQL race: {p}" for p in found]


# -- SQLite -----------------------------------------------------------------------------------

def sqlite_benchmark(runs: int, count: int, folder: Path) -> list[str]:
    instance = folder / "sqlite-instance"
    port = free_port()
    env = hotline_env(instance, None)  # ivr serve's embedded SQLite in its instance folder
    command = [sys.executable, "-m", "ivr", "serve", "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    problems: list[str] = []
    loads: list[Load] = []
    with server(command, env, port, folder / "serve.log"):
        engine = create_engine(f"sqlite:///{instance / 'ivr.sqlite3'}")
        expected = 8
        post_all(base, [record_action(base, new_call_sid()) for _ in range(expected)], SQLITE_CONCURRENCY)
        for run in range(runs):
            load = post_all(base, [record_action(base, new_call_sid()) for _ in range(count)], SQLITE_CONCURRENCY)
            expected += count
            with engine.connect() as connection:
                found = check_tickets(connection, expected, None) + check_journal(instance)
            if load.failures:
                found.append(f"{load.failures} requests failed")
            problems += [f"SQLite run {run + 1}: {p}" for p in found]
            loads.append(load)
        engine.dispose()
    p99 = statistics.median(load.p99_ms for load in loads)
    print(f"SQLite: ivr serve (waitress, with its SMS dispatcher), concurrency {SQLITE_CONCURRENCY}, {count} actions, "
          f"median of {runs} run(s): {statistics.median(load.per_second for load in loads):.0f} tickets/s, "
          f"p50 {statistics.median(load.p50_ms for load in loads):.1f} ms, p99 {p99:.1f} ms "
          f"(target < {TARGET_SQLITE_P99_MS} ms: {'met' if p99 < TARGET_SQLITE_P99_MS else 'NOT met'})")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("IVR_TEST_DATABASE_URL"),
                        help="a PostgreSQL server's URL (default $IVR_TEST_DATABASE_URL); a database is made there")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=600, help="tickets per load")
    parser.add_argument("--race", type=int, default=200, help="calls in the race phase")
    parser.add_argument("--quick", action="store_true", help="one small run (CI: proves the script works)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.count, args.race = 1, 48, 24
    sys.path.insert(0, str(ROOT))
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ivr-bench-") as folder:
        if args.postgres:
            problems += postgres_benchmark(args.postgres, args.runs, args.count, args.race, Path(folder))
        else:
            print("PostgreSQL: skipped (give --postgres or set IVR_TEST_DATABASE_URL)")
        problems += sqlite_benchmark(args.runs, args.count, Path(folder))
    for problem in problems:
        print("CHECK FAILED:", problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
