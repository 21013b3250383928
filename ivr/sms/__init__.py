"""The customer's SMS: queued with the change that causes them, sent once by a dispatcher.

- ``text``: the texts themselves, GSM-7 and the one-segment limit (pure rules);
- ``outbox``: queueing an SMS in the caller's transaction, and recording what became of it;
- ``wakeup``: waking the dispatchers when an SMS is queued, rather than at their next poll;
- ``dispatcher``: delivering the outbox through the gateway, once per message, in batches;
- ``gateway``: the only code that talks to Twilio's Messages API (or, in a local trial, the log);
- ``status_callback``: Twilio's reports on a sent SMS (blueprint ``sms``).

Nothing is imported here, so that the pure ``text`` stays cheap to import.
"""
