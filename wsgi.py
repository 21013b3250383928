"""Entry point for a WSGI server: ``gunicorn wsgi:app``."""

import gc

from ivr import create_app

gc.disable()  # create_app pauses the cyclic collector itself; this keeps it paused up to the freeze
app = create_app()
# What was built so far lives as long as the process: out of the collector's sight, later
# collections stop walking it again (and, under gunicorn's preload_app, stop writing into the
# memory pages the forked workers share with the master).
gc.freeze()
gc.enable()
