"""``GET /healthz``: can this process serve the hotline? 200 with a small JSON when the database
answers, 503 when it does not. No signature, no session, nothing secret: counts and ages only.

``GET /health`` (in ``ivr.create_app``) stays the liveness check: the process answers, whatever
the database does (the menu needs none).
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from .. import appctx
from ..models import SmsMessage
from ..states import SmsStatus

bp = Blueprint("health", __name__)


def outbox_backlog(session: Session, now: datetime) -> tuple[int, float | None]:
    """How many SMS wait in the outbox, and how long the oldest has waited (seconds)."""
    count, oldest = session.execute(
        select(func.count(SmsMessage.id), func.min(SmsMessage.created_at)).where(SmsMessage.status == SmsStatus.QUEUED)
    ).one()
    if oldest is not None and oldest.tzinfo is None:  # SQLite's aggregate loses the column's type
        oldest = datetime.fromisoformat(str(oldest)).replace(tzinfo=now.tzinfo)
    return count, None if oldest is None else round((now - oldest).total_seconds(), 1)


@bp.get("/healthz")
def healthz():
    facts: dict = {
        "configuration": "loaded",
        "departments": len(appctx.hotline().routing.departments),
        "journal": {"pending": appctx.intake().journal.pending()},
    }
    try:
        with appctx.database().reading() as session:
            queued, oldest = outbox_backlog(session, appctx.now())
    except SQLAlchemyError as exc:
        current_app.logger.warning("healthz: database unreachable (%s)", type(exc).__name__)
        return jsonify({**facts, "database": "unreachable"}), 503
    return jsonify({**facts, "database": "reachable", "outbox": {"queued": queued, "oldest_queued_seconds": oldest}})
