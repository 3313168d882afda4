"""Reads of the live watch desk: the data version, the newest events and the flag alerts.

Every read goes through the visibility filter; the data version is the one exception, as it
says only *that* something changed (a random token), never what.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain.feed import UNSEEN_COUNTED
from domain.roles import Viewer
from rules.visibility import visible_clause
from store.columnar import event_columns
from store.models import DataVersion, Event, Flag, Site
from store.models.version import EVENT_VERSION_SLOTS, combined_token
from store.public_ids import is_public_id
from store.queries.flags import statistics_shown


@dataclass(frozen=True)
class FeedItem:
    """One event of the feed: what a watch officer scans (no description).

    ``id`` (the integer key) stays on the server, to tell unseen items; the page gets
    ``public_id`` only (:mod:`store.public_ids`).
    """

    id: int
    occurred_at: datetime
    kind: str
    category: str
    place: str
    source_agency: str
    handling: str
    public_id: str = ""


@dataclass(frozen=True)
class FlagAlert:
    """A flag that is new or escalated (more events, or reopened) since the user last looked.

    ``id`` stays on the server; the page shows and keeps ``public_id`` only.
    """

    id: int
    escalated: bool
    priority: float | None  # None: withheld from this viewer (store.queries.flags)
    observed: int
    site_name: str
    last_detected_at: datetime
    public_id: str = ""


def data_version(*, session: Session) -> str:
    """Return ``"<events token>.<flags token>"``: it changes whenever an event or flag does.

    Notes
    -----
    One indexed read of a few rows; the tokens are replaced by database triggers (migrations
    ``i4_data_versions``, ``i8_user_prefs`` and ``i10_events_version_slots``: the events token
    combines its slots).
    """
    rows = session.execute(
        select(DataVersion.name, DataVersion.token).where(
            DataVersion.name.in_((*EVENT_VERSION_SLOTS, "flags"))
        )
    ).all()
    events = [token for name, token in rows if name in EVENT_VERSION_SLOTS]
    flags = [token for name, token in rows if name == "flags"]
    return ".".join((str(combined_token(events)) if events else "", str(flags[0]) if flags else ""))


def live_version(*, session: Session) -> str:
    """Return ``"<events token>.<flags token>"`` for the live poll, the events part from this
    process's snapshot (``store.columnar``; within its bounded lag no read).

    The redraws a new version fires ask for a snapshot at least as new
    (``store.columnar.want_version``): handing on snapshot tokens rather than the database's
    newest keeps the versions asked for few (one per worker per lag, not one per write) and
    already covered where they came from.
    """
    flags = session.execute(
        select(DataVersion.token).where(DataVersion.name == "flags")
    ).scalar_one_or_none()
    return f"{event_columns(session=session).token}.{'' if flags is None else flags}"


def next_version(version: str, current: str | None, *, drawn: str | None) -> str | None:
    """Return the data version a live poll hands on, or ``None`` when nothing is to redraw.

    Parameters
    ----------
    version
        The data version just read (:func:`data_version`).
    current
        The version the page has.
    drawn
        The events token of the snapshot the page's map was last drawn from (``None``: no map
        yet). A worker's snapshot may lag the database by up to ``WATCHFLOOR_SNAPSHOT_MAX_LAG``,
        so a redraw right after a write can still show the older data: the poll hands the same
        version on again (Dash redraws on every value it is given) until the map caught up.

    Examples
    --------
    >>> next_version("a.f", "a.f", drawn="a") is None
    True
    >>> next_version("b.f", "a.f", drawn="a"), next_version("b.f", "b.f", drawn="a")
    ('b.f', 'b.f')
    """
    if version != current:
        return version
    if drawn is not None and drawn != version.split(".", 1)[0]:
        return version
    return None


def _place(location_text: str | None, lat: float, lon: float) -> str:
    return (
        location_text.strip()
        if location_text and location_text.strip()
        else f"{lat:.4f}, {lon:.4f}"
    )


def feed_items(*, session: Session, viewer: Viewer, limit: int) -> list[FeedItem]:
    """Return the ``limit`` newest events ``viewer`` may see, newest (last stored) first.

    Parameters
    ----------
    session
        The session.
    viewer
        Who is asking.
    limit
        How many items at most.
    """
    stmt = (
        select(
            Event.id,
            Event.occurred_at,
            Event.kind,
            Event.category,
            Event.location_text,
            Event.lat,
            Event.lon,
            Event.source_agency,
            Event.handling,
            Event.public_id,
        )
        .where(visible_clause(viewer, Event))
        .order_by(Event.id.desc())
        .limit(max(0, limit))
    )
    return [
        FeedItem(
            id=r.id,
            occurred_at=r.occurred_at,
            kind=r.kind,
            category=r.category,
            place=_place(r.location_text, r.lat, r.lon),
            source_agency=r.source_agency,
            handling=r.handling,
            public_id=r.public_id,
        )
        for r in session.execute(stmt)
    ]


def seen_event_key(*, session: Session, viewer: Viewer, public_id: str) -> int | None:
    """Return the key of the visible event with ``public_id`` (``None`` if none).

    The feed's acknowledgement comes back from the page as a public id; the "seen" mark kept
    in the user's preferences is the integer key, which the page never holds.
    """
    if not is_public_id(public_id):
        return None
    stmt = select(Event.id).where(Event.public_id == public_id, visible_clause(viewer, Event))
    found = session.execute(stmt).scalar_one_or_none()
    return None if found is None else int(found)


def newest_event_id(*, session: Session, viewer: Viewer) -> int:
    """Return the id of the newest event ``viewer`` may see (0 when there is none)."""
    stmt = select(func.max(Event.id)).where(visible_clause(viewer, Event))
    return int(session.execute(stmt).scalar_one() or 0)


def unseen_count(
    *, session: Session, viewer: Viewer, after_id: int, at_most: int = UNSEEN_COUNTED
) -> int:
    """Return how many events ``viewer`` may see were stored after event ``after_id``.

    Counts at most ``at_most + 1`` (more than ``at_most`` reads as ``at_most + 1``): a page that
    was never acknowledged through a busy shift would otherwise count every event since, every
    five seconds, on every open dashboard.
    """
    newer = (
        select(Event.id)
        .where(Event.id > after_id, visible_clause(viewer, Event))
        .limit(at_most + 1)
        .subquery()
    )
    return int(session.execute(select(func.count()).select_from(newer)).scalar_one())


def flag_alerts(
    *, session: Session, viewer: Viewer, since: datetime | None, limit: int = 20
) -> list[FlagAlert]:
    """Return the open flags ``viewer`` may see that detection created or escalated after ``since``.

    A flag is escalated when detection added events to it or reopened it (both move
    ``last_detected_at``); analysts' follow-up actions do not raise alerts. ``since=None``
    (a user who never acknowledged) returns every open flag. Most recent first.
    """
    stmt = (
        select(
            Flag.id,
            Flag.first_detected_at,
            Flag.last_detected_at,
            Flag.priority,
            Flag.observed,
            Flag.explanation,
            Site.name,
            Flag.public_id,
        )
        .outerjoin(Site, Site.id == Flag.nearest_site_id)
        .where(Flag.status != "closed", visible_clause(viewer, Flag))
        .order_by(Flag.last_detected_at.desc(), Flag.id.desc())
        .limit(limit)
    )
    if since is not None:
        stmt = stmt.where(Flag.last_detected_at > since)
    return [
        FlagAlert(
            id=r.id,
            escalated=r.last_detected_at > r.first_detected_at,
            priority=r.priority if statistics_shown(viewer, json.loads(r.explanation)) else None,
            observed=r.observed,
            site_name=r.name or "",
            last_detected_at=r.last_detected_at,
            public_id=r.public_id,
        )
        for r in session.execute(stmt)
    ]
