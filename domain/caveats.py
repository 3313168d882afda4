"""Handling caveats: ordering, and the marking a product carries."""

from __future__ import annotations

from collections.abc import Iterable

from domain.vocab import HANDLING_CAVEATS

_RANK = {caveat: i for i, caveat in enumerate(HANDLING_CAVEATS)}
# The visibility rule's data (rules/visibility.py compiles it to SQL and to Python): caveats every
# signed-in user sees, and those fusion-center staff see too. Anything else only its source agency.
OPEN_CAVEATS = ("TLP:CLEAR", "TLP:GREEN")
CENTER_CAVEATS = (*OPEN_CAVEATS, "TLP:AMBER", "LES", "TLP:AMBER+STRICT")


def most_restrictive(caveats: Iterable[str]) -> str:
    """Return the most restrictive caveat; unknown ones count as the most restrictive of all.

    Examples
    --------
    >>> most_restrictive(["TLP:GREEN", "TLP:AMBER"])
    'TLP:AMBER'
    >>> most_restrictive([])
    'TLP:CLEAR'
    """
    worst = "TLP:CLEAR"
    for caveat in caveats:
        if caveat not in _RANK:
            return "TLP:RED"
        if _RANK[caveat] > _RANK[worst]:
            worst = caveat
    return worst


def rank_sql(expr: str) -> str:
    """Return SQL ranking the caveat in ``expr`` like :func:`most_restrictive` (unknown = RED).

    Built from the same ordered vocabulary, so the SQL and the Python rule cannot drift apart.

    Examples
    --------
    >>> rank_sql("x").startswith("CASE x WHEN 'TLP:CLEAR' THEN 0")
    True
    """
    whens = " ".join(f"WHEN '{caveat}' THEN {rank}" for caveat, rank in _RANK.items())
    return f"CASE {expr} {whens} ELSE {_RANK['TLP:RED']} END"


def stricter_sql(stored: str, incoming: str) -> str:
    """Return SQL choosing the more restrictive of two caveat expressions (``incoming`` on a tie).

    Examples
    --------
    >>> "THEN b ELSE a END" in stricter_sql("a", "b")
    True
    """
    return f"CASE WHEN {rank_sql(incoming)} >= {rank_sql(stored)} THEN {incoming} ELSE {stored} END"
