"""The voice webhooks' blueprint: every request must be signed by Twilio and carry a CallSid."""

from __future__ import annotations

from flask import Blueprint

from ..twilio_auth import require_call_sid, require_twilio_signature

bp = Blueprint("voice", __name__, url_prefix="/voice")
bp.before_request(require_twilio_signature)
bp.before_request(require_call_sid)
