"""``python -m ivr`` is the ``ivr`` command, for tests and for machines without the script on PATH."""

from .cli import main

main()
