"""Random bytes and values at every Dash callback and every HTTP route never answer 500 (#18.13).

Every registered server-side callback (from ``/_dash-dependencies``, signed in as an analyst) and
every route of the Flask url map (the partner and export APIs with a key and with Basic, OGC,
sign-in, administration, downloads) gets values drawn by hypothesis: hostile strings (NUL bytes,
control characters, over-long text, bad dates and cell ids), NaN and 1e308, malformed boxes and
lassos, deep JSON. A deterministic, bounded number of examples per target keeps it fast.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from typing import Any
from urllib.parse import quote

from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine

from security.apikeys import create_key
from settings import Settings
from store.engine import session_scope
from testkit.api_kit import basic, bearer
from testkit.security_kit import AGENCY_A, callback_payload, make_users, sign_in, two_agency_events

ORIGIN = {"Origin": "http://localhost"}
# Routes that only serve code or styles (nothing parsed) and the hot-reload hash (debug only).
SKIP = ("/_dash-component-suites/", "/assets/", "/static/", "/signin-static/", "/_reload-hash")


def _fuzz(examples: int) -> hsettings:
    # Deterministic and bounded: the same examples on every run, no shrinking (every 500 found
    # is reported with its input instead), no example database.
    return hsettings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=list(HealthCheck),
    )


# Text a hostile caller would try: NUL and control characters, HTML, paths, numbers as text.
HOSTILE = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\x01\x1f\x7f",
        "\ud800",
        "x" * 5000,
        "NaN",
        "1e308",
        "-1e308",
        "Infinity",
        "2023-13-45",
        "0000-00-00T25:61:61",
        "8a2a1072b59ffff",
        "zzzzzzzzzzzzzzz",
        "ffffffffffffffff",
        "-1",
        "99999999999999999999999",
        "../../etc/passwd",
        "/tmp/x",
        "<script>",
        "region:abc",
        "hazard:\x00",
        "TLP:RED",
        "' OR 1=1 --",
        "{}",
        "[]",
    ]
)
TEXT = st.one_of(HOSTILE, st.text(max_size=40))
NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1e308, -1e308, 0, -0.0, 2**63, -(2**63) - 1]),
)
POINT = st.lists(st.one_of(NUMBER, TEXT, st.none()), min_size=0, max_size=3)
AREA = st.one_of(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["lasso", "box", "viewport", "region", "hazard", "x"])},
        optional={
            "points": st.one_of(st.lists(POINT, max_size=6), TEXT, NUMBER),
            "bbox": st.one_of(st.lists(st.one_of(NUMBER, TEXT), max_size=5), TEXT),
            "id": st.one_of(NUMBER, TEXT, st.none()),
        },
    ),
)
SELECTED = st.fixed_dictionaries(
    {},
    optional={
        "lassoPoints": st.one_of(st.fixed_dictionaries({"map": st.lists(POINT, max_size=6)}), TEXT),
        "range": st.one_of(st.fixed_dictionaries({"map": st.lists(POINT, max_size=3)}), NUMBER),
        "points": st.lists(st.dictionaries(TEXT, st.one_of(TEXT, NUMBER)), max_size=3),
    },
)
SCALAR = st.one_of(st.none(), st.booleans(), NUMBER, TEXT)
JSON = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(HOSTILE, st.text()), inner, max_size=4),
    ),
    max_leaves=12,
)
# The filter store and window store shapes with hostile values in them.
STORE = st.fixed_dictionaries(
    {},
    optional={
        "preset": st.one_of(st.sampled_from(["7d", "30d", "all", "custom"]), TEXT),
        "start": st.one_of(TEXT, NUMBER),
        "end": st.one_of(TEXT, NUMBER),
        "categories": st.one_of(st.lists(TEXT, max_size=3), TEXT),
        "agencies": st.one_of(st.lists(TEXT, max_size=3), TEXT),
        "caveats": st.one_of(st.lists(TEXT, max_size=3), TEXT),
        "area": st.one_of(AREA, TEXT),
        "cells": st.lists(TEXT, max_size=3),
        "cell": TEXT,
        "id": st.one_of(NUMBER, TEXT),
    },
)
VALUE = st.one_of(SCALAR, STORE, SELECTED, AREA, JSON, st.lists(TEXT, max_size=3))
DEEP = "[" * 100_000 + "]" * 100_000


def _world(engine: Engine, settings: Settings) -> tuple[Any, str]:
    make_users(engine, settings, ("analyst", "admin"))
    two_agency_events(engine, settings, n=5)
    with session_scope(engine) as s:
        key, _ = create_key(session=s, agency=AGENCY_A)
    from app import create_app

    # A generous sign-in rate: the test is about answers, not the limit (tested elsewhere).
    app = create_app(settings.model_copy(update={"signin_rate_per_minute": 100_000}))
    return app, key


def _no_500(resp: Any, what: Any, found: list[Any]) -> None:
    text = resp.get_data().decode("utf-8", "replace")
    resp.close()
    if resp.status_code >= 500:
        found.append((resp.status_code, repr(what)[:400], text[:200]))


def test_random_values_at_every_callback_answer_no_500(engine: Engine, settings: Settings) -> None:
    app, _ = _world(engine, settings)
    client = app.server.test_client()
    assert sign_in(client, "analyst") == 302
    every = client.get("/_dash-dependencies").get_json()
    callbacks = [cb for cb in every if not cb.get("clientside_function")]
    assert len(callbacks) > 20
    found: list[Any] = []

    for cb in callbacks:
        func = inspect.unwrap(app.callback_map[cb["output"]]["callback"])
        _fuzz_callback(client, cb, func, found)
    # Deep JSON is refused before Dash reads it.
    resp = client.post(
        "/_dash-update-component", data=DEEP, content_type="application/json", headers=ORIGIN
    )
    _no_500(resp, "deep JSON", found)
    assert not found, "\n".join(map(str, found))


def _typed(hint: Any) -> st.SearchStrategy[Any]:
    """Values of the declared type with hostile content (the guard lets them through)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is None or hint is type(None):
        return st.none()
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_typed(a) for a in args))
    if hint is str:
        return TEXT.filter(lambda t: "\x00" not in t)
    if hint is int:
        return st.one_of(st.integers(-(2**63) + 1, 2**63 - 1), st.sampled_from([0, -1, 2**62]))
    if hint is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    if hint is bool:
        return st.booleans()
    if origin is list:
        return st.lists(_typed(args[0]) if args else VALUE, max_size=4)
    if origin is dict:
        return st.one_of(STORE, AREA, SELECTED, st.dictionaries(TEXT, JSON, max_size=4))
    return VALUE


