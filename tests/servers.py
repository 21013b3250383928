"""Real HTTP servers for the tests that need one: waitress in a thread, or ``ivr serve`` and
gunicorn as processes on a free loopback port. Every wait is bounded and every server is
stopped when its ``with`` block ends."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import requests

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 30.0


@contextmanager
def werkzeug_thread(app) -> Iterator[str]:
    """Serve ``app`` on werkzeug's threaded server in a thread (what a browser or ``ivr call``
    opens in the tests); yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="werkzeug-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def waitress_thread(app) -> Iterator[str]:
    """Serve ``app`` with waitress, configured as ``ivr serve`` does, in a thread; yields its base URL."""
    import waitress
    from waitress import wasyncore

    from ivr.proxies import waitress_options

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2, **waitress_options(app))
    thread = threading.Thread(target=server.run, name="waitress-test", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown()
        # Closed from inside the loop's own thread: closing its sockets under a running select()
        # would raise EBADF there. With its map empty, the loop returns.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=5)
        assert not thread.is_alive(), "waitress did not stop within 5 s"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_healthy(base: str, process: subprocess.Popen, errors: IO[str]) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            errors.seek(0)
            raise AssertionError(f"the server exited with {process.returncode}: {errors.read()[-3000:]}")
        try:
            if requests.get(base + "/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or the worker still loading the app
            pass
        time.sleep(0.2)
    raise AssertionError(f"no answer from {base}/health within {START_SECONDS} s")


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group (its workers and dispatcher too), then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def hotline_env(config_dir: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a hotline process on ``config_dir``'s configuration and its own SQLite."""
    from conftest import AUTH_TOKEN

    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "FORWARDED_ALLOW_IPS"))}
    return {
        **env,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "IVR_ROUTING_FILE": str(config_dir / "routing.yaml"),
        "IVR_PROMPTS_DIR": str(config_dir / "prompts"),
        "IVR_INSTANCE_DIR": str(tmp_path / "instance"),
        "IVR_DATABASE_URL": f"sqlite:///{tmp_path / 'ivr.sqlite3'}",
        "IVR_SECRET_KEY": "test-secret",
    }


@contextmanager
def server_process(kind: str, env: dict[str, str], workers: int = 1) -> Iterator[str]:
    """Run ``ivr serve`` (kind "waitress") or ``gunicorn wsgi:app`` (kind "gunicorn", with
    ``workers`` workers) from the project folder with ``env``; yields the base URL once /health answers."""
    port = free_port()
    if kind == "waitress":
        command = [sys.executable, "-m", "ivr", "serve", "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "wsgi:app"]
    errors = tempfile.TemporaryFile("w+")  # a file, not a pipe: a chatty server never blocks on it
    process = subprocess.Popen(
        command, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=errors, text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_healthy(base, process, errors)
        yield base
    finally:
        _stop(process)
        errors.close()
