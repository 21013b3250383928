"""Crash tests: kill -9 of the web server and of the SMS workers during a burst of calls, on PostgreSQL.

Real processes (``python -m ivr serve`` with its dispatcher child, and ``python -m ivr worker``)
serve a burst of calls placed over HTTP by softphones in several threads, while a killer thread
kill -9s the server's whole process group (then restarts it on the same port) and the workers.
Twilio's recording status callback is retried until the hotline accepts it, as the platform
retries a webhook that got no answer. Afterwards every acknowledged complaint (the caller heard
its number) is present exactly once, no call has two tickets, numbers are gapless, and every SMS
reached the Twilio stand-in exactly once.

A worker killed between claiming an SMS and recording its outcome leaves it leased for the
dispatcher's lease (two minutes). Rather than wait, the test ends with a dispatcher whose clock
is past that lease: the takeover a surviving worker would make two minutes later, which first
asks Twilio whether the message already left.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from ivr.db import Database
from ivr.errors import HotlineUnreachable
from ivr.sms.dispatcher import Dispatcher
from ivr.models import SmsMessage, Ticket, TicketSequence
from ivr.states import SmsStatus
from ivr.prompts import PromptSet
from ivr.settings import load_hotline
from ivr.sms.gateway import TwilioGateway
from ivr.softphone import Call, HttpTransport, ScriptedCaller

from conftest import POSTGRES_URL, ROOT, database_url_for
from twilio_standin import TwilioStandin

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="crash tests run on PostgreSQL: set IVR_TEST_DATABASE_URL (CI does)"
)

CLIENT_THREADS = 6
MAX_CALLS = 120            # an upper bound on the burst, whatever the machine's speed
SERVER_KILLS = 3
WORKER_KILLS = 3
STARTUP_SECONDS = 30.0     # a process that takes longer to answer fails the test
CALLBACK_SECONDS = 30.0    # how long undelivered recording callbacks are retried at the end
DRAIN_SECONDS = 30.0       # how long the outbox may take to empty once everything runs again
HEARD_BEFORE_KILL = 4      # complaints heard registered since the last kill before the next one
HEARD_WAIT_SECONDS = 20.0  # ... waited for at most this long
SMS_LEASE = Dispatcher.lease


# -- the processes --------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _closed_routing(tmp_path: Path) -> Path:
    """routing.yaml with every department never staffed: each call ends in a voicemail,
    whatever the real time of day."""
    text = (ROOT / "tests" / "routing.yaml").read_text(encoding="utf-8")
    closed = re.sub(r"(?m)^(\s+)hours: \{.*\}.*$", r"\1hours: {}", text)
    assert closed.count("hours: {}") == 3, "the shipped routing.yaml changed shape"
    path = tmp_path / "routing.yaml"
    path.write_text(closed, encoding="utf-8")
    return path


@dataclass
class Fleet:
    """The hotline's processes: one web server on a fixed port and some SMS workers.
    Each runs in its own session, so a kill reaches its children (the server's dispatcher)."""

    env: dict[str, str]
    port: int
    logs: Path
    server: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)
    started: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, *args: str) -> subprocess.Popen:
        self.started += 1
        log = open(self.logs / f"{self.started:02d}-{args[0]}.log", "wb")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "ivr", *args], cwd=ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            log.close()

    def start_server(self) -> None:
        self.server = self._spawn("serve", "--port", str(self.port))
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise AssertionError(f"the server exited with {self.server.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not answer within {STARTUP_SECONDS} s:\n{self.log_tail()}")

    def start_worker(self) -> None:
        self.workers.append(self._spawn("worker"))

    def kill_server(self) -> None:
        _kill_group(self.server)
        self.server = None

    def kill_worker(self, index: int) -> None:
        _kill_group(self.workers[index])
        self.workers[index] = self._spawn("worker")

    def kill_all(self) -> None:
        for process in [self.server, *self.workers]:
            _kill_group(process)
        self.server, self.workers = None, []

    def log_tail(self, lines: int = 40) -> str:
        text = "\n".join(f"== {p.name}\n{p.read_text(errors='replace')}" for p in sorted(self.logs.iterdir()))
        return "\n".join(text.splitlines()[-lines:])


