"""Keeping complaints when the database cannot: a local journal, its replay, and reconciling with Twilio."""
