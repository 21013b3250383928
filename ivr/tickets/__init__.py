"""Complaint tickets: registered once, worked by operators, told to their callers.

- ``registration``: a voicemail becomes exactly one ticket, with its number, terms and SMS,
  written by the statements of ``statements`` (the year's next number taken last);
- ``casework``: what operators do to a ticket, each action checked against its state;
  ``terms``: extending a ticket's milestones and moving it to another department;
- ``queries``: finding tickets for the console (the work list, its counts, the overview);
- ``callers``: a caller's own complaints as the phone tells them, and messages they add;
- ``history``: a ticket's events, stored as data and told in the reader's language.
"""
