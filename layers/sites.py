"""Critical-infrastructure sites, one trace per DHS sector."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy.orm import Session

from layers._format import text
from layers.base import LayerRequest, Trace
from store.queries import site_points
from store.queries.sites import SITE_COLUMNS

SECTOR_COLORS = {
    "Healthcare and Public Health": "#2ca02c",
    "Energy": "#ff7f0e",
    "Nuclear Reactors, Materials and Waste": "#9467bd",
    "Transportation Systems": "#1f77b4",
    "Emergency Services": "#17becf",
    "Government Facilities": "#8c564b",
}
DEFAULT_COLOR = "#555555"
TIER_SIZE = {1: 14, 2: 10, 3: 7}
HOVER = (
    "<b>%{customdata[0]}</b><br>%{customdata[1]} · %{customdata[2]}"
    "<br>Tier %{customdata[3]}<br>%{customdata[4]}<extra>Site</extra>"
)


@dataclass(frozen=True)
class SitesLayer:
    """Sites coloured by sector, sized by criticality tier (tier 1 largest)."""

    key: str = "sites"
    label: str = "Critical infrastructure"
    color: str = "#1f77b4"
    export_columns: tuple[str, ...] = SITE_COLUMNS

    def query(self, *, session: Session, request: LayerRequest) -> pd.DataFrame:
        """Return the visible sites inside the request's bounding box and area."""
        f = request.filters
        return site_points(session=session, viewer=request.viewer, bbox=f.bbox, area=f.area)

    def to_traces(self, frame: pd.DataFrame, *, request: LayerRequest) -> list[Trace]:
        """Return one ``scattermap`` trace per sector present, legend-grouped as one layer."""
        traces: list[Trace] = []
        for sector, group in frame.groupby("sector", sort=True):
            custom = pd.DataFrame(
                {
                    "name": text(group["name"]),
                    "sector": text(group["sector"]),
                    "subtype": text(group["subtype"]),
                    "tier": group["tier"].astype(int),
                    "address": text(group["address"]),
                }
            )
            traces.append(
                {
                    "type": "scattermap",
                    "name": f"{sector}",
                    "uid": f"{self.key}-{sector}",
                    "legendgroup": self.key,
                    "legendgrouptitle": {"text": self.label},
                    "mode": "markers",
                    "lon": group["lon"].tolist(),
                    "lat": group["lat"].tolist(),
                    "marker": {
                        "size": group["tier"].map(TIER_SIZE).fillna(7).astype(int).tolist(),
                        "color": SECTOR_COLORS.get(str(sector), DEFAULT_COLOR),
                        "opacity": 0.9,
                    },
                    "customdata": custom.to_numpy().tolist(),
                    "hovertemplate": HOVER,
                    "meta": {"layer": self.key, "count": len(group)},
                }
            )
        return traces
