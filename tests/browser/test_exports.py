"""An analyst picks a county, exports what is on screen and makes a briefing, in Chromium."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyogrio
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from testkit.browser import make_driver, open_dashboard


@pytest.fixture
def downloads(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def analyst_browser(downloads: Path) -> Iterator[webdriver.Chrome]:
    driver = make_driver(download_dir=downloads)
    yield driver
    driver.quit()


def _wait(driver: webdriver.Chrome, condition, timeout: float = 60):  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))


def _downloaded(folder: Path, suffix: str) -> Path | None:
    done = [p for p in folder.iterdir() if p.suffix == suffix]
    partial = [p for p in folder.iterdir() if p.suffix == ".crdownload"]
    return done[0] if done and not partial else None


def _export(driver: webdriver.Chrome, downloads: Path, suffix: str) -> Path:
    """Click Export, follow the job's progress to the end, click its link; return the file."""
    driver.find_element(By.ID, "export-button").click()
    status = driver.find_element(By.ID, "export-status-text")
    _wait(driver, lambda d: status.text.startswith("Ready:"), timeout=120)
    done, total = re.match(r"Ready: ([\d,]+) of ([\d,]+) rows", status.text).groups()  # type: ignore[union-attr]
    bar = driver.find_element(By.ID, "export-progress")
    assert done == total and bar.get_attribute("value") == bar.get_attribute("max")
    link = driver.find_element(By.ID, "export-file-link")
    assert link.is_displayed() and "/export/jobs/" in (link.get_attribute("href") or "")
    link.click()
    return _wait(driver, lambda d: _downloaded(downloads, suffix))


def _count(driver: webdriver.Chrome, layer: str) -> int:
    return int(driver.find_element(By.ID, f"summary-count-{layer}").text.replace(",", ""))


