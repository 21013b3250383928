"""Processes: `ivr serve` and its SMS dispatcher stop together, and processes starting
together on a fresh instance folder agree on its secrets."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from ivr.cli import _run_dispatcher
from ivr.twilio_auth import instance_secret

from conftest import AUTH_TOKEN, ROOT

# Runs whole programs for seconds: started first (conftest), left out by -m "not slow".
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone: it no longer does anything)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def _wait_until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s: {what}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return reply.status == 200
    except OSError:
        return False


@pytest.fixture
def serve_env() -> dict[str, str]:
    """Environment variables added for `ivr serve` (none: the embedded SQLite)."""
    return {}


@pytest.fixture
def served(tmp_path: Path, serve_env: dict[str, str]):
    """`python -m ivr serve` on a free port with a fresh instance folder, answering /health;
    yields (server process, dispatcher pid). Whatever is still running at the end is killed."""
    port = _free_port()
    env = {
        **os.environ, "IVR_INSTANCE_DIR": str(tmp_path / "instance"), "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_ROUTING_FILE": str(ROOT / "tests" / "routing.yaml"), "IVR_PROMPTS_DIR": str(ROOT / "prompts"),
    }
    env.pop("IVR_DATABASE_URL", None)
    env.pop("TWILIO_ACCOUNT_SID", None)
    env.update(serve_env)
    server = subprocess.Popen(
        [sys.executable, "-m", "ivr", "serve", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    pids: list[int] = []
    try:
        _wait_until(lambda: _answers(f"http://127.0.0.1:{port}/health"), 30, "the server answers /health")
        _wait_until(lambda: bool(pids.extend(_children(server.pid)) or pids), 10, "the dispatcher runs")
        yield server, pids[0]
    finally:
        for pid in [server.pid, *pids]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        server.wait(timeout=10)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_server_stops_its_dispatcher(served, stop_signal):
    server, dispatcher = served
    server.send_signal(stop_signal)
    server.wait(timeout=15)
    _wait_until(lambda: not _alive(dispatcher), 10, "the dispatcher exits with the server")


@pytest.mark.parametrize("serve_env", [{"IVR_DATABASE_URL": f"postgresql+psycopg://ivr@127.0.0.1:{_free_port()}/ivr"}])
def test_serve_starts_while_the_database_is_unreachable(served):
    server, dispatcher = served  # answering /health: the menus need no database
    server.terminate()
    server.wait(timeout=15)
    _wait_until(lambda: not _alive(dispatcher), 10, "the dispatcher exits with the server")


def test_a_dispatcher_whose_server_was_killed_exits_by_itself(served):
    server, dispatcher = served
    server.kill()
    server.wait(timeout=10)
    _wait_until(lambda: not _alive(dispatcher), 10, "the orphaned dispatcher exits")


def _has_open(pid: int, path: Path) -> bool:
    try:
        return any(os.readlink(fd) == str(path) for fd in Path(f"/proc/{pid}/fd").iterdir())
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_dispatcher_stopped_while_it_starts_ends_at_once(tmp_path: Path, monkeypatch):
    """`ivr serve` stopped while its dispatcher is still starting (here: waiting up to 30 s for
    a database another process holds) does not wait for that start to finish."""
    database = tmp_path / "held.sqlite3"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("CREATE TABLE held (x)")
    holder.execute("BEGIN EXCLUSIVE")  # the dispatcher's connection waits to turn on WAL
    for name, value in {"IVR_DATABASE_URL": f"sqlite:///{database}", "IVR_INSTANCE_DIR": str(tmp_path / "instance"),
                        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "IVR_ROUTING_FILE": str(ROOT / "tests" / "routing.yaml"),
                        "IVR_PROMPTS_DIR": str(ROOT / "prompts")}.items():
        monkeypatch.setenv(name, value)
    dispatcher = multiprocessing.get_context("spawn").Process(target=_run_dispatcher, daemon=True)  # as `ivr serve` starts it
    dispatcher.start()
    try:
        _wait_until(lambda: _has_open(dispatcher.pid, database), 30, "the dispatcher opens the database")
        stopped = time.monotonic()
        dispatcher.terminate()
        dispatcher.join(10)
        assert not dispatcher.is_alive()
        assert time.monotonic() - stopped < 5
    finally:
        dispatcher.kill()
        holder.close()


def _read_secrets(folders: list[str], start, results) -> None:
    """One racing process: two threads read every folder's secret, all racers starting each folder together."""
    keys: dict[str, list[str | None]] = {folder: [] for folder in folders}

    def read() -> None:
        for folder in folders:
            start.wait(timeout=30)
            keys[folder].append(instance_secret(folder, "secret_key", create=True))

    threads = [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    results.put(keys)


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path):
    context = multiprocessing.get_context("fork")
    folders = [str(tmp_path / f"instance-{round_}") for round_ in range(40)]
    start, results = context.Barrier(32), context.Queue()
    racers = [context.Process(target=_read_secrets, args=(folders, start, results)) for _ in range(16)]
    for racer in racers:
        racer.start()
    read = [results.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(timeout=10)
    for folder in folders:
        keys = {key for keys in read for key in keys[folder]}
        assert sum(len(keys[folder]) for keys in read) == 32
        assert len(keys) == 1 and all(keys), f"{folder}: keys read {sorted(map(repr, keys))}"
        assert Path(folder, "secret_key").stat().st_mode & 0o077 == 0
        assert os.listdir(folder) == ["secret_key"]  # no temporary file left behind
