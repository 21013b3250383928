"""gunicorn's settings for the hotline: ``gunicorn -c gunicorn.conf.py -w 4 wsgi:app``
(gunicorn also reads this file by itself when started from the project folder).

Forwarded headers are the app's business (IVR_TRUSTED_PROXIES, see ivr/proxies.py), exactly
as under ``ivr serve``. By default gunicorn itself turns X-Forwarded-Proto into https and takes
SCRIPT_NAME from a header when the request comes from 127.0.0.1: a forgery when no proxy is
trusted, and a difference from waitress when one is. Nothing here lets it.
"""

forwarded_allow_ips = ""
secure_scheme_headers: dict[str, str] = {}
forwarder_headers = ""
