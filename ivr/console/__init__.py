"""The operator console: sign in, work the complaint tickets, tell the customer the result.

One blueprint per page family, all under /console/:

- ``tickets``: signing in, the work list, a ticket's page and its actions, the overview
  (blueprint ``console``); ``ticket_page`` and ``previews`` build the ticket's page and what
  an action shows before it is confirmed;
- ``calls``: the live card of the call an operator is on and the call log;
- ``stats``: the supervisor's call statistics and the CSV downloads;
- ``incidents``: outage notices; ``callbacks``: callers waiting to be called back;
- ``history``: a ticket's history in the reader's language; ``errors``: the console's own
  error pages.

``common`` holds what they share (who is signed in, the page context, the supervisors-only
guard, the recording proxy) and ``words`` what the pages say of a ticket in the reader's
language. The labels themselves are prompts/console/<lang>.yaml (``ivr.console_labels``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def init_app(app: Flask) -> None:
    """Register the console's blueprints."""
    from . import callbacks, calls, errors, history, incidents, stats, tickets

    for module in (tickets, calls, stats, history, errors, incidents, callbacks):
        app.register_blueprint(module.bp)