def _audited(db: Path, username: str) -> list[str]:
    """The audit actions of ``username`` since their last sign-in, oldest first."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT action FROM audit_log WHERE username = ? AND id >= "
            "(SELECT max(id) FROM audit_log WHERE username = ? AND action = 'signin') ORDER BY id",
            (username, username),
        ).fetchall()
    return [r[0] for r in rows]


def test_exp001_county_export_and_briefing_download(
    analyst_browser: webdriver.Chrome, live_app: str, live_db: Path, downloads: Path
) -> None:
    d = analyst_browser
    open_dashboard(d, live_app, username="demo-analyst")
    _wait(d, lambda d: d.find_element(By.ID, "summary-count-suspicious").text.strip("—"))
    before = _count(d, "incidents")
    d.find_element(By.XPATH, "//*[@id='area-type']//label[contains(., 'County')]//input").click()
    choice = _wait(d, lambda d: d.find_element(By.CSS_SELECTOR, "#area-choice input"))
    _wait(d, lambda d: choice.is_enabled())
    choice.send_keys("Suffolk")
    choice.send_keys(Keys.ENTER)
    _wait(d, lambda d: "Area: Suffolk" in d.find_element(By.ID, "area-summary").text)
    link = d.find_element(By.ID, "briefing-link")
    _wait(d, lambda d: "region" in (link.get_attribute("href") or ""))
    # The map now counts what is inside Suffolk only (Boston is; a few reports are outside).
    _wait(d, lambda d: _count(d, "incidents") <= before)
    suspicious, incidents = _count(d, "suspicious"), _count(d, "incidents")
    gpkg = _export(d, downloads, ".gpkg")
    layers = set(pyogrio.list_layers(gpkg)[:, 0])
    assert {"suspicious", "incidents", "hexes", "regions", "hazards"} <= layers
    assert len(pyogrio.read_dataframe(gpkg, layer="suspicious")) == suspicious > 0
    assert len(pyogrio.read_dataframe(gpkg, layer="incidents")) == incidents > 0
    hexes = pyogrio.read_dataframe(gpkg, layer="hexes")
    assert int(hexes["total"].sum()) == suspicious + incidents

    d.find_element(By.ID, "briefing-link").click()
    pdf = _wait(d, lambda d: _downloaded(downloads, ".pdf"), timeout=120)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Regional picture: Suffolk" in text and text.count("TLP:AMBER") >= 2
    # The briefing counts what the map counted for the same screen.
    assert f"Events: {suspicious + incidents}" in text
    assert not [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    # One "map filters applied" entry for the first screen and one for the county: no more.
    assert _audited(live_db, "demo-analyst") == [
        "signin",
        "map.filter",
        "map.filter",
        "export",
        "briefing",
    ]


def test_exp002_a_link_carries_the_filters_and_the_county(
    analyst_browser: webdriver.Chrome, live_app: str, live_db: Path
) -> None:
    """A view URL with a category and a county opens with both chosen, and keeps them."""
    from urllib.parse import parse_qs, quote, urlparse

    with sqlite3.connect(live_db) as conn:
        (suffolk,) = conn.execute(
            "SELECT id FROM areas WHERE kind = 'region' AND name = 'Suffolk'"
        ).fetchone()
        (category,) = conn.execute(
            "SELECT category FROM events WHERE kind = 'incident' "
            "GROUP BY category ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
    d = analyst_browser
    query = f"?w=all&cat={quote(category)}&area=region:{suffolk}"
    open_dashboard(d, live_app, "/" + query, username="demo-analyst")
    if "area=region" not in d.current_url:  # the sign-in page came in between
        d.get(live_app + "/" + query)
    # All time (so the reference below needs no window): the county is chosen in its menu.
    _wait(d, lambda d: d.find_element(By.CSS_SELECTOR, "#area-choice .Select-value-label").text)
    assert d.find_element(By.CSS_SELECTOR, "#area-choice .Select-value-label").text == "Suffolk"
    chosen = _wait(
        d, lambda d: d.find_elements(By.CSS_SELECTOR, "#filter-categories .Select-value-label")
    )
    assert [c.text.strip() for c in chosen] == [category]
    # The map counts that category inside Suffolk: as a shapely reference over the stored rows.
    expected = _incidents_inside(live_db, suffolk, category)
    assert expected > 0
    _wait(d, lambda d: _count(d, "incidents") == expected)
    # The address bar keeps describing the filtered view.
    _wait(d, lambda d: "area=region" in d.current_url and "cat=" in d.current_url)
    params = parse_qs(urlparse(d.current_url).query)
    assert params["area"] == [f"region:{suffolk}"] and params["cat"] == [category]
    assert not [e for e in d.get_log("browser") if e["level"] == "SEVERE"]


def _incidents_inside(db: Path, area_id: int, category: str) -> int:
    """Visible incidents of ``category`` strictly inside the area, counted outside the app."""
    import shapely

    from domain.roles import Role, Viewer
    from rules.visibility import may_see
    from store.engine import make_engine, session_scope
    from store.queries.areas import area_shape

    engine = make_engine(f"sqlite:///{db}")
    try:
        with session_scope(engine) as s:
            shape = area_shape(session=s, viewer=Viewer.system(), area_id=area_id)
    finally:
        engine.dispose()
    assert shape is not None
    analyst = Viewer("demo-analyst", Role.ANALYST, agency="MA-CFC")
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT lon, lat, handling, source_agency FROM events "
            "WHERE kind = 'incident' AND category = ?",
            (category,),
        ).fetchall()
    seen = [r for r in rows if may_see(analyst, handling=r[2], source_agency=r[3])]
    if not seen:
        return 0
    lon, lat = zip(*[(r[0], r[1]) for r in seen], strict=True)
    return int(shapely.contains_xy(shape, lon, lat).sum())


def test_exp003_export_job_shows_progress_and_sends_the_file(
    analyst_browser: webdriver.Chrome, live_app: str, downloads: Path
) -> None:
    """Export the incidents as GeoJSON: the bar counts rows up to the map's count; file arrives."""
    d = analyst_browser
    open_dashboard(d, live_app, username="demo-analyst")
    _wait(d, lambda d: d.find_element(By.ID, "summary-count-incidents").text.strip("—"))
    incidents = _count(d, "incidents")
    for menu, label in (("export-layer", "incidents"), ("export-format", "GeoJSON")):
        box = d.find_element(By.CSS_SELECTOR, f"#{menu} input")
        box.send_keys(label)
        box.send_keys(Keys.ENTER)
        _wait(d, lambda d, m=menu, t=label: t in d.find_element(By.ID, m).text)
    d.find_element(By.ID, "export-button").click()
    status = d.find_element(By.ID, "export-status-text")
    seen: list[str] = []

    def finished(_d: webdriver.Chrome) -> bool:
        text = status.text
        seen.append(text)
        return text.startswith("Ready:")

    _wait(d, finished, timeout=120)
    # Every state shown on the way counts against the same total, the map's count, never down.
    counts = [re.match(r"(?:Ready: )?([\d,]+) of ([\d,]+) rows", t) for t in seen]
    pairs = [(int(m[1].replace(",", "")), int(m[2].replace(",", ""))) for m in counts if m]
    assert pairs and {total for _, total in pairs} == {incidents}
    assert [done for done, _ in pairs] == sorted(done for done, _ in pairs)
    assert pairs[-1] == (incidents, incidents)
    bar = d.find_element(By.ID, "export-progress")
    assert bar.get_attribute("value") == bar.get_attribute("max") == str(incidents)
    d.find_element(By.ID, "export-file-link").click()
    geojson = _wait(d, lambda d: _downloaded(downloads, ".geojson"))
    frame = pyogrio.read_dataframe(geojson)
    assert len(frame) == incidents > 1000 and set(frame["kind"]) == {"incident"}
    assert not [e for e in d.get_log("browser") if e["level"] == "SEVERE"]


