"""How soon a ticket's SMS reaches Twilio, and how fast two workers empty a backlog of SMS.

    python benchmarks/sms.py [--quick] [--tickets 200] [--rate 10] [--backlog 1000] [--runs 3]
                             [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

Everything runs on loopback, started by the script: the Twilio stand-in (tests/twilio_standin.py,
keeping connections alive as Twilio does), a fresh SQLite file and a fresh PostgreSQL database
(made on the server of --postgres or IVR_TEST_DATABASE_URL, dropped at the end) per run, and the
hotline's real processes.

* Latency, on each database, with the dispatcher of ``ivr serve`` (its child process) and with
  gunicorn (2 workers) plus two ``ivr worker``: tickets are registered through the signed
  <Record> action at a modest pace, each from its own mobile number; for each, the time from
  the webhook's answer (the ticket is committed by then) to the stand-in receiving its
  Messages POST. The baseline is a bare Messages POST to the stand-in from the same Twilio
  client, timed from the benchmark.
* Drain, on PostgreSQL: two ``ivr worker`` are started and idle; --backlog tickets (and their
  SMS) are then committed in one transaction, and timed until the stand-in has every SMS.

Each SMS must reach the stand-in exactly once and be recorded as sent: anything doubled or lost
is printed and the exit status is 1. Figures are medians over --runs; ``--quick`` (CI) runs
small counts once, to prove the benchmark works, not to time anything.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import requests
from sqlalchemy import create_engine, func, make_url, select, text
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from ivr.db import Database  # noqa: E402
from ivr.models import SmsMessage  # noqa: E402
from ivr.settings import load_hotline  # noqa: E402
from ivr.sms.gateway import OutgoingSms, TwilioGateway  # noqa: E402
from ivr.tickets.registration import VoicemailReport, register_voicemail  # noqa: E402
from twilio_standin import TwilioStandin  # noqa: E402

TARGET_P95_SECONDS = 0.3
TARGET_DRAIN_PER_SECOND = 500.0
START_SECONDS = 60.0
ARRIVAL_SECONDS = 120.0
STARTED_LINE = "SMS dispatcher started"


@dataclass
class Latency:
    p50: float
    p95: float
    from_request_p95: float


class Failed(Exception):
    """Something was doubled or lost, or a process did not start: the figures cannot stand."""


# -- databases -----------------------------------------------------------------------

@contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    url = f"sqlite:///{folder / ('sms-' + secrets.token_hex(4) + '.sqlite3')}"
    Database.connect(url).upgrade()
    yield url


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A database of its own on ``server_url``'s server, at the latest schema; dropped afterwards."""
    name = "ivr_bench_sms_" + secrets.token_hex(4)
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        database = Database.connect(url)
        database.upgrade()
        database.engine.dispose()
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


# -- the hotline's processes -----------------------------------------------------------

def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def hotline_env(database_url: str, standin: TwilioStandin, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "PROMETHEUS_"))}
    metrics = folder / ("metrics-" + secrets.token_hex(4))
    metrics.mkdir()
    return {
        **env,
        "PYTHONPATH": str(ROOT),
        "IVR_DATABASE_URL": database_url,
        "IVR_INSTANCE_DIR": str(folder / "instance"),
        "IVR_ROUTING_FILE": str(ROOT / "routing.yaml"),
        "IVR_PROMPTS_DIR": str(ROOT / "prompts"),
        "IVR_SECRET_KEY": "benchmark-secret",
        "TWILIO_ACCOUNT_SID": standin.account_sid,
        "TWILIO_AUTH_TOKEN": standin.auth_token,
        "TWILIO_API_BASE_URL": standin.base_url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        "WEB_CONCURRENCY": "2",
    }


