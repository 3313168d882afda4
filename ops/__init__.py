"""Running Watchfloor in production: probes, logs and the gunicorn hooks (issue #8)."""
