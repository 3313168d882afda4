"""The map's, timeline's and feed's answers are plain data: Dash encodes them without plotly's walk.

Plotly's ``to_json_plotly`` tries orjson first and falls back to ``clean_to_json_compatible``,
a Python walk over every value of the answer, when anything in it is not plain data (a Dash
component, a ``Patch``, a pandas Timestamp). The walk is spied on (not replaced): it must not
run for the map's first draw, its live redraw (a ``Patch``), the timeline or the live feed.
"""

from __future__ import annotations

import json
from typing import Any

import plotly.io._json as plotly_json
import pytest
from dash import Patch, html
from flask.testing import FlaskClient
from sqlalchemy import Engine

from callbacks._answer import plain
from settings import Settings
from testkit.security_kit import callback_payload, make_users, sign_in, two_agency_events

ORIGIN = {"Origin": "http://localhost"}
MAP_VALUES = {
    "layer-toggles.value": ["hexes", "suspicious", "incidents", "sites"],
    "window-store.data": {"preset": "all", "start": None, "end": None},
    "hex-res.value": 8,
    "hex-colour.value": "total",
}


@pytest.fixture
def walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each time plotly falls back to its Python walk (the top-level call)."""
    calls: list[str] = []
    real = plotly_json.clean_to_json_compatible

    def spy(obj: Any, **kwargs: Any) -> Any:
        calls.append(type(obj).__name__)
        monkeypatch.setattr(plotly_json, "clean_to_json_compatible", real)  # inner calls: as is
        try:
            return real(obj, **kwargs)
        finally:
            monkeypatch.setattr(plotly_json, "clean_to_json_compatible", spy)

    monkeypatch.setattr(plotly_json, "clean_to_json_compatible", spy)
    return calls


def _post(client: FlaskClient, output: str, values: dict[str, Any], changed: list[str]) -> Any:
    deps = client.get("/_dash-dependencies").get_json()
    cb = next(c for c in deps if output in c["output"])
    resp = client.post(
        "/_dash-update-component", json=callback_payload(cb, values, changed), headers=ORIGIN
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    return resp.get_json()["response"]


def test_map_timeline_and_feed_answers_skip_plotlys_walk(
    engine: Engine, settings: Settings, walks: list[str]
) -> None:
    from app import create_app

    two_agency_events(engine, settings)
    make_users(engine, settings, ("analyst",))
    client = create_app(settings).server.test_client()
    assert sign_in(client, "analyst") == 302
    walks.clear()

    first = _post(client, "map-spec.data", MAP_VALUES, [])
    traces = first["map-spec"]["data"]["data"]
    assert sum(len(t.get("lon", [])) for t in traces) > 0  # points were drawn
    assert first["map-summary"]["children"]  # the summary line (components) is there
    assert walks == []

    # A live redraw of the same view: the values go as a Patch of the figure.
    version = _post(client, "data-version.data", {}, [])["data-version"]["data"]
    redraw = _post(
        client,
        "map-spec.data",
        {
            **MAP_VALUES,
            "data-version.data": version,
            "geometry-store.data": first["geometry-store"]["data"],
        },
        ["data-version.data"],
    )
    assert redraw["map-spec"]["data"]["__dash_patch_update"] == "__dash_patch_update"
    assert walks == []

    timeline = _post(client, "timeline-graph.figure", MAP_VALUES, [])
    assert timeline["timeline-graph"]["figure"]["data"][0]["x"]
    assert walks == []

    # The feed (a list of components) as the new version redraws it.
    feed = _post(client, "feed-list.children", {"data-version.data": version}, [])
    items = feed["feed-list"]["children"]
    assert items and all(item["namespace"] == "dash_html_components" for item in items)
    assert walks == []


def test_plain_answers_encode_as_dash_would() -> None:
    patch = Patch()
    patch["data"][0]["z"] = [1.5, None]
    tree = html.Div(
        [html.Span("a", className="x", **{"data-n": "3"}), "text", html.B(html.I("deep"))],
        id="box",
    )
    for value in (tree, patch, [tree, "plain", 3], {"k": tree}):
        assert json.loads(plotly_json.to_json_plotly(plain(value))) == json.loads(
            plotly_json.to_json_plotly(value)
        )
