"""Flag writes: upsert by fingerprint and cell overlap, and follow-up actions with history.

Notes
-----
Identity of a flag across runs: a candidate first matches the flag with the same fingerprint;
failing that, a flag at the same resolution whose cells overlap the candidate's and whose newest
event is no older than one ``gap_s`` before the candidate's window (the same cluster, grown or
moved a little). A matched closed flag reopens when the candidate brings events it did not have;
a closed flag that overlaps but lies further back in time is linked (``related_flag_id``) from the
new flag. Functions take ``session`` keyword-only and never commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from analytics.flags import MIXED_AGENCIES, FlagCandidate
from domain.caveats import OPEN_CAVEATS, most_restrictive
from domain.flags import DISPOSITIONS, FLAG_STATUSES
from domain.roles import Viewer
from rules.visibility import visible_clause
from store.base import utcnow
from store.errors import StoreError
from store.models.flag import Flag, FlagHistory
from store.public_ids import is_public_id

# Allowed status changes by hand; detection reopens closed flags on its own.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "assigned", "closed"}),
    "acknowledged": frozenset({"assigned", "closed"}),
    "assigned": frozenset({"acknowledged", "closed"}),
    "closed": frozenset({"new"}),
}


class FlagNotFound(StoreError):
    """No flag with that public id that the viewer may see."""


# The assignee column's width (store.models.flag): PostgreSQL refuses longer text, SQLite not.
ASSIGNEE_MAX_CHARS = 128


class FlagTransitionError(StoreError):
    """A follow-up action that the flag's status does not allow."""


@dataclass
class UpsertCounts:
    """What one upsert did to the flags."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    reopened: int = 0
    flag_ids: list[int] = field(default_factory=list)


def _ints(text: str) -> set[int]:
    return {int(v) for v in json.loads(text)}


def _combine_visibility(a: tuple[str, str], b: tuple[str, str]) -> tuple[str, str]:
    """Return the visibility of the union of two flags' contents (see analytics.flags)."""
    (h_a, ag_a), (h_b, ag_b) = a, b
    handling = most_restrictive([h_a, h_b])
    if h_a in OPEN_CAVEATS:
        return handling, ag_b
    if h_b in OPEN_CAVEATS:
        return handling, ag_a
    return handling, ag_a if ag_a == ag_b else MIXED_AGENCIES


def _record(
    session: Session, flag: Flag, *, actor: str, action: str, at: datetime, **kwargs: Any
) -> None:
    details = kwargs.pop("details", None)
    session.add(
        FlagHistory(
            flag_id=flag.id,
            at=at,
            actor=actor,
            action=action,
            details=json.dumps(details) if details is not None else None,
            **kwargs,
        )
    )


def _apply(flag: Flag, cand: FlagCandidate, events: set[int], cells: set[int]) -> None:
    """Copy a candidate's figures onto ``flag``; cells and events are the union over time."""
    flag.priority = cand.priority
    flag.p_value = cand.p_value
    flag.q_value = cand.q_value
    flag.observed = cand.observed
    flag.expected = cand.expected
    flag.cells = json.dumps(sorted(cells))
    flag.event_ids = json.dumps(sorted(events))
    flag.site_ids = json.dumps(list(cand.site_ids))
    flag.nearest_site_id = cand.nearest_site_id
    flag.nearest_distance_m = cand.nearest_distance_m
    flag.explanation = json.dumps(cand.explanation)
    flag.lon, flag.lat = cand.lon, cand.lat
    flag.window_start = cand.window_start.to_pydatetime()
    flag.window_end = cand.window_end.to_pydatetime()
    flag.last_event_at = max(flag.last_event_at, cand.last_event_at.to_pydatetime())


def _match(
    cand: FlagCandidate, flags: Sequence[Flag], taken: set[int], gap_s: float
) -> tuple[Flag | None, Flag | None]:
    """Return ``(same flag, older closed flag to link)`` for a candidate."""
    for flag in flags:
        if flag.fingerprint == cand.fingerprint:
            return flag, None
    cells = set(cand.cells)
    best: tuple[int, int, Flag] | None = None
    link: Flag | None = None
    for flag in flags:
        if flag.res != cand.res or flag.id in taken:
            continue
        overlap = len(cells & _ints(flag.cells))
        if not overlap:
            continue
        recent = (cand.window_start.to_pydatetime() - flag.last_event_at).total_seconds() <= gap_s
        if recent and (best is None or (overlap, -flag.id) > best[:2]):
            best = (overlap, -flag.id, flag)
        elif not recent and flag.status == "closed":
            link = flag if link is None or flag.id > link.id else link
    return (best[2] if best else None), link


