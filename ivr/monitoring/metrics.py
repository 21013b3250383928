"""``GET /metrics`` in the Prometheus text format (prometheus_client).

Off unless ``IVR_METRICS_TOKEN`` is set; then a scraper sends ``Authorization: Bearer TOKEN``.

What the hotline did (calls by outcome, tickets by department and source, SMS by status and
Twilio error code, the outbox backlog) is counted from the database when scraped, so every
gunicorn worker answers the same. Webhook latency is measured in each process: under gunicorn,
set ``PROMETHEUS_MULTIPROC_DIR`` (gunicorn.conf.py does) so that the workers' histograms add up.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from .. import appctx
from ..db import Database
from ..models import CallRecord, SmsMessage, Ticket
from .health import outbox_backlog

bp = Blueprint("metrics", __name__)
# Twilio gives a webhook 15 s; the buckets say how far from that the answers are.
WEBHOOK_SECONDS = Histogram(
    "ivr_webhook_duration_seconds", "Time to answer a Twilio webhook", ["endpoint"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15),
)
WEBHOOK_BLUEPRINTS = ("voice", "sms", "call_status")


class DatabaseCollector:
    """What the database says the hotline did, read when Prometheus scrapes."""

    def __init__(self, database: Database, now) -> None:
        self.database, self.now = database, now

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ivr_database_up", "1 when the database answered this scrape")
        try:
            with self.database.reading() as session:
                yield from self._counts(session)
            up.add_metric([], 1)
        except SQLAlchemyError:
            up.add_metric([], 0)
        yield up

    def _counts(self, session) -> Iterator[Metric]:
        calls = CounterMetricFamily("ivr_calls", "Ended calls by outcome", labels=["outcome"])
        for outcome, count in session.execute(
                select(CallRecord.outcome, func.count()).where(CallRecord.outcome.is_not(None)).group_by(CallRecord.outcome)):
            calls.add_metric([outcome], count)
        tickets = CounterMetricFamily("ivr_tickets", "Tickets registered", labels=["department", "source"])
        for department, source, count in session.execute(
                select(Ticket.department, Ticket.source, func.count()).group_by(Ticket.department, Ticket.source)):
            tickets.add_metric([department, source], count)
        sms = CounterMetricFamily("ivr_sms", "SMS by status and Twilio error code", labels=["status", "error_code"])
        for status, code, count in session.execute(
                select(SmsMessage.status, SmsMessage.error_code, func.count()).group_by(SmsMessage.status, SmsMessage.error_code)):
            sms.add_metric([status, str(code or "")], count)
        queued, oldest = outbox_backlog(session, self.now())
        backlog = GaugeMetricFamily("ivr_outbox_queued", "SMS waiting in the outbox")
        backlog.add_metric([], queued)
        age = GaugeMetricFamily("ivr_outbox_oldest_queued_seconds", "Age of the oldest SMS waiting (0: none)")
        age.add_metric([], oldest or 0)
        yield from (calls, tickets, sms, backlog, age)


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(_ProcessHistograms())
    registry.register(DatabaseCollector(appctx.database(), appctx.now))
    return registry


class _ProcessHistograms:
    """This process's webhook histogram (without multiprocess mode)."""

    def collect(self) -> Iterator[Metric]:
        yield from WEBHOOK_SECONDS.collect()


@bp.get("/metrics")
def metrics():
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        return Response("a bearer token is required\n", 401, {"WWW-Authenticate": "Bearer"}, mimetype="text/plain")
    return Response(generate_latest(_registry()), mimetype=CONTENT_TYPE_LATEST)


_BY_ENDPOINT: dict[str, Histogram] = {}


def _histogram(endpoint: str) -> Histogram:
    """The endpoint's histogram, looked up once (``labels`` takes a lock and checks the values each time)."""
    histogram = _BY_ENDPOINT.get(endpoint)
    if histogram is None:
        histogram = _BY_ENDPOINT[endpoint] = WEBHOOK_SECONDS.labels(endpoint)
    return histogram


def init_app(app: Flask) -> None:
    """Time every Twilio webhook, and serve /metrics."""

    @app.before_request
    def _start_timer() -> None:
        g.webhook_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        if request.blueprint in WEBHOOK_BLUEPRINTS and "webhook_started" in g:
            _histogram(request.endpoint or "unknown").observe(time.perf_counter() - g.webhook_started)
        return response

    app.register_blueprint(bp)
