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
from sqlalchemy.orm import Session

from analytics.cells import cells_to_parent
from analytics.timebuckets import TimeWindow
from reports.regional import previous_window, regional_picture
from reports.static_map import render_map_png
from security.caveats import most_restrictive
from security.roles import Viewer
from store.queries.areas import area_shape, events_in_area, list_areas, sites_in_area
from store.queries.filters import EventFilter

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,  # every user-supplied text is shown as text
)
MARKING_COLORS = {"TLP:CLEAR": "#ffffff", "TLP:GREEN": "#33ff00", "TLP:RED": "#ff2b2b"}
CHROMIUM_HINT = "the PDF needs Chromium: sudo apt-get install -y chromium"


class BriefingError(RuntimeError):
    """The briefing cannot be made (no such area, no Chromium for the PDF)."""


@dataclass(frozen=True)
class Briefing:
    """A rendered briefing."""

    title: str
    html: str
    marking: str
    totals: dict[str, int]


def _local(ts: datetime, tz: str) -> str:
    return pd.Timestamp(ts).tz_convert(tz).strftime("%Y-%m-%d %H:%M %Z")


def build_briefing(
    *,
    session: Session,
    viewer: Viewer,
    area_id: int,
    window: TimeWindow,
    tz: str,
    res: int = 8,
) -> Briefing:
    """Assemble the briefing of an area and window for ``viewer`` (visibility applies to all)."""
    areas = list_areas(session=session, viewer=viewer)
    match = areas[areas["id"] == area_id]
    shape = area_shape(session=session, viewer=viewer, area_id=area_id)
    if match.empty or shape is None:
        raise BriefingError(f"no area {area_id} visible to {viewer.username}")
    area_name = str(match["name"].iloc[0])
    summary = regional_picture(
        session=session, viewer=viewer, area_id=area_id, window=window, res=res
    )
    events = events_in_area(
        session=session, viewer=viewer, area_id=area_id, filters=EventFilter(window=window)
    )
    sites = sites_in_area(session=session, viewer=viewer, area_id=area_id)
    hexes = pd.DataFrame(columns=["cell", "total"])
    if len(events):
        cells, totals = np.unique(
            cells_to_parent(events["cell"].to_numpy(dtype=np.int64), res), return_counts=True
        )
        hexes = pd.DataFrame({"cell": cells, "total": totals})
    west, south, east, north = shape.bounds
    pad_x, pad_y = (east - west) * 0.05 + 0.01, (north - south) * 0.05 + 0.01
    png = render_map_png(
        hexes=hexes,
        events=events[events["kind"] == "suspicious"],
        sites=sites,
        area=shape,
        bounds=(west - pad_x, south - pad_y, east + pad_x, north + pad_y),
    )
    marking = most_restrictive(events["handling"].tolist())
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
        filters={"area": area_name, "window": "as above", "categories": None, "agencies": None},
        categories=summary.categories.to_dict(orient="records"),
        sites=summary.sites.to_dict(orient="records"),
        busiest=summary.busiest.to_dict(orient="records"),
        flags_text="Cluster flags are not part of this version yet.",
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
