"""Prepare a database for serving: migrate, and load the demo kit where configured."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

from data_loaders.demo import seed_demo
from settings import Settings
from store.migrate import upgrade

logger = logging.getLogger(__name__)


def should_seed_demo(settings: Settings) -> bool:
    """Demo data goes into the embedded default unless turned off; elsewhere only on request."""
    if settings.seed_demo is not None:
        return settings.seed_demo
    return settings.is_sqlite


def prepare_database(engine: Engine, settings: Settings) -> None:
    """Bring the schema up to date and, on first run of the embedded default, load the demo kit."""
    upgrade(engine)
    if should_seed_demo(settings):
        loaded = [s for s in seed_demo(engine, settings) if not s.already_loaded]
        if loaded:
            logger.info("demo kit loaded: %d files", len(loaded))
