"""gunicorn's settings for the hotline: ``gunicorn -c gunicorn.conf.py wsgi:app``
(gunicorn also reads this file by itself when started from the project folder).

Forwarded headers are the app's business (IVR_TRUSTED_PROXIES, see ivr/proxies.py), exactly
as under ``ivr serve``. By default gunicorn itself turns X-Forwarded-Proto into https and takes
SCRIPT_NAME from a header when the request comes from 127.0.0.1: a forgery when no proxy is
trusted, and a difference from waitress when one is. Nothing here lets it.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile

from ivr import instance_folder

forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""

# Webhooks wait on the database at most a few seconds (then the journal takes the complaint), so
# a sync worker per core and a half is enough; WEB_CONCURRENCY overrides it.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
# Twilio gives a webhook 15 s: a worker stuck longer is restarted before Twilio gives up twice.
timeout = 14
graceful_timeout = 20
bind = os.environ.get("IVR_BIND", "127.0.0.1:8000")
# A worker touches its heartbeat file after every request. gunicorn's own note on worker_tmp_dir:
# on a disk-backed filesystem (/tmp often is, as on Debian) that may block the worker for an
# arbitrary time, behind whatever else the disk is writing. /dev/shm is memory.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

# gunicorn's control socket (`gunicornc -s PATH`) is by default one path per user account,
# ~/.gunicorn/gunicorn.ctl: a second gunicorn on the machine takes it over, and the first one's
# stop deletes it, so gunicornc would command whichever started last. Each hotline keeps its own,
# in its instance folder (IVR_INSTANCE_DIR, beside its trial token and embedded database).
control_socket = os.path.join(instance_folder(), "gunicorn.ctl")

# IVR_GUNICORN_PRELOAD=1 (or `gunicorn --preload`): the master builds the hotline once and forks
# the workers from it, so a worker (re)starts in milliseconds instead of ~1 s of imports and
# configuration, a bad configuration stops the start before any worker, and the workers share
# the code's memory. The price: `kill -HUP` then restarts the workers on the master's code and
# configuration; a new routing.yaml or release needs a restart of gunicorn itself. What the
# master opened stays its own: post_fork below has each worker drop the pooled database
# connections it inherited (the embedded SQLite's upgrade leaves one); the app's background
# threads start at their first use, in each worker.
preload_app = os.environ.get("IVR_GUNICORN_PRELOAD", "").strip().lower() in ("1", "true", "yes", "on")

# /metrics: the workers' webhook histograms are added up from files in one folder, fresh at
# each start (a folder of your own in PROMETHEUS_MULTIPROC_DIR must be emptied before a start).
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="ivr-metrics-"))


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker) -> None:
    if server.cfg.preload_app:
        from ivr import after_fork

        after_fork(worker.app.wsgi())  # the app the master preloaded: wsgi() returns it, loads nothing
