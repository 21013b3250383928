"""A real PostgreSQL that stops or hangs mid-call: the caller is answered within 5 seconds,
and the complaint becomes exactly one ticket and one SMS once the database is back.

The test runs its own PostgreSQL cluster (initdb and pg_ctl into a temporary folder, on a
free port, as the postgres user), so it can stop it and SIGSTOP it without touching the
machine's own server. Skipped, with the reason, where those binaries or that user are missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr import create_app
from ivr.sms.dispatcher import Dispatcher
from ivr.models import CallRecord, Ticket
from ivr.recovery.replay import replay_journal
from ivr.sms.gateway import TwilioGateway

from conftest import AUTH_TOKEN, BASE_URL, FakeClock, sign

RECORDING = {
    "RecordingSid": "RE" + "c" * 32,
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC00/Recordings/RE" + "c" * 32,
    "RecordingDuration": "40",
}


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _skip_reason() -> str | None:
    if _pg_bin() is None:
        return "PostgreSQL's initdb/pg_ctl are not installed (/usr/lib/postgresql/*/bin)"
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "starting a private PostgreSQL cluster needs root and runuser (to run it as the postgres user)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres user to run a private PostgreSQL cluster"
    return None


# Runs PostgreSQL clusters of its own for seconds: started first (conftest), left out by -m "not slow".
pytestmark = [pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""), pytest.mark.slow]


@dataclass
class PrivateCluster:
    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(_pg_bin() / "pg_ctl"), "-D", str(self.folder / "data"), *args],
            check=True, capture_output=True, timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("-o", options, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "-w", "stop")

    def processes(self) -> list[int]:
        """The postmaster and every backend it forked."""
        postmaster = int((self.folder / "data" / "postmaster.pid").read_text().split()[0])
        children = [
            int(stat.split()[0]) for stat in _proc_stats() if len(stat.split()) > 3 and stat.split()[3] == str(postmaster)
        ]
        return [postmaster, *children]

    def signal_all(self, signum: int) -> None:
        for pid in self.processes():
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass


def _proc_stats() -> Iterator[str]:
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            yield Path(path).read_text()
        except OSError:
            continue


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    """A running PostgreSQL cluster of this test's own, on a free port; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="ivr-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    subprocess.run(
        ["runuser", "-u", "postgres", "--", str(_pg_bin() / "initdb"), "-D", str(folder / "data"),
         "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"],
        check=True, capture_output=True, timeout=120,
    )
    running = PrivateCluster(folder, _free_port())
    running.start()
    try:
        yield running
    finally:
        try:
            running.signal_all(signal.SIGCONT)
            running.pg_ctl("-m", "immediate", "stop")
        except (subprocess.SubprocessError, OSError):
            pass
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def hotline(cluster, app_config):
    """The hotline on the private cluster, upgraded, with the shipped database budgets; its
    clock is an hour ago (so SMS are due)."""
    app_config.update(
        DATABASE_URL=cluster.url, DATABASE_AUTO_UPGRADE=True,
        CLOCK=FakeClock(datetime.now(timezone.utc) - timedelta(hours=1)),
        TWILIO_ACCOUNT_SID=None, JOURNAL_REPLAY_SECONDS=3600,  # replays are run by the test
        STATUS_LOOKUP_SECONDS=1.0,  # as shipped: a hung database must not hold a caller's arrival
    )
    return create_app(app_config)


def post(app, path: str, call_sid: str, **fields: str):
    data = {"CallSid": call_sid, "From": "+40722123456", "To": "+40215894141", **fields}
    started = time.monotonic()
    reply = app.test_client().post(path, data=data, headers=sign(BASE_URL + path, data))
    return reply, time.monotonic() - started


def leave_complaint(app, call_sid: str):
    """The <Record> action and then Twilio's recording callback, as after a voicemail."""
    reply, seconds = post(app, "/voice/recorded/technical?lang=ro&sms=%2B40722123456", call_sid, Digits="#", **RECORDING)
    callback, _ = post(app, "/voice/recording-status/technical?lang=ro&sms=%2B40722123456", call_sid,
                       RecordingStatus="completed", **RECORDING)
    return reply.get_data(as_text=True), seconds, callback.status_code


def tickets_by_call(app) -> dict[str, int]:
    with app.extensions["ivr.db"].session() as session:
        calls = session.scalars(select(Ticket.call_sid)).all()
    return {sid: calls.count(sid) for sid in calls}


def send_sms(app, twilio) -> None:
    gateway = TwilioGateway(twilio.account_sid, AUTH_TOKEN, base_url=twilio.base_url)
    Dispatcher(app.extensions["ivr.db"], gateway, lambda: datetime.now(timezone.utc)).drain()


