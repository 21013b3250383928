"""Every error the hotline raises on purpose, described in one place.

    IvrError                 base of everything below
    ├── ConfigError          routing.yaml or a prompts file is invalid; the message
    │                        names the file, the key path and what is wrong
    ├── TicketError          a ticket action that the ticket's state does not allow
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


class SmsError(IvrError):
    """Sending an SMS failed."""

    def __init__(self, message: str, code: int | None = None) -> None:
        self.code = code
        super().__init__(message)


class SmsTemporaryError(SmsError):
    """A failure worth retrying: network error, 5xx, 429."""


class SmsPermanentError(SmsError):
    """A failure that retrying cannot fix, such as an invalid or unsubscribed number."""
