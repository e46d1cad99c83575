"""Running the desk as a service (SPEC §6b): the probes (/healthz, /readyz), the Prometheus metrics (/metrics),
beat's heartbeat and the count of failed Celery tasks. Its own Django app, label `ops`."""