def _fuzz_callback(client: FlaskClient, cb: dict[str, Any], func: Any, found: list[Any]) -> None:
    deps = [f"{d['id']}.{d['property']}" for d in cb["inputs"] + cb["state"]]
    inputs = [f"{d['id']}.{d['property']}" for d in cb["inputs"]]
    hints = typing.get_type_hints(func)
    params = list(inspect.signature(func).parameters)
    # Mostly values of the declared types (to reach the parsers inside), sometimes anything.
    values = st.fixed_dictionaries(
        {d: st.one_of(_typed(hints.get(p, Any)), VALUE) for d, p in zip(deps, params, strict=False)}
    )

    @_fuzz(50)
    @given(values=values, fired=st.integers(0, 9))
    def check(values: dict[str, Any], fired: int) -> None:
        changed = [inputs[fired % len(inputs)]] if inputs else []
        body = json.dumps(callback_payload(cb, values, changed))  # NaN travels as NaN
        resp = client.post(
            "/_dash-update-component", data=body, content_type="application/json", headers=ORIGIN
        )
        _no_500(resp, (cb["output"], values), found)

    check()


def _rules(app: Any) -> list[tuple[str, set[str]]]:
    rules = []
    for rule in app.server.url_map.iter_rules():
        if rule.rule.startswith(SKIP) or rule.rule == "/_dash-update-component":
            continue
        rules.append((rule.rule, set(rule.methods or ()) - {"HEAD", "OPTIONS"}))
    return sorted(rules, key=lambda r: r[0])


def _fill(rule: str, parts: list[str]) -> str:
    it = iter(parts)
    # Percent-encoded as a client sends them (a lone surrogate is no character: "?").
    return re.sub(
        r"<(?:\w+:)?\w+>", lambda _: quote(next(it, "x"), safe="", errors="replace") or "x", rule
    )


