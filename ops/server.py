"""The production profile's checks and gunicorn hooks (``gunicorn.conf.py`` only wires them)."""

from __future__ import annotations

import logging
import threading

from settings import Settings
from store.columnar import warm_cache
from store.engine import get_engine

logger = logging.getLogger(__name__)


class ProfileError(RuntimeError):
    """A configuration the production profile refuses to start with."""


def check_profile(settings: Settings, workers: int) -> None:
    """Refuse configurations that would lose or corrupt data under several workers.

    Raises
    ------
    ProfileError
        SQLite with more than one worker (one writer at a time: concurrent imports and API
        posts would fail with "database is locked"), or a placeholder secret key (each worker
        would sign sessions and cache values with its own key).
    """
    if settings.is_sqlite and workers > 1:
        raise ProfileError(
            f"the embedded SQLite database serves one worker only, not {workers}: set "
            "DATABASE_URL=postgresql://... (PostGIS) for the production profile, or "
            "WATCHFLOOR_WORKERS=1"
        )
    if workers > 1 and settings.secret_key_is_placeholder:
        raise ProfileError(
            "WATCHFLOOR_SECRET_KEY must be set when several workers serve: every worker must "
            "sign sessions and cached values with the same key"
        )


def start_worker(settings: Settings) -> threading.Thread:
    """Set up logging in a fresh worker and warm its columnar cache in the background.

    Returns
    -------
    threading.Thread
        The warming thread (a daemon; the worker serves while it runs, only slower).
    """
    from ops.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    engine = get_engine(settings.database_url, settings.spatialite_path)
    thread = threading.Thread(target=warm_cache, args=(engine,), name="warm-cache", daemon=True)
    thread.start()
    return thread
