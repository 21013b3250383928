"""Every error the hotline raises on purpose, described in one place.

    IvrError                 base of everything below
    ├── ConfigError          routing.yaml or a prompts file is invalid; the message
    │                        names the file, the key path and what is wrong
    ├── TicketError          a ticket action that the ticket's state does not allow
    │   ├── TicketTaken      another operator has taken the ticket (``by``)
    │   └── TicketClosed     the ticket was already resolved or rejected (``status``, ``by``),
    │                        often by an operator who acted a moment earlier
    ├── AccountError         a console user cannot be added as asked
    ├── DatabaseNotUpgraded  the database is not at the schema of this version: `ivr db upgrade`
    ├── HotlineUnreachable   `ivr call` got no answer from the hotline's URL
    ├── SignInThrottled      too many wrong passwords: the next try must wait
    ├── RecordingUnavailable a voicemail recording cannot be played: not this account's,
    │                        deleted at Twilio, or Twilio refused or could not be reached
    ├── TwilioApiError       Twilio's REST API refused to list recordings or calls, or
    │                        could not be reached (ivr reconcile)
    └── SmsError             the SMS API refused or could not be reached
        ├── SmsTemporaryError    worth retrying later (network, 5xx, 429)
        └── SmsPermanentError    never retried (invalid number, unsubscribed, ...)
"""

from __future__ import annotations


class IvrError(Exception):
    """Base class of the errors the hotline raises on purpose."""


class ConfigError(IvrError):
    """The configuration cannot be used. ``problems`` holds one line per fault."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))


class TicketError(IvrError):
    """A ticket action that the ticket's current state does not allow."""


class TicketRefused(TicketError):
    """An action the procedure does not allow on this ticket. ``reason`` names the console label
    (``refused_<reason>``) that tells the operator why, with ``params`` as its values."""

    def __init__(self, reason: str, message: str, **params: str) -> None:
        self.reason, self.params = reason, params
        super().__init__(message)


class TicketTaken(TicketError):
    """An operator acting on a ticket that ``by`` (a user name) has taken."""

    def __init__(self, number: str, by: str) -> None:
        self.number, self.by = number, by
        super().__init__(f"{number} is taken by {by}")


class TicketClosed(TicketError):
    """An action that needs an open ticket, on one that ``by`` has already resolved or rejected."""

    def __init__(self, number: str, status: str, by: str) -> None:
        self.number, self.status, self.by = number, status, by
        super().__init__(f"{number} is {status} (by {by}): re-open it first")


class RecordingUnavailable(IvrError):
    """A voicemail recording cannot be fetched; the message is meant for the operator.

    ``status`` is Twilio's HTTP answer (404: deleted), or None when Twilio was not asked
    (the URL is not this account's recording) or did not answer."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class TwilioApiError(IvrError):
    """Twilio's REST API refused a read or could not be reached; the message is one line for
    an administrator. ``status`` is Twilio's HTTP answer, None when there was none."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class AccountError(IvrError):
    """A console user cannot be added as asked (name taken, unknown role, short password)."""


class DatabaseNotUpgraded(IvrError):
    """The database answers but its schema is not this version's; ``ivr db upgrade`` fixes it."""


class HotlineUnreachable(IvrError):
    """``ivr call`` could not reach the hotline: nothing listens at the URL, or it did not answer."""


class SignInThrottled(IvrError):
    """Too many wrong passwords for a user: sign-in is refused for ``wait_seconds``."""

    def __init__(self, wait_seconds: int) -> None:
        self.wait_seconds = wait_seconds
        super().__init__(f"too many failed sign-ins: try again in {wait_seconds} s")


class SmsError(IvrError):
    """Sending an SMS failed."""

    def __init__(self, message: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class SmsTemporaryError(SmsError):
    """A failure worth retrying: network error, 5xx, 429."""


class SmsPermanentError(SmsError):
    """A failure that retrying cannot fix, such as an invalid or unsubscribed number."""
