"""Request size limits, bounded audit entries, upload messages and NUL bytes (#18.4, .10, .14).

Each attack of the red-team pass replayed through the real app on both backends: an oversized
callback body, a file over the upload limit, a lasso of thousands of points and a filter of
thousands of names (and what each writes to the audit log), upload errors that named server
temporary paths, a zip holding a CSV, and a partner post with a NUL byte in an id.
"""

from __future__ import annotations

import base64
import io
import json
import re
import tempfile
import zipfile
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from security.apikeys import create_key
from security.audit import DETAILS_MAX_CHARS
from settings import Settings
from store.engine import session_scope
from store.models import AuditEntry, Event
from testkit.api_kit import bearer
from testkit.security_kit import AGENCY_A, callback_payload, make_users, sign_in

ORIGIN = {"Origin": "http://localhost"}
WINDOW = {"preset": "all", "start": None, "end": None}


def _client(settings: Settings, engine: Engine, **overrides: Any) -> FlaskClient:
    from app import create_app

    make_users(engine, settings, ("analyst",))
    client = create_app(settings.model_copy(update=overrides)).server.test_client()
    assert sign_in(client, "analyst") == 302
    return client


def _payload(client: FlaskClient, output: str, values: dict[str, Any], changed: str) -> Any:
    deps = client.get("/_dash-dependencies").get_json()
    payload = callback_payload(next(c for c in deps if output in c["output"]), values, [changed])
    return payload


