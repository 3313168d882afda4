"""gunicorn configuration of the production profile (``make run-prod``).

Every value comes from the environment through ``settings.py`` (README "Production"):
``WATCHFLOOR_HOST``/``WATCHFLOOR_PORT`` (bind), ``WATCHFLOOR_WORKERS``, ``WATCHFLOOR_THREADS``,
``WATCHFLOOR_LOG_LEVEL``, ``WATCHFLOOR_LOG_FORMAT``.
Run: ``gunicorn -c gunicorn.conf.py app:server``.
"""

from __future__ import annotations

import sys
from typing import Any

from ops.server import ProfileError, check_profile, start_worker
from settings import get_settings

_settings = get_settings()

bind = f"{_settings.host}:{_settings.port}"
workers = _settings.workers
threads = _settings.threads
worker_class = "gthread"  # Dash callbacks block on the database: threads overlap those waits
# No preload: each worker imports the app and opens its own database pool after the fork,
# so no connection is ever shared between processes.
preload_app = False
timeout = 60  # a worker silent for this long is killed and replaced by the master
graceful_timeout = 30
# Idle keep-alive connections stay open longer than the proxy's (nginx's upstream default is 60 s)
# and the pages' 5-s live poll: with 5 s, a connection closed by gunicorn just as the client
# reused it failed the request (ConnectionError in the load bench; a 502 behind nginx).
keepalive = 75
accesslog = None  # the app logs one line per request, with its request id (ops/logs.py)
errorlog = "-"
loglevel = _settings.log_level.lower()
# gunicorn's control socket is one path per user ($HOME/.gunicorn): two instances on a host
# would fight over it, and nothing here uses it.
control_socket_disable = True


def on_starting(server: Any) -> None:
    """Refuse SQLite with several workers (and a missing secret) before any worker starts."""
    try:
        check_profile(_settings, server.num_workers)
    except ProfileError as exc:
        sys.exit(f"watchfloor: {exc}")


def post_worker_init(worker: Any) -> None:
    """Configure logging and warm the columnar cache in each new worker."""
    start_worker(_settings)
