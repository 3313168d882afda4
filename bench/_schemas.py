"""A throw-away PostgreSQL schema for one benchmark: created, handed over as a URL, dropped."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import text

from store.engine import dispose_engines, make_engine


def schema_url(base_url: str, schema: str) -> str:
    """``base_url`` with every connection's ``search_path`` set to ``schema`` (then public)."""
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options={quote(f'-csearch_path={schema},public')}"


@contextmanager
def postgis_schema(base_url: str, prefix: str) -> Iterator[str]:
    """Create an empty schema named ``<prefix>_<random>``; yield its URL; drop it afterwards.

    The engines the app's code cached for the URL are disposed of before the drop, so no open
    connection holds the schema.
    """
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema_url(base_url, schema)
    finally:
        dispose_engines()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
