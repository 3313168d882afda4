"""store.kept: one registry and one reset for every answer the read path keeps in process."""

from __future__ import annotations

from typing import Any

import store.columnar as columnar
import store.queries.hexagg as hexagg
import store.queries.points as points
import store.queries.sites as sites
from store.kept import forget_all, registered

# Each kept store of the read path, by the name it registers under.
KEPT: dict[str, tuple[Any, str]] = {
    "event snapshots": (columnar, "_CACHE"),
    "hexagon answers": (hexagg, "_MAIN"),
    "site answers": (sites, "_KEPT"),
    "place texts": (points, "_PLACES"),
}


def test_every_kept_store_is_registered() -> None:
    assert set(KEPT) <= set(registered())


def test_forget_all_empties_every_kept_store() -> None:
    for module, attribute in KEPT.values():
        kept = getattr(module, attribute)
        kept["sentinel"] = object()  # what a query would have kept
    columnar._STALE.add("sentinel")
    assert set(KEPT) <= set(forget_all())
    for name, (module, attribute) in KEPT.items():
        assert not getattr(module, attribute), f"{name} kept an answer"
    assert not columnar._STALE
