"""Read functions per aggregate; every one takes ``viewer`` and applies rules.visibility."""

from store.queries.events import (
    caveats_present,
    event_points,
    event_time_range,
    hex_counts,
)
from store.queries.filters import EventFilter
from store.queries.health import table_counts
from store.queries.hexagg import cell_bucket_counts, cell_counts
from store.queries.sites import site_points

__all__ = [
    "EventFilter",
    "caveats_present",
    "cell_bucket_counts",
    "cell_counts",
    "event_points",
    "event_time_range",
    "hex_counts",
    "site_points",
    "table_counts",
]
