"""Reads for detection and for the follow-up queue, all through the visibility filter.

Notes
-----
Flags obey the event rule (rules/visibility.py) through their own ``handling`` and
``source_agency``: a flag carries the most restrictive caveat of the events and sites it is built
from, and as agency the one agency owning all of its non-open items (empty when several do). So a
viewer sees a flag only when the viewer may see every event and site in it; with several owning
agencies the rule fails closed (only a viewer cleared for the caveat itself sees the flag).

A flag's statistics (``analytics.flags.STATISTIC_FIELDS``: expected, p, q, priority) come from
the whole detection run, so they pass :func:`rules.statistics.may_see_statistics` here, once,
for every product built on these reads (queue, detail, map, exports, OGC, briefing, alerts):
a viewer who may not see every event class of the run gets the flag with those figures set to
``None`` and :data:`rules.statistics.STATISTICS_WITHHELD` in their place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from analytics.flags import STATISTIC_FIELDS
from domain.roles import Viewer
from rules.statistics import STATISTICS_WITHHELD, may_see_statistics
from rules.visibility import visible_clause
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
    "statistics",
    "cells",
    "lon",
    "lat",
    "site_lon",
    "site_lat",
)


def statistics_shown(viewer: Viewer, explanation: Mapping[str, Any]) -> bool:
    """Return whether ``viewer`` may see the statistics of a flag with this explanation."""
    return may_see_statistics(viewer, explanation.get("inputs"))


def plain_summary(
    *,
    observed: int,
    cells: int,
    site_name: str | None,
    site_sector: str | None,
    site_tier: int | None,
    distance_m: float | None,
) -> str:
    """Return a flag's summary without statistics, then the statement that they are withheld.

    Everything in it comes from the flag's own events and sites, which its viewer may see.

    Examples
    --------
    >>> plain_summary(observed=9, cells=2, site_name="Logan", site_sector="Transportation",
    ...               site_tier=1, distance_m=120.4).split(". ")[0]
    '9 events in 2 cells; nearest site Logan (Transportation, tier 1) at 120 m'
    """
    text = f"{observed} events in {cells} cells"
    if site_name:
        text += f"; nearest site {site_name} ({site_sector}, tier {site_tier})"
        text += f" at {distance_m:.0f} m"
    return f"{text}. {STATISTICS_WITHHELD}"


def _withheld_explanation(flag: Flag, explanation: dict[str, Any]) -> dict[str, Any]:
    """Return ``explanation`` with every figure that depends on the whole run set to ``None``."""
    out = {**explanation, **dict.fromkeys(STATISTIC_FIELDS)}
    # A category seen only in the baseline of the flag's cells may be a hidden report's: only
    # those of the flag's own window events (which its viewer may see) stay.
    out["by_category"] = {
        cat: {**v, "expected": None}
        for cat, v in explanation.get("by_category", {}).items()
        if v.get("observed")
    }
    site = (explanation.get("sites") or [{}])[0]
    out["summary"] = plain_summary(
        observed=flag.observed,
        cells=len(json.loads(flag.cells)),
        site_name=site.get("name"),
        site_sector=site.get("sector"),
        site_tier=site.get("tier"),
        distance_m=site.get("distance_m"),
    )
    return out


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
    shown_rows, withheld_rows = [], []
    for flag, name, sector, tier, s_lon, s_lat in session.execute(stmt).all():
        explanation = json.loads(flag.explanation)
        row = {
            **{c: getattr(flag, c) for c in QUEUE_COLUMNS if hasattr(Flag, c)},
            "id": flag.public_id,
            "site_name": name,
            "site_sector": sector,
            "site_tier": tier,
            "site_lon": s_lon,
            "site_lat": s_lat,
            "summary": explanation.get("summary", ""),
            "statistics": None,
            "cells": [int(c) for c in json.loads(flag.cells)],
        }
        if statistics_shown(viewer, explanation):
            shown_rows.append(row)
            continue
        row.update(dict.fromkeys(("priority", "expected", "q_value")))
        row["statistics"] = STATISTICS_WITHHELD
        row["summary"] = plain_summary(
            observed=flag.observed,
            cells=len(row["cells"]),
            site_name=name,
            site_sector=sector,
            site_tier=tier,
            distance_m=flag.nearest_distance_m,
        )
        withheld_rows.append(row)
    # Withheld flags follow, newest first: their order must not reveal their hidden priority.
    withheld_rows.sort(key=lambda r: (-r["last_event_at"].timestamp(), r["id"]))
    frame = pd.DataFrame(shown_rows + withheld_rows, columns=list(QUEUE_COLUMNS))
    return frame.astype(dict.fromkeys(("priority", "expected", "q_value"), "float64"))


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
    explanation = json.loads(flag.explanation)
    shown = statistics_shown(viewer, explanation)
    if not shown:
        explanation = _withheld_explanation(flag, explanation)
    explanation.pop("inputs", None)  # which classes the run read is itself not for viewers
    return {
        "id": flag.public_id,
        "fingerprint": flag.fingerprint,
        "status": flag.status,
        "disposition": flag.disposition,
        "assignee": flag.assignee,
        "snoozed_until": flag.snoozed_until,
        "priority": flag.priority if shown else None,
        "statistics": None if shown else STATISTICS_WITHHELD,
        "handling": flag.handling,
        "recurrences": flag.recurrences,
        "detections": flag.detections,
        "event_ids": json.loads(flag.event_ids),
        "explanation": explanation,
        "history": [
            {
                "at": h.at,
                "actor": h.actor,
                "action": h.action,
                "from_status": h.from_status,
                "to_status": h.to_status,
                "note": h.note,
                "details": _history_details(h.details, shown),
            }
            for h in history
        ],
    }


def _history_details(details: str | None, shown: bool) -> dict[str, Any] | None:
    """Return a history row's details; detection's q value only with the statistics."""
    if not details:
        return None
    out: dict[str, Any] = json.loads(details)
    if not shown:
        out.pop("q_value", None)
    return out
