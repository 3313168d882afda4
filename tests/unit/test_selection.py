"""The screen state and area specs: parsing, validation and the polygons they give."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
import shapely

from layers.selection import (
    ScreenState,
    SelectionError,
    download_href,
    filter_payload,
    resolve_selection,
    screen_state,
    spec_from_selected,
)
from store.queries.filters import EventFilter
from store.queries.hexagg import area_mask

# Drawn areas and boxes need no session: they never touch the areas table.
NO_SESSION = None


def _resolve(spec: dict, viewport: tuple[float, float, float, float] | None = None):
    return resolve_selection(spec, session=NO_SESSION, viewer=None, viewport=viewport)  # type: ignore[arg-type]


def test_resolve_selection_none_means_no_area() -> None:
    assert _resolve({"type": "none"}) is None
    assert resolve_selection(None, session=NO_SESSION, viewer=None) is None  # type: ignore[arg-type]


def test_resolve_selection_lasso_is_the_drawn_polygon() -> None:
    shape = _resolve({"type": "lasso", "points": [[-71.1, 42.3], [-71.0, 42.3], [-71.0, 42.4]]})
    assert shape.geom_type == "Polygon"
    assert shape.bounds == (-71.1, 42.3, -71.0, 42.4)


def test_resolve_selection_self_crossing_lasso_keeps_its_surface() -> None:
    bowtie = [[0, 0], [1, 1], [1, 0], [0, 1]]
    shape = _resolve({"type": "lasso", "points": bowtie})
    assert shape.geom_type in ("Polygon", "MultiPolygon") and shape.area == pytest.approx(0.5)


def test_resolve_selection_box_and_viewport() -> None:
    box = _resolve({"type": "box", "bbox": [-71.2, 42.2, -70.9, 42.4]})
    assert box.bounds == (-71.2, 42.2, -70.9, 42.4) and box.area == pytest.approx(0.06)
    view = _resolve({"type": "viewport"}, viewport=(-72, 42, -71, 43))
    assert view.bounds == (-72, 42, -71, 43)


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "lasso", "points": [[0, 0], [1, 1]]},
        {"type": "lasso", "points": "nonsense"},
        {"type": "box", "bbox": [1, 1, 0, 0]},
        {"type": "viewport"},
        {"type": "region"},
        {"type": "county", "id": 1},
    ],
)
def test_resolve_selection_rejects_what_is_not_an_area(spec: dict) -> None:
    with pytest.raises(SelectionError):
        _resolve(spec)


def test_spec_from_selected_reads_plotly_lasso_and_box() -> None:
    lasso = {"lassoPoints": {"map": [[-71.1, 42.3], [-71.0, 42.3], [-71.0, 42.4]]}}
    assert spec_from_selected(lasso) == {
        "type": "lasso",
        "points": [[-71.1, 42.3], [-71.0, 42.3], [-71.0, 42.4]],
    }
    box = {"range": {"map": [[-71.2, 42.4], [-70.9, 42.2]]}}
    assert spec_from_selected(box) == {"type": "box", "bbox": [-71.2, 42.2, -70.9, 42.4]}
    assert spec_from_selected({"points": []}) is None and spec_from_selected(None) is None


def test_screen_state_round_trips_through_json() -> None:
    state = ScreenState(
        preset="custom",
        start_at=datetime(2023, 2, 1, tzinfo=UTC),
        end_at=datetime(2023, 3, 1, tzinfo=UTC),
        categories=("SURVL", "PHOTO"),
        agencies=("BPD",),
        caveats=("TLP:GREEN",),
        area={"type": "region", "id": 3},
        viewport=(-71.2, 42.2, -70.9, 42.4),
    )
    back = ScreenState.from_json(state.to_json())
    assert back == ScreenState(**{**vars(state), "categories": ("PHOTO", "SURVL")})


@pytest.mark.parametrize(
    "payload",
    [None, "", "not json", "[1, 2]", '{"preset": "5y"}', '{"preset": "custom", "start": "x"}'],
)
def test_screen_state_falls_back_to_defaults(payload: str | None) -> None:
    state = ScreenState.from_json(payload)
    assert state.preset == "30d" and state.area == {"type": "none"} and state.custom is None


def test_event_filter_with_area_is_hashable_and_checked() -> None:
    square = shapely.box(-71.1, 42.3, -71.0, 42.4)
    a, b = EventFilter(area=square), EventFilter(area=shapely.box(-71.1, 42.3, -71.0, 42.4))
    assert a == b and hash(a) == hash(b) and a != EventFilter()
    with pytest.raises(ValueError, match="polygon"):
        EventFilter(area=shapely.Point(0, 0))
    with pytest.raises(ValueError, match="EPSG:4326"):
        EventFilter(area=shapely.box(200000, 900000, 210000, 910000))


def test_area_mask_matches_shapely_contains_and_leaves_the_boundary_out() -> None:
    square = shapely.box(0, 0, 1, 1)
    lon = np.array([0.5, 0.0, 1.5, 0.999, 0.5])
    lat = np.array([0.5, 0.5, 0.5, 0.999, 0.5])
    candidates = np.array([True, True, True, True, False])
    assert area_mask(square, lon, lat, candidates).tolist() == [True, False, False, True, False]


def _payload(**kw: object) -> dict:
    base = {
        "categories": None,
        "agencies": None,
        "caveats": None,
        "area_type": "none",
        "area_choice": None,
        "selected": None,
        "view": None,
    }
    return filter_payload(**{**base, **kw})  # type: ignore[arg-type]


def test_filter_payload_turns_controls_into_the_store() -> None:
    assert _payload() == {
        "categories": None,
        "agencies": None,
        "caveats": None,
        "area": {"type": "none"},
    }
    got = _payload(categories=["SURVL", "PHOTO"], area_type="region", area_choice=7)
    assert got["categories"] == ["PHOTO", "SURVL"] and got["area"] == {"type": "region", "id": 7}
    # An incomplete choice is no area: nothing picked yet, nothing drawn yet.
    assert _payload(area_type="region")["area"] == {"type": "none"}
    assert _payload(area_type="drawn")["area"] == {"type": "none"}
    lasso = {"lassoPoints": {"map": [[0, 0], [1, 0], [1, 1]]}}
    assert _payload(area_type="drawn", selected=lasso)["area"]["type"] == "lasso"
    # The view is frozen into the spec when chosen: later pans do not move the area.
    view = _payload(area_type="viewport", view=[-71.2, 42.2, -70.9, 42.4])
    assert view["area"] == {"type": "viewport", "bbox": [-71.2, 42.2, -70.9, 42.4]}


def test_screen_state_and_download_href_carry_window_filters_and_area() -> None:
    window = {
        "preset": "custom",
        "start": "2023-02-01T00:00:00+00:00",
        "end": "2023-03-01T00:00:00+00:00",
    }
    filters = _payload(caveats=["TLP:GREEN"], area_type="region", area_choice=3)
    state = screen_state(window, filters)
    assert state.preset == "custom" and state.caveats == ("TLP:GREEN",)
    assert state.area == {"type": "region", "id": 3}
    href = download_href("/export/download", state, layer="all", format="csv")
    query = parse_qs(urlparse(href).query)
    assert urlparse(href).path == "/export/download" and query["layer"] == ["all"]
    assert ScreenState.from_json(query["state"][0]) == state


def test_area_layer_draws_outlines_with_names_and_storm_times() -> None:
    import pandas as pd

    from layers.areas import AreaLayer
    from layers.base import LayerRequest

    frame = pd.DataFrame(
        {
            "name": ["Bob <1991>"],
            "subtype": ["hurricane"],
            "valid_from": [pd.Timestamp("1991-08-16", tz="UTC")],
            "valid_to": [pd.Timestamp("1991-08-29", tz="UTC")],
            "geometry": [shapely.MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 2, 3, 3)])],
        }
    )
    layer = AreaLayer(key="hazards", label="Hazards", color="#e07b00", kind="hazard")
    request = LayerRequest(viewer=None, filters=EventFilter(), res=8, max_points=10, tz="UTC")  # type: ignore[arg-type]
    (trace,) = layer.to_traces(frame, request=request)
    assert trace["lon"].count(None) == 2 and len(trace["lon"]) == 12
    assert trace["customdata"][0] == ["Bob &lt;1991&gt;", "hurricane", "1991-08-16 to 1991-08-29"]
    assert layer.to_traces(frame.iloc[:0], request=request) == []


def test_area_from_option_reads_wkt_and_refuses_the_rest() -> None:
    from layers.selection import area_from_option

    wkt = "wkt:POLYGON((-71.1 42.3, -71 42.3, -71 42.4, -71.1 42.3))"
    shape, name = area_from_option(wkt, session=None, viewer=None)  # type: ignore[arg-type]
    assert name == "polygon" and shape.bounds == (-71.1, 42.3, -71.0, 42.4)
    for bad in ("wkt:garbage", "wkt:POINT(0 0)", "county:Suffolk"):
        with pytest.raises(SelectionError):
            area_from_option(bad, session=None, viewer=None)  # type: ignore[arg-type]