@pytest.fixture
def twilio():
    """The Twilio stand-in, taking the tests' auth token."""
    from twilio_standin import TwilioStandin

    with TwilioStandin(auth_token=AUTH_TOKEN) as standin:
        yield standin


def test_a_complaint_left_while_postgresql_is_stopped_becomes_one_ticket_and_one_sms(cluster, hotline, twilio):
    before, _, _ = leave_complaint(hotline, "CA" + "1" * 32)  # the pool holds connections now
    assert "Reclamația a fost înregistrată cu numărul" in before
    cluster.stop()

    said, seconds, callback = leave_complaint(hotline, "CA" + "2" * 32)
    assert seconds < 5
    assert "Reclamația dumneavoastră a fost înregistrată." in said
    assert "Numărul de înregistrare vă va fi trimis prin SMS." in said
    assert callback == 204
    incoming, _ = post(hotline, "/voice/incoming", "CA" + "3" * 32)
    assert "Pentru Departamentul Tehnic" in incoming.get_data(as_text=True)  # the menu needs no database

    cluster.start()
    journal = hotline.extensions["ivr.intake"].journal
    replay_journal(journal, hotline.extensions["ivr.db"], hotline.extensions["ivr.hotline"])
    replay_journal(journal, hotline.extensions["ivr.db"], hotline.extensions["ivr.hotline"])
    assert tickets_by_call(hotline) == {"CA" + "1" * 32: 1, "CA" + "2" * 32: 1}
    send_sms(hotline, twilio)
    send_sms(hotline, twilio)
    bodies = sorted(m["body"] for m in twilio.messages)
    assert len(bodies) == 2 and "RC-" in bodies[1] and bodies[0] != bodies[1]


def test_after_a_restart_of_postgresql_the_next_complaint_gets_its_number_at_once(cluster, hotline):
    """The pool's connections died with the server: the first registration that meets one
    tries again on a new connection, and the caller hears the number, not "by SMS later"."""
    before, _, _ = leave_complaint(hotline, "CA" + "6" * 32)  # the pool holds connections now
    assert "Reclamația a fost înregistrată cu numărul" in before
    assert hotline.extensions["ivr.call_events"].flush()
    cluster.stop()
    cluster.start()

    said, seconds, callback = leave_complaint(hotline, "CA" + "7" * 32)
    assert "Reclamația a fost înregistrată cu numărul" in said and "0 0 0 0 0 2" in said
    assert seconds < 5 and callback == 204
    assert not hotline.extensions["ivr.intake"].journal.has_entries()
    assert tickets_by_call(hotline) == {"CA" + "6" * 32: 1, "CA" + "7" * 32: 1}


def test_after_a_restart_of_postgresql_the_call_log_loses_no_fact(cluster, hotline):
    """The call log's writer is the first to meet a dead connection (a landline's arrival reads
    nothing): it writes its fact on a new one."""
    post(hotline, "/voice/incoming", "CA" + "8" * 32, From="+40212345678")
    assert hotline.extensions["ivr.call_events"].flush()
    cluster.stop()
    cluster.start()

    post(hotline, "/voice/incoming", "CA" + "9" * 32, From="+40212345678")
    assert hotline.extensions["ivr.call_events"].flush()
    with hotline.extensions["ivr.db"].session() as session:
        assert set(session.scalars(select(CallRecord.call_sid))) == {"CA" + "8" * 32, "CA" + "9" * 32}


def test_a_hung_postgresql_is_given_up_on_within_5_seconds(cluster, hotline, twilio):
    leave_complaint(hotline, "CA" + "4" * 32)
    cluster.signal_all(signal.SIGSTOP)
    # Should the webhook wait for the database after all, the test still ends.
    thaw = threading.Timer(15, cluster.signal_all, [signal.SIGCONT])
    thaw.start()
    try:
        incoming, menu_seconds = post(hotline, "/voice/incoming", "CA" + "5" * 32)
        said, seconds, callback = leave_complaint(hotline, "CA" + "5" * 32)
    finally:
        thaw.cancel()
        cluster.signal_all(signal.SIGCONT)
    assert menu_seconds < 3 and incoming.status_code == 200
    assert seconds < 5
    assert "Numărul de înregistrare vă va fi trimis prin SMS." in said
    assert callback == 204

    # The registrations that hung may commit now; the replay must not double them.
    time.sleep(1)
    replay_journal(hotline.extensions["ivr.intake"].journal, hotline.extensions["ivr.db"], hotline.extensions["ivr.hotline"])
    assert tickets_by_call(hotline) == {"CA" + "4" * 32: 1, "CA" + "5" * 32: 1}
    send_sms(hotline, twilio)
    assert len(twilio.messages) == 2
