"""The audit log: record who did what to which object with what outcome; read and export it.

Other modules call :func:`record` inside the session of the action they audit, so the entry
commits (or rolls back) with it. Actions in use: ``signin``, ``signout``, ``user.add``,
``user.disable``, ``user.enable``, ``user.reset``, ``user.password``, ``map.filter``,
``flags.filter``, ``cell.view`` (a hexagon's events), ``event.view``, ``flag.view``,
``flag.change``, ``export``, ``briefing``, ``import`` (dashboard, command line and API),
``import.quarantine_download``, ``key.add``, ``key.revoke``, ``purge``, ``audit.export``,
``access.denied``, ``ogc.read``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.roles import Viewer
from exports.csvsafe import LINE_END, safe_cell
from rules.capabilities import Capability, can
from store.base import utcnow
from store.models import AuditEntry

Outcome = Literal["ok", "denied", "error"]
EXPORT_COLUMNS = ("id", "at", "username", "agency", "action", "object", "outcome", "details")
# What every reader of the log sees: who did what, when, with what outcome. The object and the
# details (file names, unmapped categories, filters, extents revealed) describe the material
# acted on, often another agency's TLP:RED: they are shown to the auditor role only.
SUMMARY_COLUMNS = ("id", "at", "username", "agency", "action", "outcome")
# The audit log is append-only and kept for years: no entry's details may grow with what a
# caller sends (issue #18: one drawn area wrote an 8 MB row). Longer details keep their short
# fields; each long value is replaced by its size and SHA-256.
DETAILS_MAX_CHARS = 8_192
_VALUE_MAX_CHARS = 1_024


def record(
    *,
    session: Session,
    viewer: Viewer,
    action: str,
    object: str = "",
    outcome: Outcome = "ok",
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry for ``viewer`` doing ``action`` on ``object``; the caller commits.

    Parameters
    ----------
    session
        The session of the audited action.
    viewer
        Who acted (``Viewer.system()`` for the command line and jobs).
    action
        A dotted verb, e.g. ``"export"`` or ``"flag.change"``.
    object
        What it was done to (an id, a user name, a file name); at most 256 characters kept.
    outcome
        ``"ok"``, ``"denied"`` or ``"error"``.
    details
        Anything else worth keeping (filters, row counts, format), stored as JSON.
    """
    entry = AuditEntry(
        at=utcnow(),
        username=viewer.username[:64],
        agency=viewer.agency[:64],
        action=action[:64],
        object=str(object)[:256],
        outcome=outcome,
        details=bounded_details(details) if details else None,
    )
    session.add(entry)
    session.flush()
    return entry


def bounded_details(details: dict[str, Any]) -> str:
    """Return ``details`` as JSON of at most :data:`DETAILS_MAX_CHARS` characters.

    Within the limit the JSON is as given. Beyond it, every top-level value longer than 1,024
    characters becomes ``{"omitted_chars": N, "sha256": HEX}``; if that is still too long, the
    whole entry becomes that form with the list of its keys.
    """
    text = _dumps(details)
    if len(text) <= DETAILS_MAX_CHARS:
        return text
    short = {}
    for key, value in details.items():
        part = _dumps(value)
        short[str(key)[:64]] = value if len(part) <= _VALUE_MAX_CHARS else _omitted(part)
    text = _dumps(short)
    if len(text) <= DETAILS_MAX_CHARS:
        return text
    whole = _dumps(details)
    return _dumps({**_omitted(whole), "keys": sorted(str(k)[:64] for k in details)[:50]})


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def _omitted(text: str) -> dict[str, Any]:
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return {"omitted_chars": len(text), "sha256": digest}


def entries(
    *,
    session: Session,
    since: datetime | None = None,
    action: str | None = None,
    username: str | None = None,
    limit: int | None = None,
) -> list[AuditEntry]:
    """Return audit entries, newest first, optionally filtered."""
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if username is not None:
        stmt = stmt.where(AuditEntry.username == username)
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())


def columns_for(viewer: Viewer) -> tuple[str, ...]:
    """Return the audit log columns ``viewer`` may read: all for the auditor, else the summary.

    Parameters
    ----------
    viewer
        Who reads the log (an administrator, an auditor, or the command line's system viewer).

    Returns
    -------
    tuple of str
        :data:`EXPORT_COLUMNS` with the ``AUDIT_DETAILS`` capability, else :data:`SUMMARY_COLUMNS`.
    """
    return EXPORT_COLUMNS if can(viewer, Capability.AUDIT_DETAILS) else SUMMARY_COLUMNS


def to_csv(rows: list[AuditEntry], columns: tuple[str, ...] = EXPORT_COLUMNS) -> str:
    """Return ``rows`` as CSV text with a header (formula-like cells neutralised as text).

    Parameters
    ----------
    rows
        Audit entries.
    columns
        The columns written, in order (:func:`columns_for` the reader).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=LINE_END)  # the default, said: CRs are quoted
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(getattr(row, col)) for col in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    text = value.isoformat() if isinstance(value, datetime) else "" if value is None else str(value)
    # A spreadsheet would run "=..." as a formula: user names and objects are user input.
    return str(safe_cell(text))
