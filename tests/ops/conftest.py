"""The production profile as a child process: PostGIS, Redis and gunicorn workers."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, text

from ops.launch import free_port, start_gunicorn, stop_gunicorn, wait_ready
from security.apikeys import create_key
from store.engine import make_engine, session_scope
from store.migrate import upgrade

AGENCY = "DRILL-PD"


@dataclass
class Profile:
    """A running production profile: its URL, master process, database and an API key."""

    base_url: str
    proc: object
    engine: Engine
    api_key: str
    log_path: Path
    url: str


@pytest.fixture
def profile(postgis_url: str, redis_url: str, tmp_path: Path) -> Iterator[Profile]:
    """gunicorn with 3 workers on a fresh PostGIS schema, with Redis as the shared cache."""
    schema = f"p_{uuid.uuid4().hex[:12]}"
    admin = make_engine(postgis_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{postgis_url}?options={quote(f'-csearch_path={schema},public')}"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        key, _ = create_key(session=session, agency=AGENCY, label="drill")
    port = free_port()
    env = {
        "DATABASE_URL": url,
        "WATCHFLOOR_ENV": "production",
        # Production refuses the suite's cheap password hashes (tests/conftest.py).
        "WATCHFLOOR_PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY",
        "WATCHFLOOR_SECRET_KEY": secrets.token_hex(32),
        "WATCHFLOOR_REDIS_URL": redis_url,
        "WATCHFLOOR_PORT": str(port),
        "WATCHFLOOR_WORKERS": "3",
        "WATCHFLOOR_THREADS": "2",
        "WATCHFLOOR_LOG_FORMAT": "json",
        "WATCHFLOOR_DETECT_AFTER_INGEST": "false",
        # Export jobs (issue #7): files beside the test, small pages, a short heartbeat limit.
        "WATCHFLOOR_VAR_DIR": str(tmp_path),
        "WATCHFLOOR_EXPORT_CHUNK_ROWS": "10",
        "WATCHFLOOR_EXPORT_STALE_S": "4",
        # Plain HTTP on localhost: a Secure cookie would never come back to sign-in.
        "WATCHFLOOR_COOKIE_SECURE": "false",
    }
    log_path = tmp_path / "gunicorn.log"
    proc = start_gunicorn(env, log_path=log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield Profile(base, proc, engine, key, log_path, url)
    finally:
        stop_gunicorn(proc)
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
