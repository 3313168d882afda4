"""The screen state and area specs: parsing, validation and the polygons they give."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import shapely

from layers.selection import (
    ScreenState,
    SelectionError,
    resolve_selection,
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
