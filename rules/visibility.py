"""The single visibility filter: which events and sites a viewer may see.

Every read path in the store (points, hex counts, timelines, details, exports, the API) adds
:func:`visible_clause` to its WHERE clause, so a count can never include what its viewer could not
open.

Notes
-----
Rules (Traffic Light Protocol 2.0, see docs/domain.md):

- ``TLP:CLEAR`` and ``TLP:GREEN``: every signed-in user.
- ``TLP:AMBER`` and ``LES`` (law enforcement sensitive): fusion-center staff, and the source agency.
- ``TLP:AMBER+STRICT``: shared with the fusion center as an organisation: center staff and the
  source agency; never other partners.
- ``TLP:RED``: the source agency only (named recipients are not modelled yet).
- Unknown caveats are treated as ``TLP:RED``: fail closed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, or_, true
from sqlalchemy.sql.elements import ColumnElement

from domain.caveats import CENTER_CAVEATS, OPEN_CAVEATS
from domain.roles import Role, Viewer


def visible_clause(viewer: Viewer, model: Any) -> ColumnElement[bool]:
    """Return the SQL condition selecting the rows of ``model`` that ``viewer`` may see.

    Parameters
    ----------
    viewer
        Who is asking.
    model
        A mapped class (or aliased table) with ``handling`` and ``source_agency`` columns.

    Returns
    -------
    sqlalchemy.sql.elements.ColumnElement
        A boolean clause for the WHERE of any query over ``model``.
    """
    if viewer.role is Role.SYSTEM:
        return true()
    if not viewer.agency:
        return false()
    allowed = CENTER_CAVEATS if viewer.is_center_staff else OPEN_CAVEATS
    return or_(model.handling.in_(allowed), model.source_agency == viewer.agency)


def may_see(viewer: Viewer, *, handling: str, source_agency: str) -> bool:
    """Return whether ``viewer`` may see one row; the Python twin of :func:`visible_clause`."""
    if viewer.role is Role.SYSTEM:
        return True
    if not viewer.agency:  # as visible_clause: a viewer without an agency sees nothing
        return False
    if source_agency == viewer.agency:
        return True
    allowed = CENTER_CAVEATS if viewer.is_center_staff else OPEN_CAVEATS
    return handling in allowed


def visibility_class(viewer: Viewer) -> str:
    """Return a name shared by exactly the viewers who see the same rows (cache keys).

    Two viewers with the same class get the same answer from :func:`visible_clause` and
    :func:`may_see` for every row: the agency and whether the role is center staff decide.
    """
    if viewer.role is Role.SYSTEM:
        return "system:*"
    if not viewer.agency:
        return "none:"
    return f"{'center' if viewer.is_center_staff else 'partner'}:{viewer.agency}"
