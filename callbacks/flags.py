"""Follow-up queue panel: list flags by priority, show one, apply an analyst's action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dash import Input, Output, State, callback, ctx, no_update

from callbacks import _context
from rules.capabilities import Capability, require
from security.audit import record
from store.base import utcnow
from store.engine import session_scope
from store.errors import StoreError
from store.flag_writes import follow_up
from store.queries.flags import flag_detail, flag_rows
from ui import ids
from ui.flags_queue import detail_children, grid_rows

# A snooze longer than a year is a typo, and past it a date overflows.
MAX_SNOOZE_HOURS = 24 * 365


@callback(
    Output(ids.FLAGS_GRID, "rowData"),
    Input(ids.FLAGS_VERSION, "data"),
    Input(ids.FLAGS_SHOW_ALL, "value"),
    Input(ids.FLAG_TOKEN, "data"),
    prevent_initial_call=False,
)
def load_flag_rows(
    _version: int | None, show_all: list[str] | None, _data: str | None
) -> list[dict[str, Any]]:
    """Fill the queue: open, awake flags by priority (or every flag)."""
    every = "all" in (show_all or [])
    viewer = require(Capability.VIEW_MAP, _context.viewer())
    with session_scope(_context.engine()) as session:
        if ctx.triggered_id == ids.FLAGS_SHOW_ALL:  # a filter the user applied: audited
            record(
                session=session,
                viewer=viewer,
                action="flags.filter",
                details={"show": "all" if every else "open"},
            )
        frame = flag_rows(
            session=session,
            viewer=viewer,
            statuses=None if every else ("new", "acknowledged", "assigned"),
            now=None if every else utcnow(),
        )
    return grid_rows(frame, _context.app_settings().timezone)


def _flag_id(selected: list[dict[str, Any]] | None) -> str | None:
    """The public id of the grid's first selected row, if it has a usable one.

    The browser only ever holds public ids (never a flag's integer key); the store checks the
    id's shape again before any query.
    """
    try:
        flag_id = selected[0]["id"] if selected else None
    except (KeyError, TypeError, IndexError):
        return None
    if isinstance(flag_id, int) and not isinstance(flag_id, bool):
        flag_id = str(flag_id)  # an integer key: looked up like any id, and found by none
    if not isinstance(flag_id, str) or not 0 < len(flag_id) <= 64 or "\x00" in flag_id:
        return None
    return flag_id


@callback(
    Output(ids.FLAG_DETAIL, "children"),
    Input(ids.FLAGS_GRID, "selectedRows"),
    Input(ids.FLAGS_VERSION, "data"),
    prevent_initial_call=True,
)
def show_flag_detail(selected: list[dict[str, Any]] | None, _version: int | None) -> list[Any]:
    """Show why the selected flag was raised, and its history."""
    viewer = require(Capability.VIEW_DETAILS, _context.viewer())
    flag_id = _flag_id(selected)
    if flag_id is None:
        return detail_children(None)
    with session_scope(_context.engine()) as session:
        detail = flag_detail(session=session, viewer=viewer, flag_id=flag_id)
        record(
            session=session,
            viewer=viewer,
            action="flag.view",
            object=str(flag_id),
            outcome="ok" if detail else "denied",
        )
    return detail_children(detail)


@callback(
    Output(ids.FLAG_MESSAGE, "children"),
    Output(ids.FLAGS_VERSION, "data"),
    Input(ids.FLAG_APPLY, "n_clicks"),
    State(ids.FLAGS_GRID, "selectedRows"),
    State(ids.FLAG_ACTION, "value"),
    State(ids.FLAG_DISPOSITION, "value"),
    State(ids.FLAG_ASSIGNEE, "value"),
    State(ids.FLAG_NOTE, "value"),
    State(ids.FLAG_SNOOZE_HOURS, "value"),
    State(ids.FLAGS_VERSION, "data"),
    prevent_initial_call=True,
)
def apply_flag_action(
    _clicks: int | None,
    selected: list[dict[str, Any]] | None,
    action: str | None,
    disposition: str | None,
    assignee: str | None,
    note: str | None,
    snooze_hours: float | None,
    version: int | None,
) -> tuple[str, Any]:
    """Apply the chosen action to the selected flag and refresh the queue."""
    viewer = require(Capability.MANAGE_FLAGS, _context.viewer())
    flag_id = _flag_id(selected)
    if flag_id is None or not action:
        return "Select a flag and an action.", no_update
    if snooze_hours is not None and not 0 <= snooze_hours <= MAX_SNOOZE_HOURS:
        return f"Snooze for 0 to {MAX_SNOOZE_HOURS:,} hours.", no_update
    until = utcnow() + timedelta(hours=float(snooze_hours)) if snooze_hours else None
    try:
        with session_scope(_context.engine()) as session:
            follow_up(
                session,
                flag_id=flag_id,
                viewer=viewer,
                action=action,
                disposition=disposition,
                assignee=assignee or None,
                note=note or None,
                snooze_until=until,
            )
            record(
                session=session,
                viewer=viewer,
                action="flag.change",
                object=str(flag_id),
                details={"action": action, "disposition": disposition, "assignee": assignee},
            )
    except StoreError as exc:
        return f"Not done: {exc}", no_update
    return f"Flag {flag_id}: {action} recorded.", (version or 0) + 1