class Process:
    """A hotline process in its own session (a stop reaches its children), its log in a file."""

    def __init__(self, command: list[str], env: dict[str, str], folder: Path) -> None:
        self.log = folder / f"{command[2] if len(command) > 2 else 'process'}-{secrets.token_hex(3)}.log"
        self._log_file = self.log.open("w")
        self.popen = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                                      stdout=subprocess.DEVNULL, stderr=self._log_file)

    def logged(self, line: str) -> int:
        return self.log.read_text(errors="replace").count(line)

    def wait_for_line(self, line: str, times: int = 1) -> None:
        deadline = time.monotonic() + START_SECONDS
        while self.logged(line) < times:
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise Failed(f"{self.popen.args}: no {line!r} in its log:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.popen.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        self._log_file.close()


def wait_until_healthy(base: str, process: Process) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise Failed(f"the server exited: {process.log.read_text()[-2000:]}")
        try:
            if requests.get(base + "/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise Failed(f"no answer from {base}/health within {START_SECONDS} s")


@contextmanager
def hotline(setup: str, env: dict[str, str], folder: Path, workers: int = 2) -> Iterator[str]:
    """``serve``: ``ivr serve`` and its dispatcher; ``gunicorn``: gunicorn and ``workers`` ivr worker.
    Yields the base URL once the web answers and every dispatcher is waiting."""
    port = free_port()
    python = sys.executable
    with ExitStack() as stack:
        if setup == "serve":
            web = Process([python, "-m", "ivr", "serve", "--port", str(port)], env, folder)
            dispatchers = [web]
        else:
            web = Process([python, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
                          {**env, "IVR_BIND": f"127.0.0.1:{port}"}, folder)
            dispatchers = [Process([python, "-m", "ivr", "worker"], env, folder) for _ in range(workers)]
        for process in {id(p): p for p in [web, *dispatchers]}.values():
            stack.callback(process.stop)
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(base, web)
        for dispatcher in dispatchers:
            dispatcher.wait_for_line(STARTED_LINE)
        yield base


# -- latency ----------------------------------------------------------------------------

def mobile(index: int) -> str:
    """A Romanian mobile number of its own for each ticket of a run: its SMS says which ticket it is."""
    return f"+4072{index:07d}"


def forget_messages(standin: TwilioStandin) -> None:
    """A run counts only its own SMS: the numbers repeat from run to run."""
    with standin._lock:
        standin.messages.clear()


def register_through_webhook(base: str, token: str, numbers: list[str], rate: float) -> dict[str, tuple[float, float]]:
    """POST the signed <Record> action for each number at ``rate`` a second; for each, the wall
    time the request left and the time its answer came back."""
    validator, session = RequestValidator(token), requests.Session()
    times: dict[str, tuple[float, float]] = {}
    next_at = time.monotonic()
    for number in numbers:
        path = f"/voice/recorded/technical?lang=ro&sms={requests.utils.quote(number)}"
        data = {"CallSid": "CA" + secrets.token_hex(16), "AccountSid": "AC" + "0" * 32, "From": number,
                "To": "+40215894141", "RecordingSid": "RE" + secrets.token_hex(16),
                "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC0/Recordings/RE0",
                "RecordingDuration": "30", "Digits": "#"}
        headers = {"X-Twilio-Signature": validator.compute_signature(base + path, data)}
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += 1 / rate
        sent = time.time()
        answer = session.post(base + path, data=data, headers=headers, timeout=30)
        answered = time.time()
        if answer.status_code != 200 or "<Say" not in answer.text:
            raise Failed(f"the <Record> action answered {answer.status_code}: {answer.text[:300]}")
        times[number] = (sent, answered)
    return times


def received(standin: TwilioStandin, numbers: set[str]) -> list[dict]:
    with standin._lock:
        return [m for m in standin.messages if m["to"] in numbers]


def wait_for_all(standin: TwilioStandin, numbers: set[str]) -> list[dict]:
    deadline = time.monotonic() + ARRIVAL_SECONDS
    while len({m["to"] for m in received(standin, numbers)}) < len(numbers):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.5)  # anything sent twice would come now
    return received(standin, numbers)


def check_once_each(messages: list[dict], numbers: set[str], database_url: str) -> None:
    """Every number got exactly one SMS, and the outbox holds them all as sent."""
    counts = Counter(m["to"] for m in messages)
    doubled = sorted(n for n, c in counts.items() if c > 1)
    lost = sorted(numbers - set(counts))
    engine = create_engine(database_url)
    with engine.connect() as connection:
        statuses = dict(connection.execute(select(SmsMessage.status, func.count()).group_by(SmsMessage.status)).all())
    engine.dispose()
    if doubled or lost or statuses != {"sent": len(numbers)}:
        raise Failed(f"doubled {doubled[:5]} ({len(doubled)}), lost {lost[:5]} ({len(lost)}), outbox {statuses}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latency_run(setup: str, database_url: str, standin: TwilioStandin, folder: Path, tickets: int,
                rate: float) -> Latency:
    forget_messages(standin)
    numbers = [mobile(i) for i in range(tickets)]
    with hotline(setup, hotline_env(database_url, standin, folder), folder) as base:
        times = register_through_webhook(base, standin.auth_token, numbers, rate)
        messages = wait_for_all(standin, set(numbers))
    check_once_each(messages, set(numbers), database_url)
    arrived = {m["to"]: m["date_created"].timestamp() for m in messages}
    from_answer = [arrived[n] - times[n][1] for n in numbers]
    from_request = [arrived[n] - times[n][0] for n in numbers]
    return Latency(statistics.median(from_answer), percentile(from_answer, 0.95), percentile(from_request, 0.95))


def baseline(standin: TwilioStandin, count: int) -> tuple[float, float]:
    """A bare Messages POST to the stand-in, timed from the client: (p50, p95) in seconds."""
    gateway = TwilioGateway(standin.account_sid, standin.auth_token, base_url=standin.base_url)
    seconds = []
    for i in range(count):
        sms = OutgoingSms(to=f"+4479{i:08d}", body="baseline", sender="+40312345678")
        started = time.perf_counter()
        gateway.send(sms)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), percentile(seconds, 0.95)


# -- drain ----------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Drain:
    per_second: float
    worker_cpu_ms: float   # CPU of the workers per SMS, all of them together
    standin_cpu_ms: float  # CPU of this process (the stand-in, mostly) per SMS


def drain_run(database_url: str, standin: TwilioStandin, folder: Path, backlog: int, workers: int) -> Drain:
    """From the commit of ``backlog`` tickets to the last SMS at the stand-in."""
    forget_messages(standin)
    numbers = [mobile(i) for i in range(backlog)]
    hotline_config = load_hotline(ROOT / "routing.yaml", ROOT / "prompts")
    env = hotline_env(database_url, standin, folder)
    database = Database.connect(database_url)
    processes = [Process([sys.executable, "-m", "ivr", "worker"], env, folder) for _ in range(workers)]
    try:
        for process in processes:
            process.wait_for_line(STARTED_LINE)
        now = datetime.now(timezone.utc)
        with database.session() as session, session.begin():
            for number in numbers:
                report = VoicemailReport("CA" + secrets.token_hex(16), "technical", "ro", number, number,
                                         "RE" + secrets.token_hex(16), "https://api.twilio.com/r", 30, "completed",
                                         "record action")
                register_voicemail(session, hotline_config, report, now)
        committed, cpu_before, own_before = time.time(), sum(cpu_seconds(p.popen.pid) for p in processes), time.process_time()
        messages = wait_for_all(standin, set(numbers))
        cpu = sum(cpu_seconds(p.popen.pid) for p in processes) - cpu_before
        own = time.process_time() - own_before
    finally:
        for process in processes:
            process.stop()
        database.engine.dispose()
    check_once_each(messages, set(numbers), database_url)
    last = max(m["date_created"].timestamp() for m in messages)
    return Drain(backlog / (last - committed), cpu / backlog * 1000, own / backlog * 1000)


# -- the report -------------------------------------------------------------------------

SETUPS = {"serve": "ivr serve", "gunicorn": "gunicorn + 2 ivr worker"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts, one run (CI)")
    parser.add_argument("--tickets", type=int, default=200, help="tickets per latency run")
    parser.add_argument("--rate", type=float, default=10.0, help="tickets a second during a latency run")
    parser.add_argument("--backlog", type=int, default=1000, help="SMS queued for the drain")
    parser.add_argument("--workers", type=int, default=2, help="ivr worker processes for the drain")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=["latency", "drain"], help="measure one of the two")
    parser.add_argument("--postgres", default=os.environ.get("IVR_TEST_DATABASE_URL"),
                        help="a PostgreSQL server (any database on it) where a database may be created")
    args = parser.parse_args()
    if args.quick:
        args.tickets, args.rate, args.backlog, args.runs = 20, 20.0, 100, 1

    databases = ["sqlite", "postgresql"] if args.postgres else ["sqlite"]
    print(f"SMS benchmark: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the start "
          f"(a shared machine makes the figures noisy); medians of {args.runs} run(s)")
    if not args.postgres:
        print("postgresql: skipped (give --postgres or set IVR_TEST_DATABASE_URL)")
    latencies: dict[tuple[str, str], list[Latency]] = {}
    drains: list[Drain] = []
    with tempfile.TemporaryDirectory(prefix="ivr-bench-sms-") as tmp, TwilioStandin(keep_alive=True) as standin:
        folder = Path(tmp)
        base_p50, base_p95 = baseline(standin, 20 if args.quick else 200)
        try:
            for _ in range(args.runs):
                for kind in databases if args.only != "drain" else []:
                    for setup in SETUPS:
                        with (sqlite_database(folder) if kind == "sqlite" else postgres_database(args.postgres)) as url:
                            latency = latency_run(setup, url, standin, folder, args.tickets, args.rate)
                        latencies.setdefault((kind, setup), []).append(latency)
                if args.postgres and args.only != "latency":
                    with postgres_database(args.postgres) as url:
                        drains.append(drain_run(url, standin, folder, args.backlog, args.workers))
        except Failed as exc:
            print(f"FAILED: {exc}")
            return 1

    print(f"baseline: a bare Messages POST to the stand-in  p50 {base_p50 * 1000:6.1f} ms  p95 {base_p95 * 1000:6.1f} ms")
    print(f"latency from the ticket's commit (its webhook's answer) to the stand-in; {args.tickets} tickets "
          f"at {args.rate:g}/s per run")
    for (kind, setup), runs in latencies.items():
        p50 = statistics.median(r.p50 for r in runs)
        p95 = statistics.median(r.p95 for r in runs)
        from_request = statistics.median(r.from_request_p95 for r in runs)
        verdict = "met" if p95 <= TARGET_P95_SECONDS else "NOT met"
        print(f"  {kind:<10}  {SETUPS[setup]:<24}  p50 {p50 * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  "
              f"(x{p95 / base_p95:.0f} the baseline's p95; from the request {from_request * 1000:.0f} ms)  "
              f"target p95 <= {TARGET_P95_SECONDS * 1000:.0f} ms: {verdict}")
    if drains:
        rate = statistics.median(d.per_second for d in drains)
        cpu = statistics.median(d.worker_cpu_ms for d in drains)
        standin_cpu = statistics.median(d.standin_cpu_ms for d in drains)
        verdict = "met" if rate >= TARGET_DRAIN_PER_SECOND else "NOT met"
        runs = ", ".join(f"{d.per_second:.0f}" for d in drains)
        print(f"drain: {args.backlog} SMS queued at once, {args.workers} ivr worker on PostgreSQL: {rate:6.0f} SMS/s "
              f"(runs: {runs}; x{rate * base_p50:.2f} the rate of one client's bare POSTs back to back; "
              f"CPU per SMS: the workers {cpu:.2f} ms, the stand-in {standin_cpu:.2f} ms)  target >= {TARGET_DRAIN_PER_SECOND:.0f}/s: {verdict}")
    print("every SMS reached the stand-in exactly once and is recorded as sent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