def upsert_flags(
    session: Session,
    candidates: Sequence[FlagCandidate],
    *,
    gap_s: float,
    actor: str = "detector",
    now: datetime | None = None,
) -> UpsertCounts:
    """Store flag candidates: create new flags, update grown ones, reopen recurring closed ones.

    Parameters
    ----------
    session
        Open session (not committed here).
    candidates
        From :func:`analytics.flags.build_flags`.
    gap_s
        Longest quiet time (seconds) after which an overlapping cluster is a new flag.
    actor
        Recorded in the history.
    now
        Detection time (default: now, UTC).
    """
    now = now or utcnow()
    counts = UpsertCounts()
    if not candidates:
        return counts
    earliest = min(c.window_start for c in candidates).to_pydatetime()
    stmt = select(Flag).where(
        or_(
            Flag.fingerprint.in_([c.fingerprint for c in candidates]),
            Flag.res.in_({c.res for c in candidates}),
        )
    )
    # Flags long closed only matter for linking; the window keeps this read bounded.
    stmt = stmt.where(Flag.last_event_at >= earliest.replace(year=earliest.year - 1))
    flags = list(session.execute(stmt).scalars())
    taken: set[int] = set()
    for cand in candidates:
        flag, link = _match(cand, flags, taken, gap_s)
        if flag is None:
            flag = _create(session, cand, now=now, actor=actor, link=link)
            flags.append(flag)
            counts.created += 1
        else:
            changed = _update(session, flag, cand, now=now, actor=actor)
            if changed == "reopened":
                counts.reopened += 1
            elif changed == "updated":
                counts.updated += 1
            else:
                counts.unchanged += 1
        taken.add(flag.id)
        counts.flag_ids.append(flag.id)
    return counts


def _create(
    session: Session, cand: FlagCandidate, *, now: datetime, actor: str, link: Flag | None
) -> Flag:
    flag = Flag(
        fingerprint=cand.fingerprint,
        status="new",
        res=cand.res,
        handling=cand.handling,
        source_agency=cand.source_agency,
        first_event_at=cand.first_event_at.to_pydatetime(),
        last_event_at=cand.last_event_at.to_pydatetime(),
        first_detected_at=now,
        last_detected_at=now,
        detections=1,
        recurrences=0,
        related_flag_id=link.id if link else None,
    )
    _apply(flag, cand, set(cand.event_ids), set(cand.cells))
    session.add(flag)
    session.flush()
    note = f"recurs where flag {link.public_id} was closed" if link else None
    _record(
        session,
        flag,
        actor=actor,
        action="detected",
        at=now,
        to_status="new",
        note=note,
        details={"events": cand.observed, "cells": len(cand.cells), "q_value": cand.q_value},
    )
    return flag


def _backfill_inputs(flag: Flag, cand: FlagCandidate) -> None:
    """Give a flag stored before runs recorded their inputs the figures of this run, and them.

    Its figures are withheld from every viewer until they come with the event classes they were
    computed from (rules.statistics); the history is untouched, as nothing new was found.
    """
    if json.loads(flag.explanation).get("inputs") is not None:
        return
    flag.priority, flag.p_value, flag.q_value = cand.priority, cand.p_value, cand.q_value
    flag.observed, flag.expected = cand.observed, cand.expected
    flag.explanation = json.dumps(cand.explanation)


def _update(session: Session, flag: Flag, cand: FlagCandidate, *, now: datetime, actor: str) -> str:
    events, cells = _ints(flag.event_ids), _ints(flag.cells)
    new_events = set(cand.event_ids) - events
    new_cells = set(cand.cells) - cells
    if not new_events and (not new_cells or flag.status == "closed"):
        _backfill_inputs(flag, cand)
        return "unchanged"  # the same data again: nothing to record
    reopen = flag.status == "closed"
    _apply(flag, cand, events | new_events, cells | new_cells)
    flag.handling, flag.source_agency = _combine_visibility(
        (flag.handling, flag.source_agency), (cand.handling, cand.source_agency)
    )
    flag.last_detected_at = now
    flag.detections += 1
    details = {"added_events": len(new_events), "added_cells": len(new_cells)}
    if reopen:
        flag.recurrences += 1
        _record(
            session,
            flag,
            actor=actor,
            action="reopened",
            at=now,
            from_status="closed",
            to_status="new",
            note=f"recurred after disposition {flag.disposition}",
            details=details,
        )
        flag.status, flag.disposition, flag.snoozed_until = "new", None, None
        return "reopened"
    _record(session, flag, actor=actor, action="updated", at=now, details=details)
    return "updated"


