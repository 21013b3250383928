"""Keeping complaints the hotline could not store at once: the local journal and its replay, and reconciling with Twilio."""
