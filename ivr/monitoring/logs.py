"""One line per event, plain or JSON (``IVR_LOG_FORMAT=json``), each carrying the CallSid of the
call and the number of the ticket it is about, with phone numbers masked.

The CallSid comes from the webhook being answered (or ``about_call`` in a thread working for
one); a ticket's number from ``about_ticket``, or from the record itself (every committed event
of a ticket is a line, see ``ivr.tickets.history``). Phone numbers in a message lose their
middle digits (+40722***456): logs are read by more people than the console is.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timezone

from flask import has_request_context, request

from .context import about_call, about_ticket, current_call, current_ticket

__all__ = ["about_call", "about_ticket", "configure_logging", "mask_phones"]
# An E.164 number, or a national Romanian one: keep the country code and prefix, and the last 3.
_PHONE = re.compile(r"(?<![\w+])(\+?\d{3,5})(\d{3,7})(\d{3})(?!\d)")
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")


def mask_phones(text: str) -> str:
    return _PHONE.sub(lambda m: m.group(1) + "*" * len(m.group(2)) + m.group(3), text)


class _Context(logging.Filter):
    """Adds ``call_sid`` and ``ticket`` to every record (the formatters mask its numbers, leaving
    the record itself as it was for any other handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.call_sid = getattr(record, "call_sid", None) or _request_call_sid() or current_call()
        record.ticket = getattr(record, "ticket", None) or current_ticket()
        return True


def _message(record: logging.LogRecord) -> str:
    """The record's message; at INFO and above with phone numbers masked."""
    message = record.getMessage()
    return mask_phones(message) if record.levelno >= logging.INFO else message


def _request_call_sid() -> str | None:
    if not has_request_context():
        return None
    sid = request.form.get("ParentCallSid") or request.form.get("CallSid") if request.method == "POST" else None
    if sid and _CALL_SID.fullmatch(sid):
        return sid
    return request.view_args.get("call_sid") if request.view_args else None


class _Plain(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        context = "".join(f" [{k}={v}]" for k in ("call_sid", "ticket") if (v := getattr(record, k, None)))
        line = f"{self.formatTime(record)} {record.levelname} {record.name}{context}: {_message(record)}"
        return line + (f"\n{mask_phones(self.formatException(record.exc_info))}" if record.exc_info else "")


class _Json(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": _message(record),
        }
        line.update({k: v for k in ("call_sid", "ticket") if (v := getattr(record, k, None))})
        if record.exc_info:
            line["exception"] = mask_phones(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def configure_logging(log_format: str | None) -> None:
    """Log INFO and above to stderr, one line per event, JSON when ``log_format`` is "json"."""
    handler = logging.StreamHandler()
    handler.setFormatter(_Json() if (log_format or "").lower() == "json" else _Plain())
    handler.addFilter(_Context())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "ivr", False)]:
        root.removeHandler(old)
    handler.ivr = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The Twilio client logs every request's headers and body at INFO: numbers and texts.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
