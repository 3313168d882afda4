"""Reads for detection and for the follow-up queue, all through the visibility filter.

Notes
-----
Flags obey the event rule (security/visibility.py) through their own ``handling`` and
``source_agency``: a flag carries the most restrictive caveat of the events and sites it is built
from, and as agency the one agency owning all of its non-open items (empty when several do). So a
viewer sees a flag only when the viewer may see every event and site in it; with several owning
agencies the rule fails closed (only a viewer cleared for the caveat itself sees the flag).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from security.roles import Viewer
from security.visibility import visible_clause
from store.models import Event, Flag, FlagHistory, Site
from store.public_ids import is_public_id

DETECTION_COLUMNS = ("id", "cell", "occurred_at", "kind", "category", "handling", "source_agency")
QUEUE_COLUMNS = (
    "id",
    "priority",
    "status",
    "disposition",
    "assignee",
    "snoozed_until",
    "observed",
    "expected",
    "q_value",
    "site_name",
    "site_sector",
    "site_tier",
    "nearest_distance_m",
    "window_end",
    "last_event_at",
    "handling",
    "recurrences",
    "summary",
    "cells",
    "lon",
    "lat",
    "site_lon",
    "site_lat",
)


def detection_events(
    *, session: Session, viewer: Viewer, start_at: datetime, end_at: datetime
) -> pd.DataFrame:
    """Return the visible events in ``[start_at, end_at)`` in the columns detection needs.

    Returns
    -------
    pandas.DataFrame
        Columns ``DETECTION_COLUMNS``; ``cell`` is int64 and ``occurred_at`` UTC.
    """
    cols = [getattr(Event, name) for name in DETECTION_COLUMNS]
    stmt = select(*cols).where(
        visible_clause(viewer, Event), Event.occurred_at >= start_at, Event.occurred_at < end_at
    )
    frame = pd.DataFrame(session.execute(stmt).all(), columns=list(DETECTION_COLUMNS))
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame.astype({"id": "int64", "cell": "int64"})


def flag_rows(
    *,
    session: Session,
    viewer: Viewer,
    statuses: tuple[str, ...] | None = None,
    now: datetime | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Return the visible flags, highest priority first, for the queue and the map.

    Parameters
    ----------
    session
        Open session.
    viewer
        Who is asking: only flags built wholly from what the viewer may see.
    statuses
        Keep only these statuses (``None``: all).
    now
        When given, flags snoozed past ``now`` are left out.
    limit
        Most rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``QUEUE_COLUMNS``; ``id`` is the flag's public id (what the queue, the map,
        exports and OGC show; :mod:`store.public_ids`), ``cells`` a list of int64 cells per flag.
    """
    stmt = (
        select(
            Flag,
            Site.name,
            Site.sector,
            Site.tier,
            Site.lon,
            Site.lat,
        )
        .outerjoin(Site, Site.id == Flag.nearest_site_id)
        .where(visible_clause(viewer, Flag))
        .order_by(Flag.priority.desc(), Flag.id)
        .limit(limit)
    )
    if statuses is not None:
        stmt = stmt.where(Flag.status.in_(statuses))
    if now is not None:
        stmt = stmt.where(or_(Flag.snoozed_until.is_(None), Flag.snoozed_until <= now))
    rows = []
    for flag, name, sector, tier, s_lon, s_lat in session.execute(stmt).all():
        rows.append(
            {
                **{c: getattr(flag, c) for c in QUEUE_COLUMNS if hasattr(Flag, c)},
                "id": flag.public_id,
                "site_name": name,
                "site_sector": sector,
                "site_tier": tier,
                "site_lon": s_lon,
                "site_lat": s_lat,
                "summary": json.loads(flag.explanation).get("summary", ""),
                "cells": [int(c) for c in json.loads(flag.cells)],
            }
        )
    return pd.DataFrame(rows, columns=list(QUEUE_COLUMNS))


def flag_detail(*, session: Session, viewer: Viewer, flag_id: str) -> dict[str, Any] | None:
    """Return one visible flag (``flag_id``: its public id) with explanation and history.

    ``None`` when no flag the viewer may see has that public id: a hidden flag and a missing one
    answer alike. The ``id`` returned is the public id too.
    """
    if not is_public_id(str(flag_id)):  # checked first: browser text never reaches the query
        return None
    flag = session.execute(
        select(Flag).where(Flag.public_id == str(flag_id), visible_clause(viewer, Flag))
    ).scalar_one_or_none()
    if flag is None:
        return None
    history = session.execute(
        select(FlagHistory).where(FlagHistory.flag_id == flag.id).order_by(FlagHistory.id)
    ).scalars()
    return {
        "id": flag.public_id,
        "fingerprint": flag.fingerprint,
        "status": flag.status,
        "disposition": flag.disposition,
        "assignee": flag.assignee,
        "snoozed_until": flag.snoozed_until,
        "priority": flag.priority,
        "handling": flag.handling,
        "recurrences": flag.recurrences,
        "detections": flag.detections,
        "event_ids": json.loads(flag.event_ids),
        "explanation": json.loads(flag.explanation),
        "history": [
            {
                "at": h.at,
                "actor": h.actor,
                "action": h.action,
                "from_status": h.from_status,
                "to_status": h.to_status,
                "note": h.note,
                "details": json.loads(h.details) if h.details else None,
            }
            for h in history
        ],
    }
