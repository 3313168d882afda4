"""Run Alembic migrations programmatically and read the schema version."""

from __future__ import annotations

import logging
from typing import Any

from alembic import command
from alembic.config import Config
from geoalchemy2 import alembic_helpers
from sqlalchemy import Engine, inspect, text

from settings import PROJECT_ROOT
from store.spatial import ensure_spatial_extension

logger = logging.getLogger(__name__)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Compare only what the models own: SpatiaLite and PostGIS keep tables of their own."""
    if type_ == "table" and reflected and compare_to is None:
        return False
    # geoalchemy2's alembic helpers are not annotated (the package ships no types for them).
    keep = alembic_helpers.include_object(  # type: ignore[no-untyped-call]
        obj, name, type_, reflected, compare_to
    )
    return bool(keep)


def alembic_config() -> Config:
    """Return the Alembic configuration of this project."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "store" / "migrations"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the schema to ``revision`` and return the resulting schema version."""
    with engine.begin() as conn:
        ensure_spatial_extension(conn)
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    version = schema_version(engine)
    logger.info("schema at version %s", version)
    return version


def schema_version(engine: Engine) -> str | None:
    """Return the Alembic revision stamped in the database, or ``None`` when unversioned."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
