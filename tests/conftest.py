"""Shared fixtures: an app on the shipped configuration, a settable clock, a signed client
and a softphone that places whole calls through the WSGI stack."""

from __future__ import annotations

import os
import threading
import xml.etree.ElementTree as ET
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from twilio.request_validator import RequestValidator

from ivr import create_app
from ivr.softphone import Call, ScriptedCaller, WsgiTransport

import built_once
from console_client import PASSWORD, sign_in
from databases import NO_POSTGRES, POSTGRES_URL, SCHEMA_TEMPLATE, database_url_for, remove_template

ROOT = Path(__file__).resolve().parent.parent
# The tests' routing.yaml: the shipped menu and hours with every kind of term (see its header).
TEST_ROUTING = ROOT / "tests" / "routing.yaml"
BUCHAREST = ZoneInfo("Europe/Bucharest")
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
BASE_URL = "http://localhost"
CALL_SID = "CA" + "1" * 32
# PostgreSQL runs only with IVR_TEST_DATABASE_URL, but its tests are always collected, so that
# without it they show as skipped with the reason rather than vanish.
DATABASES = ["sqlite", "postgresql"]
# Chromium and the hotline served over HTTP for it: the browser tests' fixtures.
pytest_plugins = ["in_browser"]


def _expected_seconds(item: pytest.Item) -> float:
    """What a test's ``slow`` mark says it takes; 0 for the others."""
    mark = item.get_closest_marker("slow")
    return 0.0 if mark is None else float(mark.kwargs.get("seconds", 3))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, longest first, then the rest in their order. A process takes its
    tests from the front of its share and the others steal from the back (``--dist worksteal``),
    so the long ones start early: started last, the README's commands (40 s) kept one core busy
    long after the other had run out of tests.

    Without IVR_TEST_DATABASE_URL, a test's PostgreSQL variant is skipped before its set-up
    starts (a folder, a copy of the configuration) rather than at its database."""
    items.sort(key=_expected_seconds, reverse=True)  # stable: the rest keep their order
    if POSTGRES_URL:
        return
    for item in items:
        params = getattr(item, "callspec", None) and item.callspec.params
        if params and "postgresql" in (params.get("any_database_url"), params.get("any_empty_database_url")):
            item.add_marker(pytest.mark.skip(reason=NO_POSTGRES))


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in a configuration file (a copy: ``config_dir``) by ``new``."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def bucharest(*args: int) -> datetime:
    """A wall-clock time in the hotline's timezone."""
    return datetime(*args, tzinfo=BUCHAREST)


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True, scope="session")
def instance_elsewhere(tmp_path_factory) -> Path:
    """The instance folder (secret key, trial token, local database) of every app and ``ivr``
    command a test makes, in a temporary folder: the tests write nothing into the working tree."""
    folder = tmp_path_factory.mktemp("instance")
    os.environ["IVR_INSTANCE_DIR"] = str(folder)
    return folder


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashes():
    """Passwords hashed by argon2 at its lowest cost in the tests' own process. The shipped cost
    (64 MiB, 3 passes, 4 lanes) is meant to be slow: 0.1 to 1 s for each user a test adds and
    each sign-in, on a busy 2-core machine. What the tests check (right or wrong password,
    throttling, rehashing on sign-in) does not depend on the cost; ``ivr`` processes the tests
    start hash at the shipped cost."""
    from argon2 import PasswordHasher

    import ivr.users

    quick = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ivr.users, "_hasher", quick)
        patch.setattr(ivr.users, "_dummy_hash", lambda: quick.hash("not a real password"))
        yield


@pytest.fixture(autouse=True, scope="session")
def built_once_per_run():
    """The console's templates, the URL rules and the configuration, which every app a test
    makes would build again from the same sources, built once for the run (see built_once)."""
    with built_once.everything():
        yield


