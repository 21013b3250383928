"""What operations engineers watch: ``/healthz`` (health.py), ``/metrics`` in the Prometheus
text format (metrics.py) and the log lines (logs.py: JSON with ``IVR_LOG_FORMAT=json``, the
CallSid and ticket number on every line, phone numbers masked)."""
