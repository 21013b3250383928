"""Loading a server on loopback, for benchmarks/menu.py: wrk flat out with a script that posts
signed calls in turn, and a Python client sending them at a set rate, independently of the
answers (as wrk2 would, which Debian does not ship). Either stops at an answer other than a 200."""

from __future__ import annotations

import itertools
import json
import random
import socket
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# wrk's script: the signed calls, and a count of the answers other than 200.
LUA = r"""
-- {body, signature} of each call, posted in turn (again from the first if the run outlasts them).
local calls = {
%(calls)s
}

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  not_200 = 0
  requests = {}
  for i, call in ipairs(calls) do
    requests[i] = wrk.format("POST", "%(path)s", {
      ["Content-Type"] = "application/x-www-form-urlencoded", ["%(header)s"] = call[2]}, call[1])
  end
  turn = 0
end

function request()
  turn = turn %% #requests + 1
  return requests[turn]
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
    """One URL of one server, with the calls posted to it: the saturating load's as wrk's
    script, and the paced load's as whole HTTP requests."""

    server: Server
    url: str
    script: Path
    requests: tuple[bytes, ...]


@dataclass(frozen=True)
class Load:
    rate: float         # answers per second
    p99_ms: float
    requests: int


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
                answer = post(target.server, target.requests[i % len(target.requests)])
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