@pytest.fixture(autouse=True)
def call_log_writers_end(monkeypatch):
    """After each test, the call log writers of the apps it made end, once they have written
    what they hold. Each waits for the next fact as long as the process lives: by the end of a
    session, hundreds of threads keeping their database engines alive, every garbage collection
    slower, and minutes spent collecting them when pytest exits."""
    from ivr.calls.events import CallEvents

    made: list[CallEvents] = []
    init = CallEvents.__init__

    def remembered(self: CallEvents, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(CallEvents, "__init__", remembered)
    yield
    for events in made:
        events.stop(5)


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the tests' routing.yaml and the shipped prompts/ that a test may edit."""
    shutil.copy(TEST_ROUTING, tmp_path / "routing.yaml")
    shutil.copytree(ROOT / "prompts", tmp_path / "prompts")
    return tmp_path


@pytest.fixture
def clock() -> FakeClock:
    """The app's clock, set to Tuesday 17 November 2026 at 10:00 in Bucharest (all open; in the
    past, so that an SMS queued at that time is due for a worker running on the real clock)."""
    return FakeClock(bucharest(2026, 11, 17, 10, 0))


@pytest.fixture(autouse=True, scope="session")
def _schema_template_cleanup():
    """The template's folder and the admin connections go when the session ends."""
    yield SCHEMA_TEMPLATE
    remove_template()


@pytest.fixture
def database_url(tmp_path: Path):
    """A SQLite database file at the latest schema. Test modules about persistence override
    this fixture with ``any_database_url`` to run on PostgreSQL too."""
    yield from database_url_for("sqlite", tmp_path, upgraded=True)


@pytest.fixture(params=DATABASES)
def any_database_url(request, tmp_path: Path):
    """A database at the latest schema: SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    yield from database_url_for(request.param, tmp_path, upgraded=True)


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path):
    """A database without any table, of the same kind as ``database_url``: a database that was
    never upgraded, or one that is down for every write."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    yield from database_url_for(kind, tmp_path / "empty")


@pytest.fixture(params=DATABASES)
def any_empty_database_url(request, tmp_path: Path):
    """A database without any table: SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    yield from database_url_for(request.param, tmp_path)


@pytest.fixture
def upgraded_database(any_database_url):
    """A Database at the latest schema: SQLite, and PostgreSQL when IVR_TEST_DATABASE_URL is set."""
    from ivr.db import Database

    database = Database.connect(any_database_url)
    yield database
    database.engine.dispose()


@pytest.fixture
def cli_env(monkeypatch, app_config, database_url, tmp_path):
    """The environment an ``ivr`` command reads, pointing at the test's database and
    configuration, with the tests' Twilio token and an instance folder of the test's own."""
    monkeypatch.setenv("IVR_DATABASE_URL", database_url)
    monkeypatch.setenv("IVR_ROUTING_FILE", app_config["ROUTING_FILE"])
    monkeypatch.setenv("IVR_PROMPTS_DIR", app_config["PROMPTS_DIR"])
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("IVR_INSTANCE_DIR", str(tmp_path / "instance"))
    monkeypatch.setenv("IVR_SECRET_KEY", "cli-test-secret")


@pytest.fixture
def live_env(monkeypatch, twilio, app_config, database_url):
    """The environment of a production hotline (``ivr worker``, ``ivr alerts``) whose Twilio
    API is the stand-in, at a public HTTPS address."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", twilio.account_sid)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE_URL", twilio.base_url)
    monkeypatch.setenv("IVR_DATABASE_URL", database_url)
    monkeypatch.setenv("IVR_ROUTING_FILE", app_config["ROUTING_FILE"])
    monkeypatch.setenv("IVR_PROMPTS_DIR", app_config["PROMPTS_DIR"])
    monkeypatch.setenv("IVR_PUBLIC_URL", "https://ivr.example.ro")


@pytest.fixture
def twilio():
    """A running local stand-in of Twilio's REST API (Messages, recordings) that accepts the
    tests' AUTH_TOKEN; stopped after the test."""
    from twilio_standin import TwilioStandin

    with TwilioStandin(auth_token=AUTH_TOKEN) as standin:
        yield standin


@pytest.fixture
def app_config(config_dir: Path, clock: FakeClock, tmp_path: Path, database_url: str) -> dict:
    """The test_config given to create_app; tests may change it before asking for ``app``."""
    return {
        "TESTING": True,
        "ROUTING_FILE": str(config_dir / "routing.yaml"),
        "PROMPTS_DIR": str(config_dir / "prompts"),
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_URL": None,
        "CLOCK": clock,
        "DATABASE_URL": database_url,
        "DATABASE_AUTO_UPGRADE": True,
        "JOURNAL_DIR": str(tmp_path / "journal"),
        # A loaded CI machine can take over a second for a lookup; the tests of a late database
        # set these budgets short themselves.
        "STATUS_LOOKUP_SECONDS": 10.0,
    }


