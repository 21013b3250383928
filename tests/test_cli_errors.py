"""Every failure of the ``ivr`` command is one or two lines saying what to do, with a non-zero
exit: wrong arguments, missing configuration, a database that is unreachable, missing or not
upgraded, a hotline that does not answer ``ivr call``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from ivr.cli import main
from ivr.db import sqlalchemy_url
from ivr.twilio_auth import local_auth_token

from conftest import AUTH_TOKEN, POSTGRES_URL, ROOT, database_url_for

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="IVR_TEST_DATABASE_URL is not set")
PASSWORD = ["--password", "a-long-enough-password"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def cli_env(monkeypatch, tmp_path: Path) -> Path:
    """The environment of an administrator outside the project folder: the shipped configuration
    named by IVR_ROUTING_FILE/IVR_PROMPTS_DIR, an empty instance folder (returned), SQLite."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IVR_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("IVR_ROUTING_FILE", str(ROOT / "tests" / "routing.yaml"))
    monkeypatch.setenv("IVR_PROMPTS_DIR", str(ROOT / "prompts"))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    for name in ("IVR_DATABASE_URL", "TWILIO_ACCOUNT_SID", "IVR_USER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "instance"


def fails_briefly(result, *words: str, exit_code: int = 1) -> str:
    """The command failed with ``exit_code`` in at most two lines naming every one of ``words``."""
    assert isinstance(result.exception, SystemExit), f"{result.exception!r}\n{result.output}"
    assert result.exit_code == exit_code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize("args, words", [
    (["nosuch"], ["nosuch", "ivr --help"]),
    (["deadline"], ["--department", "ivr deadline --help"]),
    (["deadline", "--department", "nope"], ["technical"]),
    (["deadline", "--department", "technical", "--registered", "yesterday"], ["ISO"]),
    (["serve", "--port", "eighty"], ["--port"]),
    (["user", "add"], ["NAME", "ivr user add --help"]),
    (["user", "add", "ana", "--role", "boss", *PASSWORD], ["--role"]),
    (["call", "--dial", "maybe"], ["--dial"]),
])
def test_wrong_arguments(cli_env, runner, args, words):
    fails_briefly(runner.invoke(main, args), *words, exit_code=2)


@pytest.mark.parametrize("args", [
    ["check"], ["deadline", "--department", "technical"], ["serve", "--port", "0"],
    ["worker", "--once"], ["user", "add", "ana", *PASSWORD], ["db", "upgrade"],
])
def test_missing_routing_file_names_the_file_and_the_variable(cli_env, runner, monkeypatch, tmp_path, args):
    monkeypatch.setenv("IVR_ROUTING_FILE", str(tmp_path / "nowhere" / "routing.yaml"))
    fails_briefly(runner.invoke(main, args), str(tmp_path / "nowhere" / "routing.yaml"), "IVR_ROUTING_FILE")


def test_missing_routing_file_in_the_working_directory(cli_env, runner, monkeypatch, tmp_path):
    monkeypatch.delenv("IVR_ROUTING_FILE")
    fails_briefly(runner.invoke(main, ["check"]), str(tmp_path / "routing.yaml"), "IVR_ROUTING_FILE")


def test_missing_prompts_folder_names_the_folder_and_the_variable(cli_env, runner, monkeypatch, tmp_path):
    monkeypatch.setenv("IVR_PROMPTS_DIR", str(tmp_path / "nowhere"))
    fails_briefly(runner.invoke(main, ["check"]), str(tmp_path / "nowhere"), "IVR_PROMPTS_DIR")


@pytest.mark.parametrize("args", [["db", "upgrade"], ["user", "add", "ana", *PASSWORD], ["worker", "--once"]])
def test_unreachable_database(cli_env, runner, monkeypatch, args):
    port = _free_port()
    monkeypatch.setenv("IVR_DATABASE_URL", f"postgresql+psycopg://ivr:secret@127.0.0.1:{port}/ivr")
    output = fails_briefly(runner.invoke(main, args), f"127.0.0.1:{port}", "IVR_DATABASE_URL")
    assert "secret" not in output


def test_unusable_database_url(cli_env, runner, monkeypatch):
    monkeypatch.setenv("IVR_DATABASE_URL", "mysql-ish://nothing")
    fails_briefly(runner.invoke(main, ["db", "upgrade"]), "IVR_DATABASE_URL")


def test_port_taken(cli_env, runner):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        fails_briefly(runner.invoke(main, ["serve", "--port", str(port)]), f"127.0.0.1:{port}", "--port")


def test_call_with_no_server_names_the_url(cli_env, runner):
    url = f"http://127.0.0.1:{_free_port()}"
    fails_briefly(runner.invoke(main, ["call", "--url", url, "--keys", "1"]), url, "ivr serve")


def test_call_finds_the_trial_token_where_the_server_keeps_it(cli_env, runner, monkeypatch):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    local_auth_token(cli_env, create=True)
    url = f"http://127.0.0.1:{_free_port()}"
    output = fails_briefly(runner.invoke(main, ["call", "--url", url]), url)
    assert "token" not in output


def test_call_without_a_trial_token_says_where_it_looked(cli_env, runner, monkeypatch):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN")
    fails_briefly(runner.invoke(main, ["call"]), str(cli_env / "twilio_auth_token"), "IVR_INSTANCE_DIR")


@pytest.mark.parametrize("given, meant", [
    ("postgres://u:p@db.example/ivr", "postgresql+psycopg://u:p@db.example/ivr"),
    ("postgresql://u@db.example:5433/ivr?sslmode=require", "postgresql+psycopg://u@db.example:5433/ivr?sslmode=require"),
    ("postgresql+psycopg://u@db.example/ivr", "postgresql+psycopg://u@db.example/ivr"),
    ("sqlite:///instance/ivr.sqlite3", "sqlite:///instance/ivr.sqlite3"),
])
def test_database_urls_as_hosting_providers_write_them(given, meant):
    assert sqlalchemy_url(given) == meant


@pytest.fixture
def postgres_schema(tmp_path: Path):
    """A URL of an empty PostgreSQL schema that was never upgraded (skipped without PostgreSQL)."""
    if not POSTGRES_URL:
        pytest.skip("IVR_TEST_DATABASE_URL is not set")
    yield from database_url_for("postgresql", tmp_path)


@needs_postgres
def test_serve_refuses_a_database_never_upgraded(cli_env, postgres_schema):
    env = {**os.environ, "IVR_DATABASE_URL": postgres_schema}
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "serve", "--port", str(_free_port())], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip().count("\n") <= 1 and "ivr db upgrade" in done.stderr, done.stderr


@needs_postgres
def test_user_add_refuses_a_database_never_upgraded(cli_env, runner, monkeypatch, postgres_schema):
    monkeypatch.setenv("IVR_DATABASE_URL", postgres_schema)
    fails_briefly(runner.invoke(main, ["user", "add", "ana", *PASSWORD]), "ivr db upgrade")


@needs_postgres
def test_upgrade_of_a_missing_database(cli_env, runner, monkeypatch):
    missing = make_url(POSTGRES_URL).set(database="ivr_no_such_database")
    monkeypatch.setenv("IVR_DATABASE_URL", missing.render_as_string(hide_password=False))
    fails_briefly(runner.invoke(main, ["db", "upgrade"]), "ivr_no_such_database", "IVR_DATABASE_URL")


@needs_postgres
@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_upgrade_accepts_plain_postgres_urls(cli_env, runner, monkeypatch, postgres_schema, scheme):
    monkeypatch.setenv("IVR_DATABASE_URL", scheme + "://" + postgres_schema.split("://", 1)[1])
    result = runner.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(main, ["user", "add", "ana", *PASSWORD]).exit_code == 0
