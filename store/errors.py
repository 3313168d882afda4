"""Errors raised by the store."""

from __future__ import annotations


class StoreError(RuntimeError):
    """The database cannot be opened or used as configured."""


class SpatialExtensionMissing(StoreError):
    """SpatiaLite or PostGIS is not available to the database."""
