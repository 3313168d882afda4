"""Who may see a flag's statistics: the viewers who may see every event they were computed from.

Notes
-----
A flag's expected counts, p and q values and priority come from the whole detection run (the
window share of the whole area, the false-discovery control over every neighbourhood tested),
not only from the flag's own events. Detection records, in the flag's explanation, the distinct
``(handling, source_agency)`` classes of every event that run read (``inputs``); a viewer sees the
figures only when :func:`rules.visibility.may_see` lets the viewer see each class. Everyone
else sees the flag (when the flag rule lets them) with :data:`STATISTICS_WITHHELD` in place of
the figures. Flags stored before the classes were recorded have no ``inputs``: their figures are
withheld from everyone but the system until detection rewrites them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from domain.roles import Role, Viewer
from rules.visibility import may_see

STATISTICS_WITHHELD = "Statistics withheld: computed with reports your agency may not see."


def may_see_statistics(viewer: Viewer, inputs: Iterable[Sequence[str]] | None) -> bool:
    """Return whether ``viewer`` may see statistics computed from events of ``inputs``.

    Parameters
    ----------
    viewer
        Who is asking.
    inputs
        ``[handling, source_agency]`` of every class of event the statistics used; ``None``
        when not recorded (a flag stored before they were).

    Returns
    -------
    bool
        ``True`` for the system, and for a viewer who may see every class; ``False`` otherwise
        (and for unrecorded inputs: fail closed).

    Examples
    --------
    >>> partner = Viewer("p", Role.PARTNER, "A")
    >>> may_see_statistics(partner, [["TLP:GREEN", "B"], ["TLP:RED", "A"]])
    True
    >>> may_see_statistics(partner, [["TLP:GREEN", "A"], ["TLP:RED", "B"]])
    False
    >>> may_see_statistics(partner, None), may_see_statistics(Viewer.system(), None)
    (False, True)
    """
    if viewer.role is Role.SYSTEM:
        return True
    if inputs is None:
        return False
    return all(may_see(viewer, handling=str(h), source_agency=str(a)) for h, a in inputs)
