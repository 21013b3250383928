"""gunicorn's control socket (`gunicornc`): a hotline served by gunicorn with the shipped
gunicorn.conf.py answers at a socket in its own instance folder, so that an administrator
running two hotlines on one machine commands the one they name. And what else the shipped
settings promise of gunicorn's own files: the workers' heartbeat files are in memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servers import hotline_env, server_process

# Runs whole programs for seconds: started first (conftest), left out by -m "not slow".
pytestmark = pytest.mark.slow

GUNICORNC = "import sys; from gunicorn.ctl.cli import main; sys.exit(main())"


def _asked(control_socket: Path, command: str) -> dict:
    """What `gunicornc` answers to ``command`` through ``control_socket``, as JSON."""
    asked = subprocess.run(
        [sys.executable, "-c", GUNICORNC, "-s", str(control_socket), "-c", command, "-j"],
        capture_output=True, text=True, timeout=30,
    )
    assert asked.returncode == 0, asked.stdout + asked.stderr
    return json.loads(asked.stdout)


def _listening_on(control_socket: Path) -> list[str]:
    """The addresses the gunicorn behind ``control_socket`` listens on, as `gunicornc` tells them."""
    return [listener["address"] for listener in _asked(control_socket, "show listeners")["listeners"]]


def test_two_hotlines_on_one_machine_each_answer_at_their_own_control_socket(config_dir: Path, tmp_path: Path):
    first, second = tmp_path / "first", tmp_path / "second"
    with server_process("gunicorn", hotline_env(config_dir, first)) as first_url:
        with server_process("gunicorn", hotline_env(config_dir, second)) as second_url:
            assert _listening_on(first / "instance" / "gunicorn.ctl") == [first_url]
            assert _listening_on(second / "instance" / "gunicorn.ctl") == [second_url]
        # The second one's stop removed its own socket, not the first one's.
        assert not (second / "instance" / "gunicorn.ctl").exists()
        assert _listening_on(first / "instance" / "gunicorn.ctl") == [first_url]


def _heartbeats_elsewhere(control_socket: Path) -> dict[int, list[str]]:
    """The files each worker gunicornc lists holds open, for the workers with none in /dev/shm."""
    elsewhere = {}
    for worker in _asked(control_socket, "show workers")["workers"]:
        try:
            opened = [os.readlink(fd) for fd in Path(f"/proc/{worker['pid']}/fd").iterdir()]
        except FileNotFoundError:  # it ended meanwhile
            opened = []
        if not any(path.startswith("/dev/shm/wgunicorn-") for path in opened):
            elsewhere[worker["pid"]] = opened
    return elsewhere


def test_the_workers_heartbeat_files_are_in_memory(config_dir: Path, tmp_path: Path):
    """A worker touches its heartbeat file after every request: on a disk (/tmp here) that
    may hold it up behind the disk's other writes, so the shipped settings keep it in /dev/shm.
    (Once in CI a listed worker held neither its heartbeat nor its socket any more, as a worker
    that is ending does: the workers are asked again for a while.)"""
    with server_process("gunicorn", hotline_env(config_dir, tmp_path), workers=2):
        control_socket = tmp_path / "instance" / "gunicorn.ctl"
        assert len(_asked(control_socket, "show workers")["workers"]) == 2
        deadline = time.monotonic() + 10
        while (elsewhere := _heartbeats_elsewhere(control_socket)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not elsewhere
