"""Entry point for a WSGI server: ``gunicorn wsgi:app``."""

from ivr import create_app

app = create_app()