# A lasso path around central Boston, in pixels from the map's centre (Selenium 4 offsets).
LASSO_PX = [(-90, -70), (60, -85), (110, -10), (70, 75), (-40, 90), (-110, 20)]
UNPROJECT_JS = """
const gd = document.querySelector('#map-graph .js-plotly-plot');
const map = gd._fullLayout.map._subplot.map;
const box = map.getContainer().getBoundingClientRect();
const graph = document.getElementById('map-graph').getBoundingClientRect();
const cx = graph.left + graph.width / 2, cy = graph.top + graph.height / 2;
return arguments[0].map(([dx, dy]) => {
  const p = map.unproject([cx + dx - box.left, cy + dy - box.top]);
  return [p.lng, p.lat];
});
"""


def _last_export_details(db: Path, username: str) -> dict:  # type: ignore[type-arg]
    import json

    with sqlite3.connect(db) as conn:
        (details,) = conn.execute(
            "SELECT details FROM audit_log WHERE username = ? AND action = 'export' "
            "ORDER BY id DESC LIMIT 1",
            (username,),
        ).fetchone()
    return json.loads(details)


def _inside(db: Path, polygon: list[list[float]], start: str, end: str) -> dict[str, set[str]]:
    """External ids per kind of the analyst's visible events in the window inside ``polygon``,
    read from the database file and tested with shapely (outside the app)."""
    import pandas as pd
    import shapely

    from domain.roles import Role, Viewer
    from rules.visibility import may_see

    analyst = Viewer("demo-analyst", Role.ANALYST, agency="MA-CFC")
    with sqlite3.connect(db) as conn:
        rows = pd.read_sql_query(
            "SELECT external_id, kind, occurred_at, lon, lat, handling, source_agency FROM events",
            conn,
        )
    at = pd.to_datetime(rows["occurred_at"], utc=True)
    rows = rows[(at >= pd.Timestamp(start)) & (at < pd.Timestamp(end))]
    seen = [
        may_see(analyst, handling=h, source_agency=a)
        for h, a in zip(rows["handling"], rows["source_agency"], strict=True)
    ]
    rows = rows[seen]
    inside = shapely.contains_xy(shapely.Polygon(polygon), rows["lon"], rows["lat"])
    rows = rows[inside]
    return {
        kind: set(rows.loc[rows["kind"] == kind, "external_id"])
        for kind in ("suspicious", "incident")
    }