@pytest.fixture
def app(app_config: dict):
    """The hotline on a copy of the shipped configuration."""
    app = create_app(app_config)
    yield app
    # The call log's writer may still be in a transaction: let it finish before the schema goes.
    app.extensions["ivr.call_events"].stop(5)
    app.extensions["ivr.db"].engine.dispose()


@pytest.fixture
def db(app):
    """The app's database (``ivr.db.Database``), for setting up and reading what requests wrote."""
    return app.extensions["ivr.db"]


@pytest.fixture
def hotline(app):
    """The app's configuration (``ivr.settings.HotlineConfig``)."""
    return app.extensions["ivr.hotline"]


@pytest.fixture
def users(db, clock):
    """Console users: operators ana and ion, supervisor maria (password ``console_client.PASSWORD``)."""
    from ivr.users import add_user

    with db.session() as session, session.begin():
        for name, role in (("ana", "operator"), ("ion", "operator"), ("maria", "supervisor")):
            add_user(session, name, PASSWORD, role, clock())


@pytest.fixture
def as_user(app, users):
    """``as_user(name)``: a test client signed in as one of ``users``."""

    def signed_in(name: str):
        client = app.test_client()
        assert sign_in(client, name).status_code == 302
        return client

    return signed_in


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner():
    """Click's runner for the ``ivr`` command."""
    from click.testing import CliRunner

    return CliRunner()


def sign(url: str, data: dict[str, str], token: str = AUTH_TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(url, data)}


def operator_answers(twilio_post, department: str, leg: str, parent: str, to: str, *caller: str) -> int:
    """An operator's phone picks up (Twilio asks for the whisper, on the operator's leg) and the
    operator presses the key it asks for; the status of the key's webhook."""
    whisper = twilio_post(f"/voice/whisper/{department}", *caller, CallSid=leg, ParentCallSid=parent, To=to)
    action = ET.fromstring(whisper.get_data(as_text=True)).find("Gather").get("action")
    return twilio_post(action, *caller, CallSid=leg, ParentCallSid=parent, To=to, Digits="1").status_code


@pytest.fixture
def twilio_post(client):
    """Post a form to a path exactly as Twilio would: signed, with the call's parameters."""

    def post(path: str, caller: str = "+40722123456", **fields: str):
        data = {"CallSid": CALL_SID, "AccountSid": "AC" + "0" * 32, "From": caller, "To": "+40215894141", **fields}
        return client.post(path, data=data, headers=sign(BASE_URL + path, data))

    return post


@pytest.fixture
def place_call(app):
    """Place a whole call through the WSGI stack: ``place_call(keys=[...], dials=[...], records=[...])``
    returns (caller, log): what the caller heard and what happened on the line."""

    def place(caller: str = "+40722123456", keys=(), dials=(), records=()):
        ui = ScriptedCaller(list(keys), list(dials), list(records))
        call = Call(BASE_URL, AUTH_TOKEN, WsgiTransport(app), ui, caller=caller)
        return ui, call.run()

    return place


@contextmanager
def transaction_left_open(database, write: Callable[[Any], None]) -> Iterator[None]:
    """Within the block, another thread's transaction has run ``write(session)`` and is still
    open: on SQLite it holds the write lock, on PostgreSQL the locks of the rows it wrote."""
    writing, release = threading.Event(), threading.Event()

    def hold() -> None:
        with database.session() as session, session.begin():
            write(session)
            writing.set()
            release.wait(20)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    try:
        assert writing.wait(10)
        yield
    finally:
        release.set()
        thread.join(10)


@contextmanager
def tickets_locked(database) -> Iterator[None]:
    """Within the block, no transaction can write a ticket, as when the database server hangs:
    on PostgreSQL another transaction locks the table, on SQLite it holds the write lock."""

    def lock(session) -> None:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("LOCK TABLE tickets IN ACCESS EXCLUSIVE MODE"))
        else:
            session.execute(text("SELECT 1"))  # its BEGIN IMMEDIATE took the write lock

    with transaction_left_open(database, lock):
        yield
