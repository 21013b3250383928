"""gunicorn's preload_app (IVR_GUNICORN_PRELOAD=1 in gunicorn.conf.py): the workers forked from
a master that built the hotline serve it, each on database connections of its own."""

from __future__ import annotations

import os
import runpy
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select, text

from conftest import ROOT, sign
from ivr import after_fork
from ivr.db import Database
from ivr.models import Ticket
from servers import hotline_env, server_process

# Runs whole programs for seconds: started first (conftest), left out by -m "not slow".
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("value, preloaded", [("1", True), ("yes", True), ("0", False), ("", False)])
def test_the_shipped_settings_preload_when_asked(monkeypatch, tmp_path: Path, value: str, preloaded: bool):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # the settings would make a folder otherwise
    monkeypatch.setenv("IVR_GUNICORN_PRELOAD", value)
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["preload_app"] is preloaded


def test_after_a_fork_the_child_leaves_the_parents_connections_alone(app):
    engine = app.extensions["ivr.db"].engine
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert engine.pool.checkedin() == 1  # the parent's connection, pooled: what a fork would share
    child = os.fork()
    if child == 0:  # the child reports through its exit status only
        try:
            after_fork(app)
            fresh = engine.pool.checkedin() == 0
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            os._exit(0 if fresh else 3)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert engine.pool.checkedin() == 1  # the parent's own, still open
    with engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


def _complaint(base: str) -> int:
    url = base + "/voice/recorded/technical?lang=ro&sms=%2B40722123456"
    form = {"CallSid": "CA" + secrets.token_hex(16), "From": "+40722123456", "RecordingSid": "RE" + secrets.token_hex(16),
            "RecordingUrl": "https://api.twilio.com/r", "RecordingDuration": "30", "Digits": "#"}
    return requests.post(url, data=form, headers=sign(url, form), timeout=30).status_code


def test_preloaded_workers_register_every_complaint_once(config_dir: Path, tmp_path: Path):
    env = {**hotline_env(config_dir, tmp_path), "IVR_GUNICORN_PRELOAD": "1"}
    with server_process("gunicorn", env, workers=2) as base:
        with ThreadPoolExecutor(6) as pool:
            statuses = list(pool.map(lambda _: _complaint(base), range(24)))
    assert statuses == [200] * 24
    database = Database.connect(env["IVR_DATABASE_URL"])
    with database.session() as session:
        assert session.execute(select(func.count(), func.count(Ticket.number.distinct()))).one() == (24, 24)
    database.engine.dispose()
