"""What Twilio's REST API answers, for the stand-in (``twilio_standin``): a Message, a Recording
and a Call in Twilio's JSON, the filters its list requests take, and a recording's audio."""

from __future__ import annotations

import io
import math
import struct
import wave
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime


def message_resource(account_sid: str, m: dict, date_sent: datetime | None) -> dict:
    """A Message as Twilio answers it."""
    created = format_datetime(m["date_created"])
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{m['sid']}"
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": m["body"],
        "date_created": created,
        "date_sent": format_datetime(date_sent) if date_sent else None,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": m["from"],
        "messaging_service_sid": m["messaging_service_sid"],
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": m["sid"],
        "status": m["status"],
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": m["to"],
        "uri": f"{uri}.json",
    }


def recording_resource(account_sid: str, r: dict) -> dict:
    """A Recording as Twilio lists it."""
    created = format_datetime(r["date_created"])
    base = f"/2010-04-01/Accounts/{account_sid}/Recordings/{r['sid']}"
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "call_sid": r["call_sid"],
        "conference_sid": None,
        "date_created": created,
        "date_updated": created,
        "start_time": format_datetime(r["date_created"] - timedelta(seconds=int(r["duration"]))),
        "duration": r["duration"],
        "sid": r["sid"],
        "price": None,
        "price_unit": "USD",
        "status": r["status"],
        "channels": 1,
        "source": r["source"],
        "error_code": None,
        "uri": f"{base}.json",
        "encryption_details": None,
        "subresource_uris": {
            "add_on_results": f"{base}/AddOnResults.json",
            "transcriptions": f"{base}/Transcriptions.json",
        },
        "media_url": f"https://api.twilio.com{base}",
    }


def call_resource(account_sid: str, sid: str, call: dict) -> dict:
    """A Call that ``add_call_recording`` registered, as Twilio answers it: completed."""
    start = format_datetime(call["start_time"])
    base = f"/2010-04-01/Accounts/{account_sid}/Calls/{sid}"
    return {
        "sid": sid,
        "date_created": start,
        "date_updated": start,
        "parent_call_sid": None,
        "account_sid": account_sid,
        "to": call["to"],
        "to_formatted": call["to"],
        "from": call["from"],
        "from_formatted": call["from"],
        "phone_number_sid": "PN" + "0" * 32,
        "status": "completed",
        "start_time": start,
        "end_time": start,
        "duration": "60",
        "price": None,
        "price_unit": "USD",
        "direction": call["direction"],
        "answered_by": None,
        "api_version": "2010-04-01",
        "forwarded_from": None,
        "group_sid": None,
        "caller_name": None,
        "queue_time": "0",
        "trunk_sid": None,
        "uri": f"{base}.json",
        "subresource_uris": {"recordings": f"{base}/Recordings.json"},
    }


def placed_call_resource(account_sid: str, placed: dict, now: datetime) -> dict:
    """The Call that Calls.create answers: queued, outbound."""
    uri = f"/2010-04-01/Accounts/{account_sid}/Calls/{placed['sid']}"
    return {
        "account_sid": account_sid, "api_version": "2010-04-01", "sid": placed["sid"],
        "to": placed["to"], "to_formatted": placed["to"], "from": placed["from"], "from_formatted": placed["from"],
        "status": "queued", "direction": "outbound-api", "parent_call_sid": None, "duration": None,
        "start_time": None, "end_time": None, "price": None, "price_unit": "USD", "answered_by": None,
        "caller_name": None, "forwarded_from": None, "group_sid": None, "phone_number_sid": None,
        "queue_time": "0", "trunk_sid": None, "annotation": None,
        "date_created": format_datetime(now), "date_updated": format_datetime(now),
        "uri": f"{uri}.json", "subresource_uris": {"recordings": f"{uri}/Recordings.json"},
    }


def wav_tone(frequency: int, seconds: float = 1.0, rate: int = 8000, amplitude: int = 1000) -> bytes:
    """A valid WAV file: mono, 16-bit, ``rate`` Hz, a sine at ``frequency`` Hz, quiet (3% of full scale)."""
    frames = b"".join(
        struct.pack("<h", round(amplitude * math.sin(2 * math.pi * frequency * i / rate)))
        for i in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def message_matches(message: dict, query: dict[str, str]) -> bool:
    sent = message["date_created"]  # the stand-in "sends" at once
    checks = [
        "To" not in query or message["to"] == query["To"],
        "From" not in query or message["from"] == query["From"],
        "DateSent>" not in query or sent >= moment(query["DateSent>"]),
        "DateSent<" not in query or sent <= moment(query["DateSent<"]),
        "DateSent" not in query or sent.date() == moment(query["DateSent"]).date(),
    ]
    return all(checks)


def recording_matches(recording: dict, query: dict[str, str]) -> bool:
    created = recording["date_created"]
    checks = [
        "CallSid" not in query or recording["call_sid"] == query["CallSid"],
        "DateCreated>" not in query or created >= moment(query["DateCreated>"]),
        "DateCreated<" not in query or created <= moment(query["DateCreated<"]),
        "DateCreated" not in query or created.date() == moment(query["DateCreated"]).date(),
    ]
    return all(checks)


def moment(text: str) -> datetime:
    """twilio-python sends ``2026-11-24T08:00:00Z``; Twilio's docs speak of ``2026-11-24``."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
