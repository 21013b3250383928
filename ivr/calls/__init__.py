"""The call log: every call on record, from the first ring to how it ended, and what it produced."""
