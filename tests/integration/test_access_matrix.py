"""Every route and every registered Dash callback, anonymous and per role, gets the right answer."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from rules.capabilities import MATRIX, Capability
from settings import Settings
from store.engine import session_scope
from testkit.security_kit import USERS, callback_payload, make_users, sign_in

# Routes anybody may call: liveness, the sign-in page and its stylesheet.
# Probes for load balancers (issue #8) answer without a session, and say nothing about data.
PUBLIC = {"/healthz", "/livez", "/readyz", "/login", "/signin-static/<filename>"}
# Routes that need a capability beyond being signed in.
ROUTE_CAPABILITY = {
    "/admin/audit": Capability.READ_AUDIT,
    "/admin/audit.csv": Capability.READ_AUDIT,
    "/export/download": Capability.EXPORT,
    "/briefing/download": Capability.EXPORT,
    "/export/jobs/<job_id>": Capability.EXPORT,
    "/export/jobs/<job_id>/file": Capability.EXPORT,
}
# Routes of one object: allowed callers get 404 for the made-up id (and others 403 first).
NOT_FOUND_WHEN_ALLOWED = {"/export/jobs/<job_id>", "/export/jobs/<job_id>/file"}
# Every Dash callback, by its output, and the capability it requires. A new callback fails
# this test until it is added here (and calls rules.capabilities.require).
CALLBACK_CAPABILITY = {
    "map-spec.data": Capability.VIEW_MAP,
    "window-store.data": Capability.VIEW_MAP,
    "hex-res-auto.value": Capability.VIEW_MAP,
    "timeline-graph.figure": Capability.VIEW_MAP,
    "play-interval.disabled": Capability.VIEW_MAP,
    "cell-panel.hidden": Capability.VIEW_DETAILS,
    "upload-filename.children": Capability.IMPORT,
    "upload-summary.children": Capability.IMPORT,
    "upload-download.data": Capability.IMPORT,
    "flags-grid.rowData": Capability.VIEW_MAP,
    "flag-detail.children": Capability.VIEW_DETAILS,
    "flag-message.children": Capability.MANAGE_FLAGS,
    "filter-categories.options": Capability.VIEW_MAP,
    "area-choice.options": Capability.VIEW_MAP,
    "filter-store.data": Capability.VIEW_MAP,
    # The link only carries the screen state; the route itself requires EXPORT.
    "briefing-link.href": Capability.VIEW_MAP,
    # Export jobs (issue #7): starting one and polling it.
    "export-job.data": Capability.EXPORT,
    "export-status.hidden": Capability.EXPORT,
    "area-summary.children": Capability.VIEW_MAP,
    # Live watch desk (issue #8).
    "data-version.data": Capability.VIEW_MAP,
    "theme.value": Capability.VIEW_MAP,
    "feed-list.children": Capability.VIEW_MAP,
    "alert-toast.hidden": Capability.VIEW_MAP,
    "view-query.data": Capability.VIEW_MAP,
    "layer-toggles.value": Capability.VIEW_MAP,
}
# Routes that change state (POST only); they are checked with a same-origin POST.
POST_ONLY = {"/logout", "/_dash-update-component", "/api/v1/events"}
# Read routes that check their own credentials (partner key or HTTP Basic), never the session
# cookie: every one is listed with a URL that exists, so a new one fails until it is added here.
# <fid> is filled in with a TLP:GREEN event every caller may see.
SELF_AUTH = {
    "/api/v1/export": "/api/v1/export?layer=incidents&format=csv",
    "/ogc": "/ogc",
    "/ogc/": "/ogc/",
    "/ogc/api": "/ogc/api",
    "/ogc/conformance": "/ogc/conformance",
    "/ogc/collections": "/ogc/collections",
    "/ogc/collections/<cid>": "/ogc/collections/incidents",
    "/ogc/collections/<cid>/items": "/ogc/collections/incidents/items",
    "/ogc/collections/<cid>/items/<fid>": "/ogc/collections/incidents/items/<fid>",
    # Any other path under /ogc: an OGC 404 document, but only for a caller who may read.
    "/ogc/<rest>": "/ogc/no/such/thing",
}
FOUND = {rule: 404 if rule == "/ogc/<rest>" else 200 for rule in SELF_AUTH}
SKIP = {"/_reload-hash"}  # only answers with hot reload on (debug mode), never in production


def _app(settings: Settings) -> Any:
    from app import create_app

    return create_app(settings)


def _plain(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule)


def _concrete(rule: str, index_html: str) -> str:
    """Turn a URL rule into a URL that exists."""
    if rule == "/signin-static/<filename>":
        return "/signin-static/signin.css"
    if rule == "/assets/<filename>":
        return "/assets/watchfloor.css"
    if rule == "/static/<filename>":
        return "/static/nothing.txt"
    if rule.startswith("/_dash-component-suites/"):
        return re.findall(r'src="(/_dash-component-suites/[^"]+)"', index_html)[0]
    if rule == "/<path>":
        return "/some/page"
    if rule in SELF_AUTH:
        return SELF_AUTH[rule].replace("<fid>", "1")
    return rule


def _get(client: FlaskClient, url: str, headers: dict[str, str] | None = None) -> Any:
    """GET ``url`` and close the response (static files hold an open file until then)."""
    resp = client.get(url, headers=headers)
    resp.get_data()
    resp.close()
    return resp


# Clientside callbacks run in the browser on data the server callbacks above already checked;
# they never reach /_dash-update-component. Listed so a new one is a deliberate choice.
CLIENTSIDE = {
    "map-graph.figure",
    "map-view.data",
    "live-interval.disabled",
    "wf-shell.className",
    "alert-sound-sink.data",
    "view-url-sink.data",
    "flag-token.data",
    "timeline-token.data",
}


def _callbacks(client: FlaskClient) -> list[dict[str, Any]]:
    """The server-side callbacks (clientside ones are checked against CLIENTSIDE)."""
    every = client.get("/_dash-dependencies").get_json()
    assert {_key(cb) for cb in every if cb.get("clientside_function")} == CLIENTSIDE
    return [cb for cb in every if not cb.get("clientside_function")]


def _key(cb: dict[str, Any]) -> str:
    return cb["output"].strip(".").split("...")[0]


def test_every_route_and_callback_per_role(engine: Engine, settings: Settings) -> None:
    make_users(engine, settings)
    app = _app(settings)
    rules = sorted({_plain(r.rule) for r in app.server.url_map.iter_rules()} - SKIP)
    origin = {"Origin": "http://localhost"}

    # Anonymous: only the public routes answer; pages redirect to sign-in, the rest get 401.
    anon = app.server.test_client()
    for rule in rules:
        url = _concrete(rule, "") if "component-suites" not in rule else rule
        if rule in POST_ONLY:
            resp = anon.post(url, json={}, headers=origin)
            assert resp.status_code == 401, rule
            continue
        resp = _get(anon, url)
        if rule in PUBLIC:
            assert resp.status_code == 200, rule
        elif rule in SELF_AUTH:
            assert resp.status_code == 401 and "WWW-Authenticate" in resp.headers, rule
        elif rule.startswith("/_"):
            assert resp.status_code == 401 and resp.get_json() == {"error": "sign-in required"}
        else:
            assert resp.status_code in (302, 401), rule
            if resp.status_code == 302:
                assert resp.headers["Location"].startswith("/login?next="), rule

    signed_in = {}
    for name, (role, _) in USERS.items():
        client = app.server.test_client()
        assert sign_in(client, name) == 302
        signed_in[name] = (client, role)
    callbacks = _callbacks(signed_in["officer"][0])
    assert {_key(cb) for cb in callbacks} == set(CALLBACK_CAPABILITY), "declare new callbacks"
    for cb in callbacks:
        resp = anon.post("/_dash-update-component", json=callback_payload(cb), headers=origin)
        assert resp.status_code == 401, cb["output"]

    for name, (client, role) in signed_in.items():
        index = client.get("/").get_data(as_text=True)
        for rule in rules:
            if rule in POST_ONLY or rule in PUBLIC:
                continue
            resp = _get(client, _concrete(rule, index))
            needed = ROUTE_CAPABILITY.get(rule)
            if rule in SELF_AUTH:
                assert resp.status_code == 401, (name, rule)  # the cookie is no credential there
            elif rule == "/static/<filename>":
                assert resp.status_code == 404, (name, rule)  # signed in, but no such file
            elif rule in NOT_FOUND_WHEN_ALLOWED and needed in MATRIX[role]:
                assert resp.status_code == 404, (name, rule, resp.status_code)
            elif needed is None or needed in MATRIX[role]:
                assert resp.status_code == 200, (name, rule, resp.status_code)
            else:
                assert resp.status_code == 403, (name, rule, resp.status_code)
        for cb in callbacks:
            resp = client.post("/_dash-update-component", json=callback_payload(cb), headers=origin)
            allowed = CALLBACK_CAPABILITY[_key(cb)] in MATRIX[role]
            # 204 is an allowed callback that had nothing to update (no click yet).
            expected = (200, 204) if allowed else (403,)
            assert resp.status_code in expected, (name, cb["output"], resp.status_code)
        # A state-changing request from another site is refused even with a valid session.
        evil = {"Origin": "https://evil.example"}
        resp = client.post(
            "/_dash-update-component", json=callback_payload(callbacks[0]), headers=evil
        )
        assert resp.status_code == 403
        assert client.post("/logout", headers=origin).status_code == 302
        assert client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize("path", ["/login", "/", "/_dash-layout", "/healthz", "/readyz"])
def test_security_headers_on_every_answer(engine: Engine, settings: Settings, path: str) -> None:
    resp = _get(_app(settings).server.test_client(), path)
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert resp.headers["Cache-Control"] == "no-store"


def test_a_role_without_the_capability_gets_403_from_the_callback(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain.roles import Role

    make_users(engine, settings, ("partner-a",))
    client = _app(settings).server.test_client()
    assert sign_in(client, "partner-a") == 302
    cb = _callbacks(client)[0]
    headers = {"Origin": "http://localhost"}
    ok = client.post("/_dash-update-component", json=callback_payload(cb), headers=headers)
    assert ok.status_code == 200
    # Take the map away from partners: the server refuses, whatever the page shows.
    monkeypatch.setitem(MATRIX, Role.PARTNER, frozenset())
    resp = client.post("/_dash-update-component", json=callback_payload(cb), headers=headers)
    assert resp.status_code == 403


def test_read_apis_per_role_and_partner_key(engine: Engine, settings: Settings) -> None:
    from domain.roles import Role, Viewer
    from rules.visibility import may_see
    from security.apikeys import create_key
    from testkit.api_kit import basic, bearer
    from testkit.security_kit import AGENCY_A, two_agency_events

    make_users(engine, settings)
    two_agency_events(engine, settings)
    with session_scope(engine) as s:
        key, _ = create_key(session=s, agency=AGENCY_A)
    client = _app(settings).server.test_client()
    rules = {_plain(r.rule) for r in client.application.url_map.iter_rules()}
    assert {r for r in rules if r.startswith(("/api/", "/ogc"))} - POST_ONLY == set(SELF_AUTH)
    items = client.get("/ogc/collections/incidents/items", headers=basic("analyst")).get_json()
    fid = next(f["id"] for f in items["features"] if f["properties"]["handling"] == "TLP:GREEN")
    callers = {name: basic(name) for name in USERS} | {"key-a": bearer(key)}
    for name, headers in callers.items():
        role = USERS[name][0] if name in USERS else None
        allowed = role is None or Capability.EXPORT in MATRIX[role]
        for rule, url in SELF_AUTH.items():
            resp = _get(client, url.replace("<fid>", str(fid)), headers=headers)
            expected = FOUND[rule] if allowed else 403
            assert resp.status_code == expected, (name, rule, resp.status_code)
    # The partner key reads as a partner of its agency: never another agency's RED or AMBER.
    key_viewer = Viewer("key", Role.PARTNER, AGENCY_A)
    seen = client.get("/ogc/collections/incidents/items", headers=bearer(key)).get_json()
    assert seen["features"] and all(
        may_see(key_viewer, handling=p["handling"], source_agency=p["source_agency"])
        for p in (f["properties"] for f in seen["features"])
    )
    bad = {"Authorization": "Bearer wf_nope_nope"}
    assert _get(client, "/ogc/collections", headers=bad).status_code == 401
