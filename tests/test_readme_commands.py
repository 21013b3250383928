"""The README's two commands, taken from the README itself, work on a fresh copy of the project
in a fresh virtual environment: one serves the hotline, the other runs the tests."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest
import requests

from conftest import ROOT

# Runs whole programs for seconds: started first (conftest), left out by -m "not slow".
pytestmark = pytest.mark.slow(seconds=40)

INSTALL_SECONDS = 900  # a first install on a busy machine


def readme_commands() -> list[str]:
    """The commands of the README's "Two commands" section, without their comments."""
    section = ROOT.joinpath("README.md").read_text(encoding="utf-8").split("## Two commands", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory):
    """The project's tracked files in a new folder, as a clone would have them."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    folder = tmp_path_factory.mktemp("clone")
    for name in filter(None, (f.decode() for f in files)):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_readme_gives_two_commands_that_make_a_virtual_environment():
    serve, test = readme_commands()
    assert serve.startswith("python3 -m venv .venv && ") and serve.endswith("ivr serve")
    assert test.startswith("python3 -m venv .venv && ") and "pytest" in test


def test_the_serve_command_serves_the_hotline(fresh_copy):
    serve, _ = readme_commands()
    # The command as written; only the port is one of the test's own (IVR_PORT, the same as
    # --port), since another server on this machine may hold the default 5000.
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "VIRTUAL_ENV"))}
    env["IVR_PORT"] = str(port)
    process = subprocess.Popen(serve, shell=True, cwd=fresh_copy, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + INSTALL_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(2)
        else:
            pytest.fail(f"the README's serve command did not serve: {process.stderr.read()[-2000:] if process.poll() is not None else 'timed out'}")
        # It answers Twilio's first webhook, refusing an unsigned one as it must.
        assert requests.post(f"http://127.0.0.1:{port}/voice/incoming", timeout=5).status_code == 403
        assert (fresh_copy / "instance").is_dir()  # the embedded defaults' SQLite and trial token
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_the_test_command_runs_the_tests(fresh_copy):
    _, test = readme_commands()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "VIRTUAL_ENV"))}
    # The README's command as written, given one small test file so that the suite does not run itself.
    result = subprocess.run(f"{test} -q -p no:cacheprovider tests/test_cli_help.py", shell=True, cwd=fresh_copy, env=env,
                            capture_output=True, text=True, timeout=INSTALL_SECONDS)
    assert result.returncode == 0 and " passed" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
