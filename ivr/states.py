"""The states and kinds the tables record (a ticket's status and source, how a call or a
callback ended, an SMS's and a transcription's state, a console user's role), as plain
constants: pure, so that the rules built on them (how a call ended, the statistics' tallies)
need neither the database nor SQLAlchemy."""

from __future__ import annotations


class TicketStatus:
    REGISTERED = "registered"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    OPEN = (REGISTERED, IN_PROGRESS)


class TicketSource:
    VOICEMAIL = "voicemail"   # left by the caller after the beep
    OPERATOR = "operator"     # spoken to an operator, registered by them in the console
    CALLBACK = "callback"     # the caller asked to be called back instead of leaving a voicemail
    INCIDENT = "incident"     # the caller joined an outage notice with one key


class CallOutcome:
    ANSWERED = "answered"
    VOICEMAIL = "voicemail"
    ABANDONED_MENU = "abandoned_menu"          # hung up before reaching an operator or the beep
    ABANDONED_RINGING = "abandoned_ringing"    # hung up while the operators' phones rang
    ABANDONED_VOICEMAIL = "abandoned_voicemail"  # reached the voicemail's beep and left nothing
    ERROR = "error"
    ALL = (ANSWERED, VOICEMAIL, ABANDONED_MENU, ABANDONED_RINGING, ABANDONED_VOICEMAIL, ERROR)


class Role:
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    ALL = (OPERATOR, SUPERVISOR)


class SmsStatus:
    QUEUED = "queued"        # waiting in the outbox (also between retries)
    SENDING = "sending"      # claimed by a dispatcher; lease until locked_until
    SENT = "sent"            # accepted by Twilio
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    LOGGED = "logged"        # local trial: written to the log, not sent


class TranscriptionStatus:
    STARTED = "started"
    STOPPED = "stopped"
    FAILED = "failed"
    # A later event never takes a transcription back to an earlier state (events arrive out of order).
    RANK = {STARTED: 0, STOPPED: 1, FAILED: 2}


class CallbackOutcome:
    """How one attempt to call a customer back ended."""

    ANSWERED = "answered"                # the customer picked up: the callback is done
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"                    # Twilio could not reach the customer (or the call was cancelled)
    OPERATOR_MISSED = "operator_missed"  # the operator's phone did not answer, or they did not press 1
    NOT_PLACED = "not_placed"            # Twilio's REST API refused the call
    ALL = (ANSWERED, NO_ANSWER, BUSY, FAILED, OPERATOR_MISSED, NOT_PLACED)
