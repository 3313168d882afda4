"""The briefing: a self-contained HTML page and a PDF of the regional picture, with its marking.

The PDF is Chromium's print of the HTML (Debian's ``chromium``, headless, no network); the map
is a PNG drawn server-side (``reports.static_map``) and embedded, so the HTML stands alone.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from analytics.cells import cells_to_parent
from analytics.timebuckets import TimeWindow
from domain.caveats import most_restrictive
from domain.roles import Viewer
from reports.errors import BriefingError
from reports.regional import filtered_picture, open_flags_inside, previous_window
from reports.static_map import render_map_png
from store.queries.areas import area_shape, filtered_events, list_areas
from store.queries.filters import EventFilter
from store.queries.sites import site_points

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,  # every user-supplied text is shown as text
)
MARKING_COLORS = {"TLP:CLEAR": "#ffffff", "TLP:GREEN": "#33ff00", "TLP:RED": "#ff2b2b"}
CHROMIUM_HINT = "the PDF needs Chromium: sudo apt-get install -y chromium"


@dataclass(frozen=True)
class Briefing:
    """A rendered briefing."""

    title: str
    html: str
    marking: str
    totals: dict[str, int]


def _local(ts: datetime, tz: str) -> str:
    text: str = pd.Timestamp(ts).tz_convert(tz).strftime("%Y-%m-%d %H:%M %Z")
    return text


def build_briefing(
    *,
    session: Session,
    viewer: Viewer,
    area_id: int,
    window: TimeWindow,
    tz: str,
    res: int = 8,
) -> Briefing:
    """Assemble the briefing of a stored area and window for ``viewer`` (visibility applies)."""
    areas = list_areas(session=session, viewer=viewer)
    match = areas[areas["id"] == area_id]
    shape = area_shape(session=session, viewer=viewer, area_id=area_id)
    if match.empty or shape is None:
        raise BriefingError(f"no area {area_id} visible to {viewer.username}")
    return build_filtered_briefing(
        session=session,
        viewer=viewer,
        filters=EventFilter(window=window, area=shape),
        area_name=str(match["name"].iloc[0]),
        tz=tz,
        res=res,
    )


def _bounds(shape: BaseGeometry | None, events: pd.DataFrame) -> tuple[float, ...]:
    if shape is not None:
        west, south, east, north = shape.bounds
    elif len(events):
        west, east = float(events["lon"].min()), float(events["lon"].max())
        south, north = float(events["lat"].min()), float(events["lat"].max())
    else:  # nothing to show: Massachusetts
        west, south, east, north = -73.5, 41.2, -69.9, 42.9
    pad_x, pad_y = (east - west) * 0.05 + 0.01, (north - south) * 0.05 + 0.01
    return (west - pad_x, south - pad_y, east + pad_x, north + pad_y)


def _listed(values: tuple[str, ...] | None) -> str | None:
    return ", ".join(values) if values else None


def build_filtered_briefing(
    *,
    session: Session,
    viewer: Viewer,
    filters: EventFilter,
    area_name: str,
    tz: str,
    res: int = 8,
) -> Briefing:
    """Assemble the briefing of exactly what ``filters`` selects (the screen's filter).

    Parameters
    ----------
    filters
        Window (required), area, categories, agencies and caveats; every count, table, map and
        the marking come from the events this filter selects for ``viewer``.
    area_name
        How the area is named in the title (a county, a storm, "drawn area").
    """
    window = filters.window
    if window is None:
        raise BriefingError("a briefing needs a time window")
    shape = filters.area
    summary = filtered_picture(session=session, viewer=viewer, filters=filters, res=res)
    events = filtered_events(session=session, viewer=viewer, filters=filters)
    sites = site_points(session=session, viewer=viewer, area=shape)
    hexes = pd.DataFrame(columns=["cell", "total"])
    if len(events):
        cells, totals = np.unique(
            cells_to_parent(events["cell"].to_numpy(dtype=np.int64), res), return_counts=True
        )
        hexes = pd.DataFrame({"cell": cells, "total": totals})
    png = render_map_png(
        hexes=hexes,
        events=events[events["kind"] == "suspicious"],
        sites=sites,
        area=shape,
        bounds=_bounds(shape, events),  # type: ignore[arg-type]
    )
    flags = open_flags_inside(session=session, viewer=viewer, area=shape)
    marking = most_restrictive([*events["handling"].tolist(), *flags["handling"].tolist()])
    title = f"Regional picture: {area_name}"
    before = previous_window(window)
    html = _TEMPLATES.get_template("briefing.html").render(
        title=title,
        marking=marking,
        marking_text=f"{marking} — handle according to the marking",
        marking_color=MARKING_COLORS.get(marking, "#ffc000"),
        window_text=f"{_local(window.start_at, tz)} to {_local(window.end_at, tz)}",
        before_text=f"{_local(before.start_at, tz)} to {_local(before.end_at, tz)}",
        data_through=_local(events["occurred_at"].max(), tz) if len(events) else "no reports",
        prepared_at=_local(datetime.now(UTC), tz),
        prepared_by=f"{viewer.username} ({viewer.agency})",
        res=res,
        totals=summary.totals,
        map_png=base64.b64encode(png).decode("ascii"),
        filters={
            "area": area_name,
            "window": "as above",
            "categories": _listed(filters.categories),
            "agencies": _listed(filters.agencies),
            "caveats": _listed(filters.caveats),
        },
        categories=summary.categories.to_dict(orient="records"),
        sites=summary.sites.to_dict(orient="records"),
        busiest=summary.busiest.to_dict(orient="records"),
        flags=flags[["id", "priority", "status", "summary"]]
        .assign(  # a priority withheld from the viewer: its summary says why
            priority=["withheld" if pd.isna(v) else f"{v:.1f}" for v in flags["priority"].tolist()]
        )
        .to_dict(orient="records"),
    )
    return Briefing(title=title, html=html, marking=marking, totals=summary.totals)


def write_pdf(
    html: str, path: Path, *, chromium: str | None = None, timeout_s: float = 120
) -> Path:
    """Print ``html`` to a PDF with headless Chromium (no network, no header or footer)."""
    browser = chromium or shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise BriefingError(CHROMIUM_HINT)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "briefing.html"
        page.write_text(html, encoding="utf-8")
        cmd = [
            browser,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp}/profile",
            "--no-pdf-header-footer",
            f"--print-to-pdf={path.resolve()}",
            page.as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0 or not path.exists():
        raise BriefingError(f"Chromium could not print the briefing: {done.stderr[-500:]}")
    return path