def _audit(engine: Engine, action: str) -> list[tuple[str, str, str | None]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(AuditEntry.object, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        ).all()
    return [tuple(r) for r in rows]


def _events(engine: Engine) -> int:
    with session_scope(engine) as s:
        return int(s.execute(select(func.count()).select_from(Event)).scalar_one())


def _map(client: FlaskClient, filter_store: dict[str, Any]) -> Any:
    values = {
        "window-store.data": WINDOW,
        "layer-toggles.value": ["hexes"],
        "hex-res.value": 7,
        "filter-store.data": filter_store,
    }
    payload = _payload(client, "map-spec.data", values, "filter-store.data")
    return client.post("/_dash-update-component", json=payload, headers=ORIGIN)


def test_a_body_over_the_server_limit_is_refused_before_it_is_read(
    engine: Engine, settings: Settings
) -> None:
    client = _client(settings, engine, request_max_bytes=20_000)
    area = {"type": "lasso", "points": [[-71.0 + i / 1e4, 42.3] for i in range(2_000)]}
    resp = _map(client, {"area": area})
    assert resp.status_code == 413
    assert "larger than this server accepts" in resp.get_json()["error"]
    assert _audit(engine, "map.filter") == []  # the callback never ran
    # Without a Content-Length (chunked, as gunicorn passes it on), the body is cut off at the
    # limit while it is read.
    body = json.dumps(_payload(client, "map-spec.data", {"filter-store.data": area}, "x"))
    resp = client.post(
        "/_dash-update-component",
        input_stream=io.BytesIO(body.encode()),
        headers={**ORIGIN, "Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert resp.status_code == 413
    # Anonymous callers are refused the same way, before the sign-in gate reads anything.
    from app import create_app

    anon = create_app(settings.model_copy(update={"request_max_bytes": 20_000}))
    resp = anon.server.test_client().post("/login", data={"username": "x" * 30_000})
    assert resp.status_code == 413


def test_the_default_limit_fits_the_largest_upload_as_a_callback_body() -> None:
    settings = Settings()
    assert settings.upload_max_bytes == 50 * 1024 * 1024  # the browser's limit (ui/upload.py)
    encoded = -(-settings.upload_max_bytes // 3) * 4
    assert encoded < settings.request_limit_bytes < encoded + 2 * 1024 * 1024


def _upload(client: FlaskClient, name: str, data: bytes, source: str) -> str:
    url = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
    values = {
        "upload-button.n_clicks": 1,
        "upload-file.contents": url,
        "upload-file.filename": name,
        "upload-kind.value": "suspicious",
        "upload-source.value": source,
    }
    payload = _payload(client, "upload-summary.children", values, "upload-button.n_clicks")
    resp = client.post("/_dash-update-component", json=payload, headers=ORIGIN)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return json.dumps(resp.get_json()["response"]["upload-summary"]["children"])


CSV = "id,occurred_at,lat,lon,category,description\n" + "".join(
    f"r{i},2023-02-10T10:{i % 60:02d}:00Z,42.3{i % 10},-71.0{i % 7},SURVL,looking around\n"
    for i in range(60)
)


def test_a_file_over_the_upload_limit_is_refused_on_the_server(
    engine: Engine, settings: Settings
) -> None:
    client = _client(settings, engine, upload_max_bytes=2_000)
    shown = _upload(client, "big.csv", CSV.encode(), settings.host_agency)
    assert "the Import panel takes files up to" in shown
    assert _events(engine) == 0
    ((obj, outcome, details),) = _audit(engine, "import")
    assert (obj, outcome) == ("big.csv", "error") and "takes files up to" in (details or "")
    # Within the limit the same file goes in.
    assert "takes files up to" not in _upload(client, "small.csv", CSV[:900].encode(), "MA-CFC")


def test_a_lasso_of_thousands_of_points_is_refused_and_audited_in_a_bounded_form(
    engine: Engine, settings: Settings
) -> None:
    client = _client(settings, engine)
    ring = [[-71.1 + 0.1 * (i % 2), 42.3 + i / 1e5] for i in range(5_000)]
    resp = _map(client, {"area": {"type": "lasso", "points": ring}})
    assert resp.status_code == 200
    assert "at most 1,000 points" in resp.get_data(as_text=True)
    ((_, _, details),) = _audit(engine, "map.filter")
    assert details is not None and len(details) < 2_000
    area = json.loads(details)["filters"]["area"]
    assert area["type"] == "lasso" and area["vertices"] == 5_000 and len(area["sha256"]) == 64
    # An area within the limit is used and audited as its size, bounds and digest too.
    square = [[-71.1, 42.3], [-71.0, 42.3], [-71.0, 42.4], [-71.1, 42.4]]
    resp = _map(client, {"area": {"type": "lasso", "points": square}})
    assert "at most 1,000 points" not in resp.get_data(as_text=True)
    area = json.loads(_audit(engine, "map.filter")[-1][2] or "{}")["filters"]["area"]
    assert area["vertices"] == 4 and area["bounds"] == [-71.1, 42.3, -71.0, 42.4]
    assert "points" not in area


def test_every_audit_entry_is_capped(engine: Engine, settings: Settings) -> None:
    client = _client(settings, engine)
    names = [f"category-{i:05d}-" + "x" * 80 for i in range(3_000)]  # ~300 KB of filter
    assert _map(client, {"categories": names}).status_code == 200
    ((_, _, details),) = _audit(engine, "map.filter")
    assert details is not None and len(details) <= DETAILS_MAX_CHARS
    kept = json.loads(details)
    assert kept["res"] == 7 and kept["filters"]["omitted_chars"] > 100_000


def test_upload_errors_name_the_file_never_the_server_path(
    engine: Engine, settings: Settings
) -> None:
    client = _client(settings, engine)
    shown = _upload(client, "partner.gpkg", b"not a geopackage at all", settings.host_agency)
    assert "partner.gpkg: GDAL cannot read it: 'partner.gpkg' not recognized" in shown
    assert tempfile.gettempdir() not in shown and not re.search(r"wf-upload-\w{8}", shown)
    # A zip holding a CSV (not a Shapefile) gets a message, not a 500.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner.csv", CSV)
    shown = _upload(client, "reports.zip", buf.getvalue(), settings.host_agency)
    assert "reports.zip holds no geometries" in shown and tempfile.gettempdir() not in shown


@pytest.mark.parametrize("bad", ["a\x00b", "\x00"])
def test_a_partner_post_with_a_nul_byte_is_a_422_on_both_backends(
    engine: Engine, settings: Settings, bad: str
) -> None:
    from app import create_app

    with session_scope(engine) as s:
        key, _ = create_key(session=s, agency=AGENCY_A)
    client = create_app(settings).server.test_client()
    good = {"occurred_at": "2023-02-10T10:00:00Z", "lat": 42.35, "lon": -71.05}
    body = [{"id": "ok-1", **good}, {"id": bad, **good}, {"id": "ok-2", **good, "note": bad}]
    resp = client.post("/api/v1/events", json=body, headers=bearer(key))
    assert resp.status_code == 422
    errors = resp.get_json()["errors"]
    assert [(e["index"], e["reason"]) for e in errors] == [(1, "bad_text"), (2, "bad_text")]
    assert _events(engine) == 0
    ((_, outcome, _),) = _audit(engine, "import")
    assert outcome == "error"
