"""How fast the menu answers next to bare Flask: ``POST /voice/incoming`` and a menu step, signed,
served by gunicorn with sync workers, loaded by wrk on loopback.

    python benchmarks/menu.py [--quick] [--seconds 8] [--runs 3]

It starts two servers side by side, each gunicorn with the shipped gunicorn.conf.py and one sync
worker per core: the hotline (wsgi:app on the shipped routing.yaml and prompts/, the embedded
SQLite in a temporary folder), and the baseline, a bare Flask app that checks the same
X-Twilio-Signature with twilio's RequestValidator and returns a fixed TwiML. wrk posts one
signed form again and again: a home landline calling (no complaint to look up, so no step reads
the database), and a mobile, the usual caller, whose arrival looks up its complaints (it has
none: the menu follows). For each URL, each run measures:

- the saturating rate: wrk with four connections a worker, which keeps every worker busy;
- the CPU per request: the workers' user and system time over that run, per answer;
- p99 at half of that rate: requests sent at that rate by a Python client, independently of
  the answers (as wrk2 would, which Debian does not ship), with the rate actually reached.

Every answer must be a 200: a run with another status or a socket error stops the benchmark.
The figures are the medians of the runs. The targets (issue 12): the hotline at 0.85 times the
baseline's rate or more, and p99 under 15 ms at half of saturation. A figure, not a test: the
machine may be shared, so compare the ratio. ``--quick`` (CI) makes one short run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, abort, request
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "benchmark-token"
TARGET_RATIO = 0.85
TARGET_P99_MS = 15.0
# A home landline: answered in the first language, offered the status key, and looked up
# nowhere (only a mobile's complaints are read out after the greeting, from the database).
FORM = {
    "AccountSid": "AC" + "1" * 32, "CallSid": "CA" + "2" * 32, "From": "+40212345678",
    "To": "+40215894141", "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01",
}
# The URLs measured: the call's arrival, and a menu step (a key no department has: the menu
# again), at the URL the arrival's menu gives this caller (offered the status key: offers=s).
STEPS = {
    "incoming": ("/voice/incoming", FORM),
    "incoming (mobile)": ("/voice/incoming", {**FORM, "From": "+40722123456"}),
    "menu (wrong key)": ("/voice/menu?lang=ro&attempt=1&offers=s", {**FORM, "CallStatus": "in-progress", "Digits": "9"}),
}
# What the baseline answers: a fixed menu of the hotline's size.
BARE_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response>'
    '<Say language="ro-RO" voice="Polly.Carmen">Bună ziua, ați sunat la ProNET Soluții IT.</Say>'
    '<Say language="ro-RO" voice="Polly.Carmen">Apelul este înregistrat.</Say>'
    '<Gather action="/voice/menu?lang=ro&amp;attempt=1" hints="Departamentul Tehnic, tehnic, defect, avarie, '
    'internet, Departamentul Plăți, plăți, plata, factura, Departamentul Relații Clienți, relații clienți, '
    'relatii, clienți, cont, oferta" input="dtmf speech" language="ro-RO" method="POST" numDigits="1" '
    'speechTimeout="auto" timeout="6">'
    '<Say language="ro-RO" voice="Polly.Carmen">Pentru Departamentul Tehnic, apăsați 1.</Say>'
    '<Say language="ro-RO" voice="Polly.Carmen">Pentru Departamentul Plăți, apăsați 2.</Say>'
    '<Say language="ro-RO" voice="Polly.Carmen">Pentru Departamentul Relații Clienți, apăsați 3.</Say>'
    '<Say language="ro-RO" voice="Polly.Carmen">Pentru stadiul unei reclamații, apăsați 0.</Say></Gather>'
    '<Redirect method="POST">/voice/menu?lang=ro&amp;attempt=1</Redirect></Response>'
)

# wrk's script: the signed form, and a count of the answers other than 200.
LUA = r"""
wrk.method = "POST"
wrk.body = "%(body)s"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["%(header)s"] = "%(signature)s"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_200 = 0
end

function response(status, headers, body)
  if status ~= 200 then not_200 = not_200 + 1 end
end

function done(summary, latency, requests)
  local wrong = 0
  for _, thread in ipairs(threads) do wrong = wrong + thread:get("not_200") end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "micros": %%d, "not_200": %%d, "socket_errors": %%d, "p50_us": %%d, "p99_us": %%d}\n',
    summary.requests, summary.duration, wrong, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def bare_app() -> Flask:
    """The baseline: the signature checked by RequestValidator as its documentation shows, then a fixed TwiML."""
    app = Flask("bare")
    validator = RequestValidator(TOKEN)

    @app.post("/voice/<path:step>")
    def answer(step: str):
        if not validator.validate(request.url, request.form, request.headers.get(SIGNATURE_HEADER, "")):
            abort(403)
        return Response(BARE_TWIML, mimetype="text/xml")

    return app


