"""Point layers of events: suspicious-activity reports and incident reports."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from layers._format import category_text, local_time, text
from layers.base import LayerRequest, Trace
from store.queries.events import POINT_COLUMNS
from store.queries.points import newest_points

HOVER = (
    "<b>%{customdata[0]}</b><br>%{customdata[1]}<br>%{customdata[2]}"
    "<br>%{customdata[3]} · %{customdata[4]}<extra>%{fullData.name}</extra>"
)


@dataclass(frozen=True)
class EventLayer:
    """Events of one kind drawn as points, newest first up to the point budget."""

    key: str
    label: str
    color: str
    kind: str
    size: int
    export_columns: tuple[str, ...] = POINT_COLUMNS

    def query(self, *, session: Session, request: LayerRequest) -> pd.DataFrame:
        """Return the newest visible events of this kind inside the request's filter.

        At most ``max_points + 1`` rows: one more than the budget tells the view that there are
        too many to draw (see ``layers.view.build_map_view``). The rows come from the columnar
        snapshot the hexagon counts read (``store.queries.points``), not from an SQL scan of the
        window; they equal ``store.queries.event_points``, the reference.
        """
        f = request.filters
        if self.kind not in f.kinds:
            return pd.DataFrame(columns=list(POINT_COLUMNS))
        only_kind = replace(f, kinds=(self.kind,))
        return newest_points(
            session=session, viewer=request.viewer, filters=only_kind, limit=request.max_points + 1
        )

    def to_traces(self, frame: pd.DataFrame, *, request: LayerRequest) -> list[Trace]:
        """Return one ``scattermap`` trace of the events."""
        # Hover fields side by side (category, when, where, source, handling), one row a point.
        custom = (
            np.column_stack(
                [
                    category_text(frame["category"].astype(str)).to_numpy(),
                    local_time(frame["occurred_at"], request.tz).to_numpy(),
                    text(frame["location_text"]).to_numpy(),
                    text(frame["source_agency"]).to_numpy(),
                    text(frame["handling"]).to_numpy(),
                ]
            )
            if len(frame)
            else np.empty((0, 5), dtype=object)
        )
        return [
            {
                "type": "scattermap",
                "name": self.label,
                "uid": self.key,
                "mode": "markers",
                "lon": frame["lon"].tolist(),
                "lat": frame["lat"].tolist(),
                "marker": {"size": self.size, "color": self.color, "opacity": 0.85},
                "customdata": custom.tolist(),
                "hovertemplate": HOVER,
                "meta": {"layer": self.key, "count": len(frame)},
            }
        ]