def _sendable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def _csrf(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    return found.group(1) if found else ""


QUERY = st.dictionaries(
    st.sampled_from(
        [
            "state",
            "layer",
            "format",
            "bbox",
            "datetime",
            "limit",
            "offset",
            "kind",
            "f",
            "start",
            "end",
            "cell",
            "id",
            "next",
            "action",
            "username",
            "since",
            "area",
            "caveat",
            "category",
            "agency",
            "crs",
            "bbox-crs",
            "properties",
            "sortby",
        ]
    ),
    st.one_of(TEXT, NUMBER.map(str), JSON.map(json.dumps)),
    max_size=4,
)
CREDENTIALS = st.sampled_from(["analyst", "key", "admin-basic", "nul-basic", "nul-key", "none"])


def test_random_requests_at_every_route_answer_no_500(engine: Engine, settings: Settings) -> None:
    app, key = _world(engine, settings)
    analyst = app.server.test_client()
    assert sign_in(analyst, "analyst") == 302
    admin = app.server.test_client()
    assert sign_in(admin, "admin") == 302
    anon = app.server.test_client()
    headers = {
        "key": bearer(key),
        "admin-basic": basic("analyst"),
        "nul-basic": basic("ana\x00lyst"),
        "nul-key": {"Authorization": "Bearer wf_\x00" + key[4:]},
        "none": {},
        "analyst": {},
    }
    rules = _rules(app)
    found: list[Any] = []
    assert any(r.startswith("/ogc") for r, _ in rules) and any(r == "/login" for r, _ in rules)

    @_fuzz(len(rules) * 30)
    @given(
        which=st.integers(0, len(rules) - 1),
        parts=st.lists(TEXT, min_size=3, max_size=3),
        query=QUERY,
        who=CREDENTIALS,
        body=st.one_of(JSON, st.binary(max_size=64)),
    )
    def check(which: int, parts: list[str], query: dict[str, str], who: str, body: Any) -> None:
        rule, methods = rules[which]
        # What a client can send: text encodes to UTF-8 (a lone surrogate is no character).
        parts = [_sendable(p) for p in parts]
        query = {_sendable(k): _sendable(v) for k, v in query.items()}
        url = _fill(rule, parts)
        client = admin if rule.startswith("/admin") else analyst if who == "analyst" else anon
        extra = {**headers[who], **ORIGIN}
        if "GET" in methods:
            _no_500(client.get(url, query_string=query, headers=extra), (rule, query, who), found)
        if "POST" in methods:
            if rule in ("/login", "/account/password"):
                data = {"csrf_token": _csrf(client, rule), **query}
                data.setdefault("username", parts[0])
                data.setdefault("password", parts[1])
                resp = client.post(url, data=data, headers=extra)
            elif isinstance(body, bytes):
                resp = client.post(url, data=body, query_string=query, headers=extra)
            else:
                resp = client.post(url, json=body, query_string=query, headers=extra)
            _no_500(resp, (rule, query, who, body), found)

    check()
    # Partner posts with hostile events: items with NUL ids, deep JSON, non-object properties.
    for body in (
        [{"id": "a\x00b", "occurred_at": "2023-02-10T10:00:00Z", "lat": 42.3, "lon": -71.0}],
        [{"id": "x", "occurred_at": "2023-02-10T10:00:00Z", "lat": 1e308, "lon": "NaN"}],
        {"type": "FeatureCollection", "features": [{"properties": [1, 2], "geometry": None}]},
        {"type": "FeatureCollection", "features": [{"properties": "x", "geometry": "y"}]},
    ):
        resp = anon.post("/api/v1/events", json=body, headers=bearer(key))
        _no_500(resp, body, found)
    resp = anon.post(
        "/api/v1/events", data=DEEP, content_type="application/json", headers=bearer(key)
    )
    _no_500(resp, "deep JSON", found)
    for route in ("/export/download", "/briefing/download"):  # deep JSON in the state
        _no_500(analyst.get(route, query_string={"state": "[" * 5_000}), route, found)
    assert not found, "\n".join(map(str, found))


def _flag(engine: Engine) -> str:
    from sqlalchemy import select

    from store.flag_writes import upsert_flags
    from store.models import Flag
    from testkit.security_kit import event_frame, flag_candidate

    frame = event_frame(engine)
    green = frame[frame["handling"] == "TLP:GREEN"]
    with session_scope(engine) as s:
        upsert_flags(s, [flag_candidate(green, "TLP:GREEN", "fuzz")], gap_s=3600.0)
        return str(s.execute(select(Flag.public_id)).scalar_one())  # what the browser holds


def test_the_inputs_the_red_team_listed_get_a_4xx_or_a_message(
    engine: Engine, settings: Settings
) -> None:
    """Bad cell ids, NaN and 1e308, bad dates, malformed areas, NUL bytes, a long assignee."""
    app, _ = _world(engine, settings)
    flag_id = _flag(engine)
    client = app.server.test_client()
    assert sign_in(client, "analyst") == 302
    deps = client.get("/_dash-dependencies").get_json()
    found: list[Any] = []

    def post(output: str, values: dict[str, Any], changed: str) -> str:
        cb = next(c for c in deps if output in c["output"])
        body = json.dumps(callback_payload(cb, values, [changed]))
        resp = client.post(
            "/_dash-update-component", data=body, content_type="application/json", headers=ORIGIN
        )
        _no_500(resp, (output, values), found)
        return resp.get_data().decode("utf-8", "replace")

    window = {"preset": "all"}
    for cell in ("zzz", "8a2a1072b59ffff", "ffffffffffffffff", "-1", "0", "\x00", "8" * 40):
        post("cell-panel.hidden", {"map-graph.clickData": {"points": [{"location": cell}]}}, "x")
    post("cell-panel.hidden", {"map-graph.clickData": {"points": "8a2a1072b59ffff"}}, "x")
    post("cell-panel.hidden", {"map-graph.clickData": {"points": [["a"], 1, None]}}, "x")
    for number in ("NaN", "1e308", "-1e308", "Infinity"):
        value = json.loads(number)  # NaN and Infinity as Python's JSON reads (and sends) them
        post(
            "map-spec.data", {"hex-res.value": value, "window-store.data": window}, "hex-res.value"
        )
        post("flag-message.children", {"flag-snooze-hours.value": value}, "x")
    for start, end in (("2023-13-45", "2023-02-30"), ("\x00", "x"), ("0000-00-00", "9999-99-99")):
        values = {"window-preset.value": "custom", "custom-range.start_date": start}
        post("window-store.data", {**values, "custom-range.end_date": end}, "window-preset.value")
        store = {"preset": "custom", "start": start, "end": end}
        post("map-spec.data", {"window-store.data": store}, "window-store.data")
    areas = [
        {"type": "box", "bbox": [1e308, "x", None, float("nan")]},
        {"type": "box", "bbox": "abcd"},
        {"type": "lasso", "points": [[1, 2], [3], "ab", None]},
        {"type": "lasso", "points": [[1e308, 2], [3, 4], [5, 6]]},
        {"type": "lasso", "points": {"a": 1}},
        {"type": "region", "id": "\x00"},
        {"type": "hazard", "id": 2**80},
    ]
    for area in areas:
        for output in ("map-spec.data", "area-summary.children", "cell-panel.hidden"):
            values = {"filter-store.data": {"area": area}, "window-store.data": window}
            values["map-graph.clickData"] = {"points": [{"location": "8a2a1072b59ffff"}]}
            post(output, values, "filter-store.data")
    for bad in ("a\x00b", "\x00"):
        store = {"categories": [bad], "agencies": [bad], "caveats": [bad]}
        for output in ("map-spec.data", "timeline-graph.figure", "area-summary.children"):
            post(output, {"filter-store.data": store, "window-store.data": window}, "x")
        post("filter-store.data", {"filter-categories.value": [bad]}, "filter-categories.value")
    # A long assignee is a message in the panel.
    values = {
        "flag-apply.n_clicks": 1,
        "flags-grid.selectedRows": [{"id": flag_id}],
        "flag-action.value": "assign",
        "flag-assignee.value": "x" * 500,
    }
    shown = post("flag-message.children", values, "flag-apply.n_clicks")
    assert "at most 128 characters" in shown
    assert not found, "\n".join(map(str, found))