@dataclass(frozen=True)
class Server:
    name: str
    host: str
    port: int
    master_pid: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Target:
    """One URL of one server, with the signed request posted to it: as wrk's script, and as bytes."""

    server: Server
    url: str
    script: Path
    request: bytes


@dataclass(frozen=True)
class Load:
    rate: float         # answers per second
    p99_ms: float
    requests: int


@dataclass(frozen=True)
class Figures:
    saturated: Load
    cpu_ms: float       # workers' CPU time per answer at saturation
    half: Load          # paced at half of the saturating rate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hotline_environment(folder: Path) -> dict[str, str]:
    """The hotline as an administrator runs it on the shipped files, its state in ``folder``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "WEB_CONCURRENCY"))}
    env.update({
        "PYTHONPATH": str(ROOT), "IVR_INSTANCE_DIR": str(folder / "instance"), "TWILIO_AUTH_TOKEN": TOKEN,
        "IVR_ROUTING_FILE": str(ROOT / "routing.yaml"), "IVR_PROMPTS_DIR": str(ROOT / "prompts"),
        "IVR_SECRET_KEY": "benchmark", "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"),
    })
    (folder / "metrics").mkdir()
    return env


@contextmanager
def gunicorn(name: str, app: str, env: dict[str, str], workers: int, log: Path, *options: str) -> Iterator[Server]:
    """gunicorn with the shipped settings and ``workers`` sync workers on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--worker-class", "sync",
               "--workers", str(workers), "--bind", f"127.0.0.1:{port}", *options, app]
    with open(log, "w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield Server(name, "127.0.0.1", port, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def signed_request(server: Server, path: str, form: dict[str, str]) -> tuple[str, bytes]:
    """The signature Twilio would send for ``form`` posted to ``path``, and the whole HTTP request."""
    body = urlencode(form)
    signature = RequestValidator(TOKEN).compute_signature(server.base_url + path, form)
    head = (f"POST {path} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n{SIGNATURE_HEADER}: {signature}\r\nConnection: close\r\n\r\n")
    return signature, (head + body).encode()


def target(folder: Path, server: Server, step: int, path: str, form: dict[str, str]) -> Target:
    signature, request_bytes = signed_request(server, path, form)
    script = folder / f"{server.name}-{step}.lua"
    script.write_text(LUA % {"body": urlencode(form), "header": SIGNATURE_HEADER, "signature": signature})
    return Target(server, server.base_url + path, script, request_bytes)


def post(server: Server, request_bytes: bytes) -> bytes:
    """Send one request and read the answer to its end (a sync worker closes the connection)."""
    with socket.create_connection((server.host, server.port), timeout=10) as connection:
        connection.sendall(request_bytes)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0


def wait_until_answering(server: Server, request_bytes: bytes, log: Path, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            answer = post(server, request_bytes)
        except OSError:
            time.sleep(0.2)
            continue
        if status_of(answer) == 200 and b"<Gather" in answer:
            return
        raise RuntimeError(f"{server.name} answered: {answer[:500]!r}")
    raise RuntimeError(f"{server.name} did not start within {seconds:g} s:\n{log.read_text()[-2000:]}")


def workers_cpu_seconds(master_pid: int) -> float:
    """User and system CPU time of the gunicorn master's children (the workers), every thread included."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == master_pid:  # the parent's pid
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def saturate(target: Target, seconds: float, connections: int) -> Load:
    """wrk flat out; raises when an answer was not a 200 or a socket failed."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s",
               "-s", str(target.script), target.url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    line = next((line for line in output.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    result = json.loads(line.removeprefix("RESULT "))
    if result["not_200"] or result["socket_errors"] or not result["requests"]:
        raise RuntimeError(f"{target.server.name} {target.url}: {result['requests']} requests, "
                           f"{result['not_200']} not 200, {result['socket_errors']} socket errors")
    return Load(result["requests"] / (result["micros"] / 1e6), result["p99_us"] / 1000, result["requests"])


def paced(target: Target, rate: float, seconds: float, threads: int = 32) -> Load:
    """Requests arriving at ``rate`` a second on average, independently of the answers (the
    gaps are exponential, as between callers), each timed from when it was due: a request
    that waits for a free thread counts its wait, as a caller's would. Sync workers close every
    connection, so wrk's own pacing (a pause on an open connection) would hold a worker idle."""
    due, at = [], 0.0
    arrivals = random.Random(12)
    while at < seconds:
        at += arrivals.expovariate(rate)
        due.append(at)
    latencies: list[float] = []
    failures: list[str] = []
    turns = itertools.count()  # next() on it is atomic: each request is sent once
    start = time.perf_counter() + 0.1

    def send() -> None:
        while (i := next(turns)) < len(due) and not failures:
            time.sleep(max(0.0, start + due[i] - time.perf_counter()))
            try:
                answer = post(target.server, target.request)
            except OSError as error:
                failures.append(f"socket: {error}")
                return
            latencies.append(time.perf_counter() - start - due[i])
            if status_of(answer) != 200:
                failures.append(f"answer: {answer[:300]!r}")

    senders = [threading.Thread(target=send, daemon=True) for _ in range(threads)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    if failures:
        raise RuntimeError(f"{target.server.name} {target.url}: {failures[0]}")
    elapsed = time.perf_counter() - start
    return Load(len(latencies) / elapsed, statistics.quantiles(latencies, n=100)[98] * 1000, len(latencies))


def measure(target: Target, seconds: float, workers: int) -> Figures:
    cpu_before = workers_cpu_seconds(target.server.master_pid)
    saturated = saturate(target, seconds, connections=4 * workers)
    cpu_ms = (workers_cpu_seconds(target.server.master_pid) - cpu_before) * 1000 / saturated.requests
    return Figures(saturated, cpu_ms, paced(target, saturated.rate / 2, seconds))


def median_figures(runs: list[Figures]) -> Figures:
    def load(pick) -> Load:
        loads = [pick(f) for f in runs]
        return Load(statistics.median(x.rate for x in loads), statistics.median(x.p99_ms for x in loads),
                    sum(x.requests for x in loads))

    return Figures(load(lambda f: f.saturated), statistics.median(f.cpu_ms for f in runs), load(lambda f: f.half))


def run(seconds: float, runs: int, workers: int) -> dict[str, dict[str, Figures]]:
    """Both servers side by side; each run measures every URL on each."""
    with tempfile.TemporaryDirectory(prefix="ivr-menu-bench-") as name, ExitStack() as stack:
        folder = Path(name)
        env = hotline_environment(folder)
        subprocess.run([sys.executable, "-m", "ivr", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        servers = [
            stack.enter_context(gunicorn("hotline", "wsgi:app", env, workers, folder / "hotline.log")),
            stack.enter_context(gunicorn("bare", "menu:bare_app()", env, workers, folder / "bare.log",
                                         "--pythonpath", str(ROOT / "benchmarks"))),
        ]
        targets = {(s.name, step): target(folder, s, i, path, form)
                   for s in servers for i, (step, (path, form)) in enumerate(STEPS.items())}
        for server in servers:
            wait_until_answering(server, targets[server.name, "incoming"].request, folder / f"{server.name}.log")
        for each in targets.values():  # warm up: a worker's first requests load what it keeps
            saturate(each, 1, connections=4 * workers)
        results: dict[str, dict[str, list[Figures]]] = {s.name: {step: [] for step in STEPS} for s in servers}
        for run in range(runs):
            for step in STEPS:
                # Side by side, each first in turn: the load other processes put on the machine drifts.
                for server in servers if run % 2 == 0 else servers[::-1]:
                    results[server.name][step].append(measure(targets[server.name, step], seconds, workers))
        return {name: {step: median_figures(r) for step, r in steps.items()} for name, steps in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one short run (CI: proves it works, times nothing)")
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each load (default 8)")
    parser.add_argument("--runs", type=int, default=3, help="runs whose medians are printed (default 3)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    seconds, runs = (2.0, 1) if args.quick else (args.seconds, args.runs)
    workers = os.cpu_count() or 1
    figures = run(seconds, runs, workers)
    print(f"The menu against bare Flask: gunicorn with {workers} sync workers each, on loopback; {seconds:g} s a load, "
          f"median of {runs} run(s); every answer was a 200.")
    print("req/s: saturated by wrk. CPU: the workers' time per answer then. p99: with requests sent at half the")
    print("saturating rate (the rate reached is shown). Ratios: the hotline's req/s over bare's, and bare's CPU")
    print("per answer over the hotline's (what the req/s ratio would be on a machine of its own).")
    print(f"{'step':<18}{'server':<9}{'req/s':>7}{'CPU ms':>8}{'p99 ms':>8}{'at req/s':>9}{'ratio':>7}{'by CPU':>8}  target")
    for step in STEPS:
        bare, hotline = figures["bare"][step], figures["hotline"][step]
        ratio, by_cpu = hotline.saturated.rate / bare.saturated.rate, bare.cpu_ms / hotline.cpu_ms
        met = ratio >= TARGET_RATIO and hotline.half.p99_ms < TARGET_P99_MS
        for name, f in (("bare", bare), ("hotline", hotline)):
            verdict = (f"{ratio:>7.2f}{by_cpu:>8.2f}  {'met' if met else 'NOT met'} "
                       f"(ratio >= {TARGET_RATIO}, p99 < {TARGET_P99_MS:g} ms)")
            print(f"{step:<18}{name:<9}{f.saturated.rate:>7.0f}{f.cpu_ms:>8.2f}{f.half.p99_ms:>8.1f}"
                  f"{f.half.rate:>9.0f}{verdict if name == 'hotline' else ''}")


if __name__ == "__main__":
    main()
