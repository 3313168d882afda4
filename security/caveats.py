"""Handling caveats: ordering, and the marking a product carries."""

from __future__ import annotations

from collections.abc import Iterable

from store.models.vocab import HANDLING_CAVEATS

_RANK = {caveat: i for i, caveat in enumerate(HANDLING_CAVEATS)}


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
