"""What every command shares: the configured engine, printing a result, reading an ISO time."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine


def configured_engine() -> Engine:
    """The engine of the configured database (``WATCHFLOOR_DATABASE_URL``)."""
    from settings import get_settings
    from store.engine import get_engine

    s = get_settings()
    return get_engine(s.database_url, s.spatialite_path)


def emit(args: argparse.Namespace, payload: dict[str, object], text: str) -> None:
    """Print ``payload`` as one JSON object with ``--json``, else ``text`` for a person."""
    out = json.dumps(payload, default=str) if getattr(args, "json", False) else text
    sys.stdout.write(out + "\n")


def parse_iso(value: str) -> datetime:
    """An ISO date or time as an aware datetime (UTC unless it says otherwise)."""
    from datetime import UTC

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