def _kill_group(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


# -- the callers ----------------------------------------------------------------

class FailingQuietly(HttpTransport):
    """HTTP that answers status 0 when the server died under the request, as Twilio sees a
    connection error: the caller hears "an application error has occurred"."""

    def post(self, url: str, data: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        try:
            return super().post(url, data, headers)
        except (requests.RequestException, HotlineUnreachable):
            return 0, ""


class CrashCall(Call):
    """A call whose recording status callback is kept, to be delivered before or after the
    <Record> action, and retried until the hotline accepts it."""

    def __init__(self, *args, callback_first: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.callback_first = callback_first
        self.callback: tuple[str, dict[str, str]] | None = None
        self.callback_accepted = False

    def deliver_recording_status(self, url: str, recording: dict[str, str]) -> tuple[int, str]:
        self.callback = (url, recording)
        if self.callback_first:
            self.retry_callback(time.monotonic())  # one try now, before the action
        return 0, ""

    def retry_callback(self, until: float) -> bool:
        """Deliver the callback until accepted or ``until`` (monotonic) has passed."""
        while self.callback and not self.callback_accepted:
            status, _ = super().deliver_recording_status(*self.callback)
            self.callback_accepted = 200 <= status < 300
            if self.callback_accepted or time.monotonic() >= until:
                break
            time.sleep(0.2)
        return self.callback_accepted


@dataclass
class Burst:
    """Calls placed from several threads until told to stop (or MAX_CALLS), each from its own
    mobile number, so that its SMS can be told apart."""

    base_url: str
    auth_token: str
    stop: threading.Event = field(default_factory=threading.Event)
    calls: list[tuple[CrashCall, ScriptedCaller]] = field(default_factory=list)
    unreached: int = 0
    dialled: int = 0
    errors: list[BaseException] = field(default_factory=list)  # raised in a caller thread
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _next_caller(self) -> str | None:
        with self._lock:
            if len(self.calls) >= MAX_CALLS:
                return None
            self.dialled += 1
            return f"+40722{self.dialled:06d}"

    def place_calls(self, seed: int) -> None:
        try:
            self._place_calls(seed)
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.errors.append(exc)

    def _place_calls(self, seed: int) -> None:
        chance = random.Random(seed)
        while not self.stop.is_set() and (caller := self._next_caller()):
            ui = ScriptedCaller(keys_script=[chance.choice("123")], records=[chance.randint(5, 60)])
            call = CrashCall(self.base_url, self.auth_token, FailingQuietly(timeout=10), ui,
                             caller=caller, callback_first=chance.random() < 0.5)
            call.run()
            with self._lock:
                if call.log.recordings:
                    self.calls.append((call, ui))
                else:
                    self.unreached += 1  # the server was down before the beep: no complaint left
            if not call.log.recordings:
                time.sleep(0.2)  # the caller redials a moment later
            elif call.callback:
                call.retry_callback(time.monotonic() + 5)  # Twilio retries while the caller goes on
            time.sleep(chance.uniform(0.1, 0.5))  # callers are not a load test


def _kill_now_and_then(fleet: Fleet, heard: Callable[[], int], done: threading.Event, errors: list[BaseException]) -> None:
    """kill -9 the server (restarting it on the same port) and the workers, in a random order,
    each time after ``heard()`` (the complaints heard registered) grew by HEARD_BEFORE_KILL: the
    burst runs through every kill however fast the processes restart."""
    chance = random.Random(7)
    victims = ["server"] * SERVER_KILLS + ["worker"] * WORKER_KILLS
    chance.shuffle(victims)
    try:
        for victim in victims:
            time.sleep(chance.uniform(0.8, 2.0))
            target, deadline = heard() + HEARD_BEFORE_KILL, time.monotonic() + HEARD_WAIT_SECONDS
            while heard() < target and time.monotonic() < deadline:
                time.sleep(0.1)
            if victim == "server":
                fleet.kill_server()
                fleet.start_server()
            else:
                fleet.kill_worker(chance.randrange(len(fleet.workers)))
        time.sleep(1.0)  # calls go on a moment against the last restarted processes
    except BaseException as exc:  # reported by the test, not lost in the thread
        errors.append(exc)
    finally:
        done.set()


# -- fixtures -------------------------------------------------------------------

@pytest.fixture
def crash_database(tmp_path: Path) -> Iterator[tuple[str, Database]]:
    """A PostgreSQL schema of its own at the latest migration: (its URL, a Database on it)."""
    for url in database_url_for("postgresql", tmp_path, upgraded=True):
        database = Database.connect(url)
        try:
            yield url, database
        finally:
            database.engine.dispose()


@pytest.fixture
def standin() -> Iterator[TwilioStandin]:
    """The local stand-in of Twilio's Messages API, which the hotline's processes send SMS to."""
    with TwilioStandin() as twilio:
        yield twilio


@pytest.fixture
def fleet(tmp_path: Path, crash_database, standin: TwilioStandin) -> Iterator[Fleet]:
    """The hotline's environment for real processes (none started yet); every process it
    started is killed, with its children, when the test ends."""
    url, _ = crash_database
    env = {
        **os.environ,
        "IVR_DATABASE_URL": url,
        "IVR_INSTANCE_DIR": str(tmp_path / "instance"),
        "IVR_ROUTING_FILE": str(_closed_routing(tmp_path)),
        "IVR_PROMPTS_DIR": str(ROOT / "prompts"),
        "TWILIO_ACCOUNT_SID": standin.account_sid,
        "TWILIO_AUTH_TOKEN": standin.auth_token,
        "TWILIO_API_BASE_URL": standin.base_url,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("IVR_PUBLIC_URL", None)
    env.pop("IVR_SECRET_KEY", None)
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = Fleet(env, _free_port(), logs)
    try:
        yield processes
    finally:
        processes.kill_all()


# -- after the burst --------------------------------------------------------------

def _wait_for(condition: Callable[[], bool], seconds: float, what: str, fleet: Fleet) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds} s\n{fleet.log_tail()}")
        time.sleep(0.3)


def _outbox_settled(database: Database) -> Callable[[], bool]:
    """True once nothing is queued and the messages still leased have stayed so for 3 s (their
    worker died holding them)."""
    seen: dict[int, float] = {}

    def settled() -> bool:
        with database.session() as session:
            pending = session.execute(
                select(SmsMessage.id, SmsMessage.status)
                .where(SmsMessage.status.in_([SmsStatus.QUEUED, SmsStatus.SENDING]))
            ).all()
        if any(status == SmsStatus.QUEUED for _, status in pending):
            seen.clear()
            return False
        now = time.monotonic()
        leased = {message_id for message_id, _ in pending}
        for message_id in list(seen):
            if message_id not in leased:
                del seen[message_id]
        for message_id in leased:
            seen.setdefault(message_id, now)
        return all(now - since >= 3 for since in seen.values())

    return settled


def _take_over_dead_leases(database: Database, standin: TwilioStandin) -> int:
    """What a surviving worker does once a dead worker's lease has run out."""
    gateway = TwilioGateway(standin.account_sid, standin.auth_token, base_url=standin.base_url)

    def after_the_lease() -> datetime:
        return datetime.now(timezone.utc) + SMS_LEASE + timedelta(minutes=1)

    return Dispatcher(database, gateway, after_the_lease).drain()


def _acknowledged(ui: ScriptedCaller, prompts: PromptSet) -> bool:
    """The caller heard that the complaint is registered, with its number."""
    opening = prompts.prompts["ticket_registered"].split("{ticket}")[0]
    return any(text.startswith(opening) for text in ui.heard)


# -- the test -------------------------------------------------------------------

def test_kill_9_of_server_and_workers_loses_and_doubles_nothing(fleet: Fleet, crash_database, standin):
    _, database = crash_database
    prompts = load_hotline(Path(fleet.env["IVR_ROUTING_FILE"]), ROOT / "prompts").prompt_set("ro")
    fleet.start_server()
    fleet.start_worker()
    fleet.start_worker()

    burst = Burst(fleet.base_url, standin.auth_token)
    killed, killer_errors = threading.Event(), []
    heard = lambda: sum(1 for _, ui in list(burst.calls) if _acknowledged(ui, prompts))  # noqa: E731
    killer = threading.Thread(target=_kill_now_and_then, args=(fleet, heard, killed, killer_errors), daemon=True)
    callers = [threading.Thread(target=burst.place_calls, args=(seed,), daemon=True) for seed in range(CLIENT_THREADS)]
    killer.start()
    for thread in callers:
        thread.start()
    killed.wait(timeout=SERVER_KILLS * (STARTUP_SECONDS + 3) + WORKER_KILLS * 3 + (SERVER_KILLS + WORKER_KILLS) * HEARD_WAIT_SECONDS)
    burst.stop.set()
    for thread in [killer, *callers]:
        thread.join(timeout=30)
        assert not thread.is_alive(), "a burst thread did not finish"
    assert not killer_errors, killer_errors
    assert not burst.errors, burst.errors

    # Everything runs again: Twilio's retries get through and the workers empty the outbox.
    if fleet.server is None:
        fleet.start_server()
    deadline = time.monotonic() + CALLBACK_SECONDS
    undelivered = [call.log.call_sid for call, _ in burst.calls if not call.retry_callback(deadline)]
    assert not undelivered, f"recording callbacks never accepted: {undelivered}\n{fleet.log_tail()}"
    _wait_for(_outbox_settled(database), DRAIN_SECONDS, "the outbox did not settle", fleet)
    fleet.kill_all()
    taken_over = _take_over_dead_leases(database, standin)

    with database.session() as session:
        tickets = session.scalars(select(Ticket)).all()
        messages = session.scalars(select(SmsMessage)).all()
        sequences = {row.year: row.last for row in session.scalars(select(TicketSequence))}

    by_call = Counter(t.call_sid for t in tickets)
    assert [sid for sid, n in by_call.items() if n > 1] == [], "a call got two tickets"
    ticket_of = {t.call_sid: t for t in tickets}
    placed = {call.log.call_sid for call, _ in burst.calls}
    assert set(ticket_of) <= placed, "a ticket for a call nobody placed"

    acknowledged = [(call, ui) for call, ui in burst.calls if _acknowledged(ui, prompts)]
    for call, ui in acknowledged:
        ticket = ticket_of.get(call.log.call_sid)
        assert ticket is not None, f"acknowledged complaint lost: {call.log.call_sid} heard {ui.heard[-2:]}"
        assert any(prompts.spelled(ticket.number) in text for text in ui.heard), (
            f"{call.log.call_sid} heard another number than its ticket {ticket.number}"
        )
    # Every callback was accepted, so every complaint left is a ticket, acknowledged or not.
    assert placed == set(ticket_of), f"complaints lost: {sorted(placed - set(ticket_of))}"

    for year in {t.year for t in tickets}:
        numbers = sorted(t.sequence for t in tickets if t.year == year)
        assert numbers == list(range(1, len(numbers) + 1)), f"ticket numbers of {year} have gaps"
        assert sequences[year] == len(numbers)

    assert {m.status for m in messages} == {SmsStatus.SENT}, Counter(m.status for m in messages)
    assert Counter(m.ticket_id for m in messages if m.purpose == "ticket_registered") == Counter(
        t.id for t in tickets if t.sms_to
    ), "not one ticket_registered SMS queued per ticket"
    delivered = Counter((m["to"], m["body"]) for m in standin.messages)
    assert [key for key, n in delivered.items() if n > 1] == [], "an SMS reached Twilio twice"
    for ticket in tickets:
        if ticket.sms_to:
            texts = [m["body"] for m in standin.messages if m["to"] == ticket.sms_to and ticket.number in m["body"]]
            assert len(texts) == 1, f"{ticket.number}: {len(texts)} SMS at Twilio"
    assert len(standin.messages) == len(messages)

    # The burst really ran through the kills: enough complaints, some calls cut off.
    assert len(acknowledged) >= 20, f"only {len(acknowledged)} acknowledged complaints"
    print(f"{len(burst.calls)} complaints left, {len(acknowledged)} acknowledged, "
          f"{burst.unreached} calls cut off before the beep, {len(standin.messages)} SMS, {taken_over} taken over from dead workers")
