"""Two agencies' RED and AMBER reports never reach the other agency's user, counts included."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select

from data_loaders.ingest import ingest_table
from data_loaders.profiles import load_profile
from domain.roles import Role, Viewer
from layers.encoding import decode_typed_array, words_to_cells
from rules.visibility import may_see
from settings import Settings
from store.engine import session_scope
from store.models import Event
from store.queries import EventFilter, caveats_present, event_points, event_time_range, hex_counts
from testkit.factories import raw_events
from testkit.security_kit import (
    AGENCY_A,
    AGENCY_B,
    callback_payload,
    make_users,
    sign_in,
    two_agency_events,
)

PARTNER_A = Viewer("partner-a", Role.PARTNER, AGENCY_A)
PARTNER_B = Viewer("partner-b", Role.PARTNER, AGENCY_B)
RESTRICTED = {"TLP:AMBER", "TLP:AMBER+STRICT", "LES", "TLP:RED"}


def _seed(engine: Engine, settings: Settings) -> pd.DataFrame:
    """Both agencies' events, plus agency A's RED reports from 2022 (outside B's time range)."""
    two_agency_events(engine, settings)
    old_red = load_profile("bpd_incidents").model_copy(
        update={"name": "a-old-red", "source": AGENCY_A, "handling": "TLP:RED"}
    )
    ingest_table(
        engine,
        raw_events(15, seed=999, start="2022-01-01", days=5),
        old_red,
        origin="a-old.csv",
        sha256=None,
        area=None,
        store_res=settings.h3_store_res,
    )
    with session_scope(engine) as s:
        rows = s.execute(
            select(Event.id, Event.source_agency, Event.handling, Event.occurred_at, Event.kind)
        ).all()
    frame = pd.DataFrame(rows, columns=["id", "source_agency", "handling", "occurred_at", "kind"])
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame


def _reference(frame: pd.DataFrame, viewer: Viewer) -> pd.DataFrame:
    keep = [
        may_see(viewer, handling=h, source_agency=a)
        for h, a in zip(frame["handling"], frame["source_agency"], strict=True)
    ]
    return frame[keep]


def test_store_paths_hide_the_other_agencys_restricted_reports(
    engine: Engine, settings: Settings
) -> None:
    frame = _seed(engine, settings)
    assert set(frame["handling"]) == {"TLP:RED", "TLP:AMBER", "TLP:GREEN"}
    for viewer, other in ((PARTNER_A, AGENCY_B), (PARTNER_B, AGENCY_A)):
        ref = _reference(frame, viewer)
        with session_scope(engine) as s:
            pts = event_points(session=s, viewer=viewer, filters=EventFilter(), limit=10**6)
            hexes = hex_counts(session=s, viewer=viewer, filters=EventFilter(), res=8)
            first, last = event_time_range(session=s, viewer=viewer)  # type: ignore[misc]
            caveats = caveats_present(session=s, viewer=viewer, filters=EventFilter())
            others_caveats = caveats_present(
                session=s, viewer=viewer, filters=EventFilter(agencies=(other,))
            )
        theirs = pts[pts["source_agency"] == other]
        assert len(theirs) > 0 and set(theirs["handling"]) == {"TLP:GREEN"}
        assert sorted(pts["id"]) == sorted(ref["id"])
        # Counts: the hexagons add up to the visible events only, per kind too.
        assert int(hexes["total"].sum()) == len(ref) < len(frame)
        assert int(hexes["suspicious"].sum()) == int((ref["kind"] == "suspicious").sum())
        assert (first, last) == (ref["occurred_at"].min(), ref["occurred_at"].max())
        assert others_caveats == ["TLP:GREEN"]
        assert set(caveats) == {"TLP:RED", "TLP:AMBER", "TLP:GREEN"}  # its own RED and AMBER
    # Agency A's 2022 RED reports do not stretch B's time range back to 2022.
    with session_scope(engine) as s:
        first_b, _ = event_time_range(session=s, viewer=PARTNER_B)  # type: ignore[misc]
    assert first_b >= pd.Timestamp("2023-01-01", tz="UTC")


@pytest.mark.parametrize("preset", ["all", "30d"])
def test_dashboard_callback_and_healthz_leak_nothing(
    engine: Engine, settings: Settings, preset: str
) -> None:
    from app import create_app

    frame = _seed(engine, settings)
    make_users(engine, settings, ("partner-b", "officer"))
    client = create_app(settings).server.test_client()
    assert sign_in(client, "partner-b") == 302
    health = client.get("/healthz").get_json()
    assert "counts" not in health  # volumes are for administrators only
    cb = next(
        c for c in client.get("/_dash-dependencies").get_json() if "map-spec.data" in c["output"]
    )
    values = {
        "layer-toggles.value": ["hexes", "suspicious", "incidents", "sites"],
        "window-preset.value": preset,
        "hex-res.value": 8,
    }
    resp = client.post(
        "/_dash-update-component",
        json=callback_payload(cb, values),
        headers={"Origin": "http://localhost"},
    )
    assert resp.status_code == 200
    body = resp.get_json()["response"]
    figure = body["map-spec"]["data"]
    points = [
        row
        for t in figure["data"]
        if t["uid"] in ("suspicious", "incidents")
        for row in t["customdata"]
    ]
    assert points and all(
        not (src == AGENCY_A and handling in RESTRICTED) for *_, src, handling in points
    )
    hexes = next(t for t in figure["data"] if t["uid"] == "hexes")
    ref = _reference(frame, PARTNER_B)
    if preset == "all":
        assert int(np.nansum(decode_typed_array(hexes["z"]))) == len(ref) == len(points)
    cells = words_to_cells(body["hex-cells"]["data"]["cells"])
    assert len(cells) == len(decode_typed_array(hexes["z"]))
    text = json.dumps(body)
    # Agency A's RED reports of 2022 do not leak through the window or "data through" text.
    assert "2022" not in text
    assert body["marking-banner"]["children"].startswith("TLP:RED")  # B's own RED reports
