"""Query parameters of the read APIs -> the store's ``EventFilter``; bad values are 400s.

Parameters understood by ``/api/v1/export`` and the OGC items routes:

- ``start``, ``end``: ISO 8601 times (UTC unless they carry an offset); ``end`` is exclusive.
- ``datetime`` (OGC API - Features): an instant or a closed interval ``a/b``, ``../b``, ``a/..``.
- ``categories``, ``agencies``, ``caveats``, ``kinds``: comma-separated lists.
- ``bbox``: ``west,south,east,north`` in degrees (EPSG:4326).
- ``area``: ``region:NAME``, ``hazard:NAME`` or ``wkt:POLYGON((lon lat, ...))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta

import pandas as pd
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Engine

from api.errors import ApiError
from domain.roles import Viewer
from domain.vocab import EVENT_KINDS
from exports.service import build_filter
from layers.selection import SelectionError, area_from_option
from store.engine import session_scope
from store.queries.filters import EventFilter

FILTER_PARAMS = (
    "start",
    "end",
    "datetime",
    "categories",
    "agencies",
    "caveats",
    "bbox",
    "area",
    "kinds",
)
MAX_LIMIT = 10_000


def _after(value: str) -> str:
    """Return the instant 1 microsecond after ``value`` (ISO 8601), so ``value`` itself counts."""
    try:
        at = pd.Timestamp(value)
    except ValueError as exc:
        raise ApiError(400, f"datetime is not an ISO 8601 instant or interval: {value!r}") from exc
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    after: str = (at + timedelta(microseconds=1)).isoformat()
    return after


def _datetime_bounds(value: str) -> tuple[str | None, str | None]:
    """Split an OGC ``datetime`` value into (start, exclusive end).

    OGC API - Features intervals are closed (a feature at ``b`` is in ``a/b``) and an instant is
    the interval of that one instant, so the exclusive end is 1 microsecond (the stored
    resolution) after ``b``.
    """
    if "/" in value:
        first, _, last = value.partition("/")
        start = None if first in ("", "..") else first
        end = None if last in ("", "..") else last
        return start, (None if end is None else _after(end))
    return value, _after(value)


def query_filter(
    args: Mapping[str, str], *, viewer: Viewer | None = None, engine: Engine | None = None
) -> EventFilter:
    """Return the ``EventFilter`` the query parameters ``args`` describe.

    ``area`` is ``region:NAME``, ``hazard:NAME`` or ``wkt:POLYGON((...))`` as in
    ``manage.py export --area``; a region or hazard is looked up among the areas ``viewer`` may
    see in ``engine`` (an area filter without them is refused).

    Raises
    ------
    ApiError
        400 with a message naming the bad parameter.

    Examples
    --------
    >>> args = {"start": "2023-02-01", "bbox": "-71.2,42.2,-70.9,42.4", "kinds": "incident"}
    >>> f = query_filter(args)
    >>> f.window.start_at.isoformat(), f.bbox, f.kinds
    ('2023-02-01T00:00:00+00:00', (-71.2, 42.2, -70.9, 42.4), ('incident',))
    >>> query_filter({"datetime": "../2023-03-01T00:00:00Z"}).window.end_at.isoformat()
    '2023-03-01T00:00:00.000001+00:00'
    """
    start, end = args.get("start") or None, args.get("end") or None
    if args.get("datetime"):
        if start or end:
            raise ApiError(400, "give either datetime or start/end, not both")
        start, end = _datetime_bounds(args["datetime"])
    try:
        filters = build_filter(
            since=start,
            until=end,
            bbox=args.get("bbox") or None,
            categories=args.get("categories") or None,
            agencies=args.get("agencies") or None,
            caveats=args.get("caveats") or None,
        )
        kinds = args.get("kinds")
        if kinds:
            listed = tuple(k.strip() for k in kinds.split(",") if k.strip())
            unknown = sorted(set(listed) - set(EVENT_KINDS))
            if unknown:
                raise ValueError(f"unknown kinds {unknown}; use {list(EVENT_KINDS)}")
            filters = replace(filters, kinds=listed)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    if args.get("area"):
        filters = replace(filters, area=_area(args["area"], viewer, engine))
    return filters


def _area(text: str, viewer: Viewer | None, engine: Engine | None) -> BaseGeometry:
    """Return the polygon of the ``area`` parameter as ``viewer`` may see it; else a 400."""
    if viewer is None or engine is None:
        raise ApiError(400, "the area filter is not available here")
    try:
        with session_scope(engine) as session:
            shape, _name = area_from_option(text, session=session, viewer=viewer)
    except SelectionError as exc:
        raise ApiError(400, f"area: {exc}") from exc
    return shape


def int_param(args: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """Return the integer parameter ``name`` (``default`` if absent) in ``lo..hi``, else 400."""
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name} must be an integer, not {raw!r}") from exc
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi}")
    return value