def test_exp004_a_drawn_lasso_limits_the_summary_and_the_export(
    analyst_browser: webdriver.Chrome, live_app: str, live_db: Path, downloads: Path
) -> None:
    """Draw a lasso with real mouse drags on the map: the summary and the export hold its inside."""
    from selenium.webdriver.common.action_chains import ActionChains

    d = analyst_browser
    open_dashboard(d, live_app, username="demo-analyst")
    _wait(d, lambda d: d.find_element(By.ID, "summary-count-incidents").text.strip("—"))
    everything = _count(d, "incidents") + _count(d, "suspicious")
    d.find_element(By.XPATH, "//*[@id='area-type']//label[contains(., 'Drawn')]//input").click()
    graph = d.find_element(By.ID, "map-graph")
    # The mode bar shows on hover; pick the lasso tool in it, as a user does.
    ActionChains(d).move_to_element(graph).perform()
    lasso = _wait(
        d,
        lambda d: d.find_element(
            By.CSS_SELECTOR, "#map-graph .modebar-btn[data-title='Lasso Select']"
        ),
    )
    ActionChains(d).move_to_element(lasso).click().perform()
    _wait(
        d,
        lambda d: d.execute_script(
            "return document.querySelector('#map-graph .js-plotly-plot')._fullLayout.dragmode"
        )
        == "lasso",
    )
    drawn = d.execute_script(UNPROJECT_JS, [list(p) for p in LASSO_PX])
    # One move per corner: plotly's lasso is the polygon of the mouse's positions, and it
    # re-styles every point trace on each move (with software WebGL, ~0.5 s a move).
    chain = ActionChains(d, duration=50)
    chain.move_to_element_with_offset(graph, *LASSO_PX[0]).click_and_hold()
    for point in [*LASSO_PX[1:], LASSO_PX[0]]:
        chain.move_to_element_with_offset(graph, *point)
    chain.release().perform()
    summary = _wait(d, lambda d: "Area: drawn area" in d.find_element(By.ID, "area-summary").text)
    assert summary
    totals = d.find_element(By.ID, "area-summary-totals").text
    in_summary = int(re.match(r"([\d,]+) events", totals)[1].replace(",", ""))  # type: ignore[index]
    gpkg = _export(d, downloads, ".gpkg")
    details = _last_export_details(live_db, "demo-analyst")
    with sqlite3.connect(live_db) as conn:  # the job keeps the full state; the audit its digest
        (state,) = conn.execute(
            "SELECT state FROM export_jobs WHERE username = 'demo-analyst' "
            "ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    polygon = json.loads(state)["area"]["points"]
    audited = details["state"]["area"]
    assert audited["type"] == "lasso" and audited["vertices"] == len(polygon)
    canonical = json.dumps(polygon, separators=(",", ":"), sort_keys=True).encode()
    assert audited["sha256"] == hashlib.sha256(canonical).hexdigest()
    # The polygon the app used is the path the mouse drew (within a few metres).
    import shapely

    drawn_shape, used_shape = shapely.Polygon(drawn), shapely.Polygon(polygon)
    assert drawn_shape.symmetric_difference(used_shape).area < 0.05 * drawn_shape.area
    window = details["filters"]
    expected = _inside(live_db, polygon, window["start_at"], window["end_at"])
    suspicious = pyogrio.read_dataframe(gpkg, layer="suspicious")
    incidents = pyogrio.read_dataframe(gpkg, layer="incidents")
    assert set(suspicious["external_id"]) == expected["suspicious"]
    assert set(incidents["external_id"]) == expected["incident"]
    assert len(suspicious) + len(incidents) == in_summary
    # The lasso really cut: something inside, and less than the whole screen.
    assert 0 < in_summary < everything
    assert not [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
