"""Posting partner events to a running instance over HTTP, as a partner's system does."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta
from typing import Any


def post_events(base: str, key: str, tag: str, n: int, at: datetime) -> dict[str, Any]:
    """POST ``n`` SURVL events tagged ``tag`` (a minute apart from ``at``) with ``key``.

    Returns the 201 answer; anything else fails the caller.
    """
    body = [
        {
            "id": f"{tag}-{i}",
            "occurred_at": (at + timedelta(minutes=i)).isoformat(),
            "lat": 42.30 + i / 1000,
            "lon": -71.10 + i / 1000,
            "category": "SURVL",
            "address": f"{tag} street {i}",
        }
        for i in range(n)
    ]
    request = urllib.request.Request(
        base + "/api/v1/events",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        if resp.status != 201:
            raise AssertionError(f"POST /api/v1/events answered {resp.status}")
        return json.loads(resp.read())  # type: ignore[no-any-return]
