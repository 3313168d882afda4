"""Thin Dash callbacks, grouped by panel; importing this package registers them."""

from callbacks import (
    cells,  # noqa: F401  (registers the hexagon detail callbacks)
    filters,  # noqa: F401  (registers the filter panel callbacks)
    flags,  # noqa: F401  (registers the follow-up queue callbacks)
    live,  # noqa: F401  (registers the live watch desk callbacks)
    map,  # noqa: F401  (registers the map callbacks)
    upload,  # noqa: F401  (registers the upload panel callbacks)
)
