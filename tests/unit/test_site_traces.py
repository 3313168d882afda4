"""The site layer's traces: one per sector, sorted; sites in the frame's order; hover escaped."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from layers.sites import DEFAULT_COLOR, SECTOR_COLORS, TIER_SIZE, SitesLayer

SECTORS = ["Energy", "Dams", "Transportation Systems", "Water & <Wastewater>"]
WORDS = st.one_of(st.none(), st.sampled_from(["", "A & B", "<b>x</b>", 'O\'Hara "St"']), st.text())


def _expected(frame: pd.DataFrame) -> list[dict[str, object]]:
    """The traces written out one site at a time: the reference."""
    out = []
    for sector in sorted(set(frame["sector"])):
        rows = [r for r in frame.itertuples(index=False) if r.sector == sector]

        def esc(v: object) -> str:
            return (
                "" if v is None or (isinstance(v, float) and np.isnan(v)) else html.escape(str(v))
            )

        out.append(
            {
                # Plotly renders a trace name as pseudo-HTML in the legend: escaped (issue #18).
                "name": html.escape(sector),
                "uid": f"sites-{html.escape(sector)}",
                "lon": [r.lon for r in rows],
                "lat": [r.lat for r in rows],
                "size": [TIER_SIZE[r.tier] for r in rows],
                "color": SECTOR_COLORS.get(sector, DEFAULT_COLOR),
                "customdata": [
                    [esc(r.name), esc(r.sector), esc(r.subtype), int(r.tier), esc(r.address)]
                    for r in rows
                ],
            }
        )
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(SECTORS), WORDS, WORDS, st.integers(1, 3), WORDS),
        max_size=30,
    )
)
def test_site_traces_equal_the_site_by_site_reference(
    rows: list[tuple[str, str | None, str | None, int, str | None]],
) -> None:
    n = len(rows)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "name": [r[1] for r in rows],
            "sector": [r[0] for r in rows],
            "subtype": [r[2] for r in rows],
            "tier": [r[3] for r in rows],
            "lon": np.linspace(-73, -70, n),
            "lat": np.linspace(41, 43, n),
            "address": [r[4] for r in rows],
        },
        index=np.arange(n) * 3,  # not a default index
    )
    traces = SitesLayer().to_traces(frame, request=None)  # type: ignore[arg-type]
    got = [
        {
            "name": t["name"],
            "uid": t["uid"],
            "lon": t["lon"],
            "lat": t["lat"],
            "size": t["marker"]["size"],
            "color": t["marker"]["color"],
            "customdata": t["customdata"],
        }
        for t in traces
    ]
    assert got == _expected(frame)
    assert all(t["meta"]["count"] == len(t["lon"]) for t in traces)