def _visible_flag(session: Session, flag_id: str, viewer: Viewer) -> Flag:
    # By public id (what the browser holds) and the viewer's visibility: a hidden flag and a
    # missing one give the same error.
    stmt = select(Flag).where(Flag.public_id == str(flag_id), visible_clause(viewer, Flag))
    flag = session.execute(stmt).scalar_one_or_none() if is_public_id(str(flag_id)) else None
    if flag is None:
        raise FlagNotFound(f"no flag {flag_id}")
    return flag


def change_status(
    session: Session,
    *,
    flag_id: str,
    viewer: Viewer,
    status: str,
    disposition: str | None = None,
    assignee: str | None = None,
    note: str | None = None,
) -> Flag:
    """Move a flag along new -> acknowledged -> assigned -> closed, recording who and when.

    Closing needs a disposition (actionable, benign, duplicate, referred); assigning an assignee.
    """
    if status not in FLAG_STATUSES:
        raise FlagTransitionError(f"unknown status {status!r}")
    flag = _visible_flag(session, flag_id, viewer)
    if status not in TRANSITIONS[flag.status]:
        raise FlagTransitionError(f"flag {flag_id}: {flag.status} -> {status} is not allowed")
    if status == "closed" and disposition not in DISPOSITIONS:
        raise FlagTransitionError(f"closing needs a disposition among {DISPOSITIONS}")
    if status == "assigned" and not (assignee or flag.assignee):
        raise FlagTransitionError("assigning needs an assignee")
    if assignee and len(assignee) > ASSIGNEE_MAX_CHARS:
        raise FlagTransitionError(f"an assignee is at most {ASSIGNEE_MAX_CHARS} characters")
    old = flag.status
    flag.status = status
    flag.disposition = disposition if status == "closed" else None
    if assignee:
        flag.assignee = assignee
    details = {"disposition": disposition, "assignee": assignee}
    _record(
        session,
        flag,
        actor=viewer.username,
        action="status",
        at=utcnow(),
        from_status=old,
        to_status=status,
        note=note,
        details={k: v for k, v in details.items() if v},
    )
    return flag


def add_note(session: Session, *, flag_id: str, viewer: Viewer, note: str) -> Flag:
    """Add an analyst's note to a flag's history."""
    if not note.strip():
        raise FlagTransitionError("empty note")
    flag = _visible_flag(session, flag_id, viewer)
    _record(session, flag, actor=viewer.username, action="note", at=utcnow(), note=note.strip())
    return flag


def snooze(session: Session, *, flag_id: str, viewer: Viewer, until: datetime | None) -> Flag:
    """Hide a flag from the queue until ``until`` (``None`` wakes it now)."""
    flag = _visible_flag(session, flag_id, viewer)
    flag.snoozed_until = until
    _record(
        session,
        flag,
        actor=viewer.username,
        action="snooze",
        at=utcnow(),
        details={"until": until.isoformat() if until else None},
    )
    return flag


def follow_up(
    session: Session,
    *,
    flag_id: str,
    viewer: Viewer,
    action: str,
    disposition: str | None = None,
    assignee: str | None = None,
    note: str | None = None,
    snooze_until: datetime | None = None,
) -> Flag:
    """Apply one queue action (``FOLLOW_UP_ACTIONS``) to a flag, recording who and when.

    ``flag_id`` is the flag's public id (what the queue holds in the browser); the flag is
    looked up by it and the viewer's visibility together.
    """
    if action == "note":
        return add_note(session, flag_id=flag_id, viewer=viewer, note=note or "")
    if action == "snooze":
        return snooze(session, flag_id=flag_id, viewer=viewer, until=snooze_until)
    status = {
        "acknowledge": "acknowledged",
        "assign": "assigned",
        "close": "closed",
        "reopen": "new",
    }.get(action)
    if status is None:
        raise FlagTransitionError(f"unknown action {action!r}")
    return change_status(
        session,
        flag_id=flag_id,
        viewer=viewer,
        status=status,
        disposition=disposition,
        assignee=assignee,
        note=note,
    )
