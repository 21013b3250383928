"""Loading a server on loopback, for benchmarks/menu.py: wrk flat out with a script that posts
signed calls in turn, and a Python client sending them at a set rate, independently of the
answers (as wrk2 would, which Debian does not ship). Either stops at an answer other than a 200."""

from __future__ import annotations

import json
import random
import selectors
import socket
import statistics
import subprocess
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


# The paced load's first seconds, sent but not counted (``paced``).
SETTLE_SECONDS = 1.0
# How long the paced load waits for the answers still due once every request is sent.
ANSWER_SECONDS = 10.0


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


def paced(target: Target, rate: float, seconds: float, settle: float = SETTLE_SECONDS) -> Load:
    """Requests arriving at ``rate`` a second on average, independently of the answers (the
    gaps are exponential, as between callers), each timed from when it was due to its answer's
    last byte. Sync workers close every connection, so wrk's own pacing (a pause on an open
    connection) would hold a worker idle. The first ``settle`` seconds are sent but not
    counted: the figures are of the steady state at ``rate``, not of the server finishing what
    the load before left it (the call log's writer catching up after wrk, say).

    One thread drives every connection through a selector. Threads sending in turn measured
    the client more than the server: a thread whose answer had arrived waited for the GIL
    before it read the clock, so bare Flask itself showed a p99 of 20-58 ms at half load."""
    arrivals, due, at = random.Random(12), [], 0.0
    while at < settle + seconds:
        at += arrivals.expovariate(rate)
        due.append(at)
    timed = _Paced(target).run(due)
    counted = [latency for when, latency in zip(due, timed) if when >= settle]
    return Load(len(counted) / seconds, statistics.quantiles(counted, n=100)[98] * 1000, len(counted))


class _Paced:
    """The paced load's connections: each sends its request once connected, reads the answer
    to the server's close, and records the time from its due moment."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.selector = selectors.DefaultSelector()
        self.latencies: dict[int, float] = {}
        self.start = 0.0

    def run(self, due: list[float]) -> list[float]:
        """Each request's seconds from its due moment to its answer, in the order they were due."""
        self.start = time.perf_counter() + 0.1
        sent, answers = 0, {}
        try:
            while sent < len(due) or answers:
                now = time.perf_counter() - self.start
                while sent < len(due) and due[sent] <= now:
                    answers[self._open(sent)] = []
                    sent += 1
                wait = max(0.0, due[sent] - now) if sent < len(due) else ANSWER_SECONDS
                events = self.selector.select(min(wait, ANSWER_SECONDS))
                if not events and sent == len(due):
                    raise RuntimeError(f"{self.target.server.name} {self.target.url}: no answer within {ANSWER_SECONDS} s")
                for key, _ in events:
                    self._step(key, answers, due)
        finally:
            for connection in list(answers):
                connection.close()
            self.selector.close()
        return [self.latencies[turn] for turn in range(len(due))]

    def _open(self, turn: int) -> socket.socket:
        connection = socket.socket()
        connection.setblocking(False)
        connection.connect_ex((self.target.server.host, self.target.server.port))
        request = self.target.requests[turn % len(self.target.requests)]
        self.selector.register(connection, selectors.EVENT_WRITE, (turn, memoryview(request)))
        return connection

    def _step(self, key: selectors.SelectorKey, answers: dict[socket.socket, list[bytes]], due: list[float]) -> None:
        connection, (turn, unsent) = key.fileobj, key.data
        try:
            if unsent:
                unsent = unsent[connection.send(unsent):]
                self.selector.modify(connection, selectors.EVENT_WRITE if unsent else selectors.EVENT_READ, (turn, unsent))
                return
            chunk = connection.recv(65536)
        except OSError as error:
            raise RuntimeError(f"{self.target.server.name} {self.target.url}: socket: {error}") from None
        if chunk:
            answers[connection].append(chunk)
            return
        self.latencies[turn] = time.perf_counter() - self.start - due[turn]
        answer = b"".join(answers.pop(connection))
        self.selector.unregister(connection)
        connection.close()
        if status_of(answer) != 200:
            raise RuntimeError(f"{self.target.server.name} {self.target.url}: answer: {answer[:300]!r}")
