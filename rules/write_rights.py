"""Who may write what: the sources a user may import for, and the stored records it may change.

One rule for every import (dashboard panel, ``manage.py ingest --as USER``, the partner API):

- **Source.** An importer imports for its own agency, or — center staff with the import
  capability only — for an agency that has delegated its imports to the center
  (``WATCHFLOOR_IMPORT_DELEGATIONS``). The dashboard offers exactly these sources as a list;
  anything else is refused before a file is read. The command line without ``--as`` and the
  maintenance jobs act as the system and may import for any source.
- **Records.** An import may create new records and change existing ones that its importer may
  *see* (:func:`rules.visibility.visible_clause`, the one visibility rule). A row that would
  touch a record its importer may not see is quarantined with :data:`NOT_WRITABLE`, whose words
  are the same for every such row: it does not say whether a hidden record exists or why.
- **Caveats.** Only the owner (an importer of the source agency itself, or the system) may lower
  a record's handling caveat. Anyone else's update keeps the stricter of the stored and the new
  caveat (:func:`domain.caveats.stricter_sql`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import column, false, func, not_, table
from sqlalchemy.engine import Dialect

from domain.caveats import stricter_sql
from domain.roles import Role, Viewer
from rules.capabilities import Capability, can
from rules.visibility import visible_clause

# Quarantine reason of a row whose record the importer may not write, and its one detail text.
NOT_WRITABLE = "not_writable"
NOT_WRITABLE_DETAIL = "this id cannot be written by your agency for this source"


class SourceNotAllowed(ValueError):
    """The importer may not import for the named source."""


def import_sources(viewer: Viewer, *, host_agency: str, delegations: Iterable[str]) -> list[str]:
    """Return the sources ``viewer`` may import for: its own agency first, then delegations.

    Examples
    --------
    >>> analyst = Viewer("ana", Role.ANALYST, "MA-CFC")
    >>> import_sources(analyst, host_agency="MA-CFC", delegations=["BPD", "MA-CFC"])
    ['MA-CFC', 'BPD']
    >>> import_sources(Viewer("pat", Role.PARTNER, "BPD"), host_agency="MA-CFC", delegations=["X"])
    []
    """
    if viewer.role is Role.SYSTEM:
        return []  # any source: there is no list to choose from
    if not viewer.agency or not can(viewer, Capability.IMPORT):
        return []
    sources = [viewer.agency]
    # Delegations are made to the center: its own staff import for those agencies.
    if viewer.is_center_staff and viewer.agency == host_agency:
        sources += [d for d in dict.fromkeys(delegations) if d and d != viewer.agency]
    return sources


def check_source(
    viewer: Viewer, source: str, *, host_agency: str, delegations: Iterable[str]
) -> str:
    """Return ``source`` when ``viewer`` may import for it, else raise :class:`SourceNotAllowed`."""
    if viewer.role is Role.SYSTEM:
        return source
    allowed = import_sources(viewer, host_agency=host_agency, delegations=delegations)
    if source not in allowed:
        choices = ", ".join(allowed) if allowed else "none"
        raise SourceNotAllowed(
            f"{viewer.username} may not import for {source!r} (sources you may choose: {choices})"
        )
    return source


def owns(viewer: Viewer, source: str) -> bool:
    """Whether ``viewer`` owns the records of ``source`` (may lower their caveats)."""
    return viewer.role is Role.SYSTEM or (bool(viewer.agency) and viewer.agency == source)


@dataclass(frozen=True)
class RowGuard:
    """The write rule of one import as SQL over the stored table, for the bulk upsert.

    ``hidden`` selects stored rows the importer may not change (``None``: it may change all);
    ``set_sql`` replaces the new value of a column on update (the stricter caveat).
    """

    hidden: str | None = None
    set_sql: dict[str, str] = field(default_factory=dict)


def row_guard(viewer: Viewer, source: str, *, table_name: str, dialect: Dialect) -> RowGuard:
    """Return the SQL form of the write rule for ``viewer`` importing ``source`` into a table.

    The owner (and the system) may change every record of the source, caveats included.
    Anyone else may change only what :func:`rules.visibility.visible_clause` lets it see,
    and never lowers a caveat.
    """
    if owns(viewer, source):
        return RowGuard()
    stored = table(table_name, column("handling"), column("source_agency"))
    # A NULL caveat or agency counts as not visible, as in every read.
    clause = not_(func.coalesce(visible_clause(viewer, stored.c), false()))
    hidden = str(clause.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    handling = f"{table_name}.handling"
    keep = {"handling": stricter_sql(handling, "excluded.handling")}
    return RowGuard(hidden=hidden, set_sql=keep)
