"""Liveness and readiness probes for load balancers and orchestrators (no sign-in)."""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import flask
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from settings import Settings
from store.columnar import warming
from store.migrate import alembic_config, schema_version

logger = logging.getLogger(__name__)

PROBE_ENDPOINTS = frozenset({"livez", "readyz"})


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """Return the newest migration of this code (the schema it needs)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def readiness(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Check what serving needs: the database, its schema at head, Redis when configured, and
    this process's events snapshot loaded (a worker that just started is "warming": a load
    balancer sends its traffic elsewhere until the first snapshot is in memory).

    Returns
    -------
    dict
        ``{"status": "ready" | "not ready", "checks": {name: "ok" | reason}}``; no counts and
        no URLs (the probe needs no sign-in).
    """
    checks: dict[str, str] = {}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        version, head = schema_version(engine), head_revision()
        checks["schema"] = "ok" if version == head else f"at {version}, code needs {head}"
    except Exception as exc:  # a probe reports, it never raises
        logger.warning("readiness: database unreachable (%s)", type(exc).__name__)
        checks["database"] = f"unreachable ({type(exc).__name__})"
    if settings.redis_url:
        from store.cache import redis_client

        try:
            redis_client(settings.redis_url).ping()
            checks["redis"] = "ok"
        except Exception as exc:
            logger.warning("readiness: Redis unreachable (%s)", type(exc).__name__)
            checks["redis"] = f"unreachable ({type(exc).__name__})"
    checks["snapshot"] = "warming" if warming(engine) else "ok"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "not ready", "checks": checks}


def register_probes(server: flask.Flask, engine: Engine, settings: Settings) -> None:
    """Add ``GET /livez`` (the process answers) and ``GET /readyz`` (it can serve)."""

    def livez() -> flask.Response:
        return flask.jsonify(status="alive")

    def readyz() -> flask.Response:
        body = readiness(engine, settings)
        return flask.make_response(flask.jsonify(body), 200 if body["status"] == "ready" else 503)

    server.add_url_rule("/livez", "livez", livez)
    server.add_url_rule("/readyz", "readyz", readyz)
