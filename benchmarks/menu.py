"""How fast the menu answers next to bare Flask: ``POST /voice/incoming`` and a menu step, signed,
served by gunicorn with sync workers, loaded by wrk on loopback.

    python benchmarks/menu.py [--quick] [--seconds 8] [--runs 3]

It starts two servers side by side, each gunicorn with the shipped gunicorn.conf.py and one sync
worker per core: the hotline (wsgi:app on the shipped routing.yaml and prompts/, the embedded
SQLite in a temporary folder), and the baseline, a bare Flask app that checks the same
X-Twilio-Signature with twilio's RequestValidator and returns a fixed TwiML. wrk posts signed
forms as Twilio would for many calls: each request is a call of its own (its own CallSid, so the
call log writes a row each) from a caller of its own (a number no request of the run repeats,
so nothing the hotline may keep per number is found kept). The callers are home landlines (no
complaint to look up, so no step reads the database), or mobiles, the usual callers, whose
arrival looks up their complaints (they have none: the menu follows). For each URL, each run
measures:

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
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, abort, request
from twilio.request_validator import SIGNATURE_HEADER, RequestValidator

from loopback_load import LUA, Load, Server, Target, paced, post, saturate, status_of

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


def calls_like(form: dict[str, str], first: int, count: int) -> list[dict[str, str]]:
    """``count`` calls like ``form``, numbered from ``first``: each its own CallSid and a caller
    of the same kind as ``form``'s (a Bucharest landline +40213..., a mobile +40723...)."""
    prefix = form["From"][:6]
    return [{**form, "CallSid": f"CA{n:032x}", "From": f"{prefix}{n % 1_000_000:06d}"} for n in range(first, first + count)]


# Calls signed for each load: wrk's saturating load reaches ~3,000 answers a second here, the
# paced load half of it. A call the run repeats (a machine faster than that) is a repeat of
# Twilio's, which the hotline answers alike.
SATURATING_CALLS_PER_SECOND = 3000
PACED_CALLS_PER_SECOND = 1500


def target(folder: Path, server: Server, name: str, path: str, form: dict[str, str], run: int, seconds: float) -> Target:
    """The calls of one run of one step, numbered apart from every other run's and step's."""
    saturating, paced_count = int(SATURATING_CALLS_PER_SECOND * seconds), int(PACED_CALLS_PER_SECOND * seconds)
    first = (list(STEPS).index(name) * 100 + run) * (saturating + paced_count) + 1
    signed = [signed_request(server, path, call) for call in calls_like(form, first, saturating + paced_count)]
    calls = ",\n".join(f'{{"{urlencode(call)}", "{signature}"}}'
                       for call, (signature, _) in zip(calls_like(form, first, saturating), signed))
    script = folder / f"{server.name}-{list(STEPS).index(name)}-{run}.lua"
    script.write_text(LUA % {"calls": calls, "path": path, "header": SIGNATURE_HEADER})
    return Target(server, server.base_url + path, script, tuple(request for _, request in signed[saturating:]))


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


def run(seconds: float, runs: int, workers: int) -> tuple[dict[str, dict[str, Figures]], str]:
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
        def targets(run: int, load_seconds: float) -> dict[tuple[str, str], Target]:
            return {(s.name, step): target(folder, s, step, path, form, run, load_seconds)
                    for s in servers for step, (path, form) in STEPS.items()}

        warm_up = targets(runs, 1)
        for server in servers:
            wait_until_answering(server, warm_up[server.name, "incoming"].requests[0], folder / f"{server.name}.log")
        for each in warm_up.values():  # a worker's first requests load what it keeps
            saturate(each, 1, connections=4 * workers)
        results: dict[str, dict[str, list[Figures]]] = {s.name: {step: [] for step in STEPS} for s in servers}
        for run in range(runs):
            this_run = targets(run, seconds)
            for step in STEPS:
                # Side by side, each first in turn: the load other processes put on the machine drifts.
                for server in servers if run % 2 == 0 else servers[::-1]:
                    results[server.name][step].append(measure(this_run[server.name, step], seconds, workers))
        arrivals = sum(f.saturated.requests + f.half.requests
                       for step, figures in results["hotline"].items() if STEPS[step][0] == "/voice/incoming" for f in figures)
        call_log = check_call_log(folder / "instance" / "ivr.sqlite3", arrivals)
        return {name: {step: median_figures(r) for step, r in steps.items()} for name, steps in results.items()}, call_log


def check_call_log(database: Path, arrivals: int) -> str:
    """Every arrival answered in the measured loads has its row in the call log (the warm-up's
    add to them, and so may requests wrk had sent when it stopped): fails when one is missing."""
    time.sleep(1.5)  # the workers' call-log writers send what they hold (they linger 0.25 s)
    with closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT count(*) FROM calls").fetchone()[0]
    if rows < arrivals:
        raise RuntimeError(f"the call log lost calls: {rows} rows for {arrivals} arrivals answered")
    return f"Call log: {rows} calls written for {arrivals} arrivals answered in the measured loads (and the warm-up's)."


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
    figures, call_log = run(seconds, runs, workers)
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
    print(call_log)


if __name__ == "__main__":
    main()
