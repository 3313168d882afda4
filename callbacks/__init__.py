"""Thin Dash callbacks, grouped by panel; importing this package registers them."""

from callbacks import cells, map  # noqa: F401  (registers the map panel's callbacks)
