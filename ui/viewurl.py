"""The view in the URL query: map position, time window, layers, hexagon settings, filters.

A link such as ``/?lat=42.3601&lon=-71.0589&z=12.5&w=7d&layers=hexes,suspicious&res=auto``
opens the dashboard on that view; filters add ``cat=``, ``ag=``, ``cav=`` (repeated, one value
each) and ``area=region:ID`` or ``area=hazard:ID``. :func:`encode_view` writes the query (the
browser puts it in the address bar with ``history.replaceState``); :func:`decode_view` reads one,
keeping only valid values, so a hand-edited or stale link never breaks the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Final
from urllib.parse import parse_qs, urlencode

import pandas as pd

from analytics.timebuckets import TimeWindow
from layers.registry import LAYERS

WINDOW_PRESETS: Final[tuple[str, ...]] = ("24h", "7d", "30d", "90d", "all")
COLOURS: Final[tuple[str, ...]] = ("total", "suspicious", "incident", "severity", "change")
RES_MIN, RES_MAX = 5, 10


@dataclass(frozen=True)
class UrlView:
    """The parts of a view a URL may carry; None means "not given, keep the default"."""

    lat: float | None = None
    lon: float | None = None
    zoom: float | None = None
    preset: str | None = None
    start: date | None = None
    end: date | None = None
    layers: tuple[str, ...] | None = None
    res: int | None = None  # None with auto=True: the resolution follows the zoom
    auto: bool | None = None
    colour: str | None = None
    categories: tuple[str, ...] | None = None
    agencies: tuple[str, ...] | None = None
    caveats: tuple[str, ...] | None = None
    area: tuple[str, int] | None = None  # ("region" | "hazard", area id)


AREA_KINDS: Final[tuple[str, ...]] = ("region", "hazard")
MAX_LISTED = 200  # values per filter a link may carry


def encode_view(view: UrlView) -> str:
    """Return the URL query (with its leading ``?``) for ``view``; empty when nothing is set.

    Examples
    --------
    >>> encode_view(UrlView(lat=42.36, lon=-71.06, zoom=11, preset="7d", auto=True))
    '?lat=42.36&lon=-71.06&z=11&w=7d&res=auto'
    """
    query: list[tuple[str, str]] = []
    if view.lat is not None and view.lon is not None:
        query += [("lat", _num(view.lat)), ("lon", _num(view.lon))]
    if view.zoom is not None:
        query.append(("z", _num(view.zoom, 2)))
    if view.start is not None and view.end is not None:
        query.append(("w", f"{view.start.isoformat()}..{view.end.isoformat()}"))
    elif view.preset in WINDOW_PRESETS:
        query.append(("w", view.preset))
    if view.layers is not None:
        query.append(("layers", ",".join(view.layers)))
    if view.auto:
        query.append(("res", "auto"))
    elif view.res is not None:
        query.append(("res", str(view.res)))
    if view.colour in COLOURS and view.colour != "total":
        query.append(("colour", view.colour))
    for key, values in (("cat", view.categories), ("ag", view.agencies), ("cav", view.caveats)):
        query += [(key, v) for v in values or ()]
    if view.area is not None and view.area[0] in AREA_KINDS:
        query.append(("area", f"{view.area[0]}:{int(view.area[1])}"))
    return "?" + urlencode(query, safe=",.:") if query else ""


def _num(value: float, places: int = 5) -> str:
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _float(raw: str | None, low: float, high: float) -> float | None:
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and low <= value <= high else None


def _window(raw: str | None) -> tuple[str | None, date | None, date | None]:
    if raw in WINDOW_PRESETS:
        return raw, None, None
    if raw and ".." in raw:
        first, _, last = raw.partition("..")
        try:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError:
            return None, None, None
        if start <= end:
            return "custom", start, end
    return None, None, None


def decode_view(query: str) -> UrlView:
    """Return the view a URL query holds; invalid or unknown values are left out.

    Examples
    --------
    >>> decode_view("?lat=42.36&lon=-71.06&z=11&w=2023-01-01..2023-01-31&res=9")
    ... # doctest: +NORMALIZE_WHITESPACE
    UrlView(lat=42.36, lon=-71.06, zoom=11.0, preset='custom', start=datetime.date(2023, 1, 1),
            end=datetime.date(2023, 1, 31), layers=None, res=9, auto=False, colour=None,
            categories=None, agencies=None, caveats=None, area=None)
    >>> decode_view("?cat=SURVL&cat=PHOTO&cav=TLP%3AGREEN&area=region:3").area
    ('region', 3)
    """
    lists = parse_qs(query.lstrip("?"), keep_blank_values=True)
    params = {k: v[-1] for k, v in lists.items()}
    lat = _float(params.get("lat"), -90, 90)
    lon = _float(params.get("lon"), -180, 180)
    if lat is None or lon is None:
        lat = lon = None
    preset, start, end = _window(params.get("w"))
    layers = None
    if "layers" in params:
        layers = tuple(
            dict.fromkeys(k for k in params["layers"].split(",") if k in LAYERS)  # keep order
        )
    res, auto = None, None
    raw_res = params.get("res")
    if raw_res == "auto":
        auto = True
    elif raw_res is not None and raw_res.isdigit() and RES_MIN <= int(raw_res) <= RES_MAX:
        res, auto = int(raw_res), False
    colour = params.get("colour")
    return UrlView(
        lat=lat,
        lon=lon,
        zoom=_float(params.get("z"), 0, 22),
        preset=preset,
        start=start,
        end=end,
        layers=layers,
        res=res,
        auto=auto,
        colour=colour if colour in COLOURS else None,
        categories=_listed(lists.get("cat")),
        agencies=_listed(lists.get("ag")),
        caveats=_listed(lists.get("cav")),
        area=_area(params.get("area")),
    )


def _listed(values: list[str] | None) -> tuple[str, ...] | None:
    kept = tuple(dict.fromkeys(v for v in values or () if v and len(v) <= 200))[:MAX_LISTED]
    return kept or None


def _area(raw: str | None) -> tuple[str, int] | None:
    kind, _, ident = (raw or "").partition(":")
    return (kind, int(ident)) if kind in AREA_KINDS and ident.isdigit() else None


def local_days(window: TimeWindow, tz: str) -> tuple[date, date]:
    """Return the first and last local day ``window`` touches (the end is exclusive).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> w = TimeWindow(datetime(2023, 1, 1, 5, tzinfo=UTC), datetime(2023, 1, 8, 5, tzinfo=UTC))
    >>> local_days(w, "America/New_York")
    (datetime.date(2023, 1, 1), datetime.date(2023, 1, 7))
    """
    start = pd.Timestamp(window.start_at).tz_convert(tz)
    end = (pd.Timestamp(window.end_at) - pd.Timedelta(microseconds=1)).tz_convert(tz)
    return start.date(), max(start.date(), end.date())
