"""Retention: which SARs are due for review, purging them (audited), and old session records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from domain.roles import Viewer
from security.audit import record
from store.models import Event, EventRevision, UserSession

_CHUNK = 500


@dataclass(frozen=True)
class DueRecord:
    """One event past its review date."""

    id: int
    source_agency: str
    external_id: str
    kind: str
    occurred_at: datetime
    review_at: datetime


def due_for_review(*, session: Session, now: datetime) -> list[DueRecord]:
    """Return every event whose review date is at or before ``now``, oldest review first.

    Retention applies to every record whatever its caveat, so this reads as the system viewer
    would: it is a maintenance listing for administrators, never shown on the map.
    """
    stmt = (
        select(
            Event.id,
            Event.source_agency,
            Event.external_id,
            Event.kind,
            Event.occurred_at,
            Event.review_at,
        )
        .where(Event.review_at.is_not(None), Event.review_at <= now)
        .order_by(Event.review_at, Event.id)
    )
    return [DueRecord(*row) for row in session.execute(stmt)]


def purge(*, session: Session, viewer: Viewer, now: datetime, apply: bool) -> list[DueRecord]:
    """List (``apply=False``) or delete (``apply=True``) the events due for review; audited.

    Their revisions go with them. Returns the records that were (or would be) purged.
    """
    due = due_for_review(session=session, now=now)
    if apply and due:
        ids = [d.id for d in due]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            session.execute(delete(EventRevision).where(EventRevision.event_id.in_(chunk)))
            session.execute(delete(Event).where(Event.id.in_(chunk)))
    record(
        session=session,
        viewer=viewer,
        action="purge",
        object="events",
        details={
            "apply": apply,
            "due": len(due),
            "as_of": now.isoformat(),
            "ids": [d.id for d in due][:1000],
        },
    )
    return due


def prune_sessions(*, session: Session, now: datetime, max_hours: float, apply: bool) -> int:
    """Count (``apply=False``) or delete (``apply=True``) session records no cookie can name.

    A session cookie lives at most ``max_hours`` (``WATCHFLOOR_SESSION_MAX_HOURS``) from its
    sign-in, so a record opened before ``now - max_hours`` can never be used or ended again:
    its sign-in and sign-out stay in the audit log. Returns how many there are (or were).
    """
    stale = UserSession.created_at < now - timedelta(hours=max_hours)
    if not apply:
        return len(session.execute(select(UserSession.id).where(stale)).all())
    result = cast(CursorResult[Any], session.execute(delete(UserSession).where(stale)))
    return int(result.rowcount or 0)
