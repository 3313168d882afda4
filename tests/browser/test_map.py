"""What a watch officer sees on the first screen, in headless Chromium."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from testkit.browser import open_dashboard

GRAPH = "#map-graph .js-plotly-plot"
TRACES_JS = f"""
const gd = document.querySelector('{GRAPH}');
if (!gd || !gd.data) return null;
// Hexagons keep the viewport's geometry and leave empty cells undrawn: count what is drawn.
return gd.data.map(t => ({{uid: t.uid, count: t.meta ? t.meta.count : null,
                          n: t.uid === 'hexes' ? t.meta.count : (t.lon || t.locations || []).length,
                          cells: (t.locations || []).length}}));
"""


def _traces(browser: webdriver.Chrome) -> dict[str, dict[str, Any]] | None:
    data = browser.execute_script(TRACES_JS)
    return {t["uid"]: t for t in data} if data else None


def _summary(browser: webdriver.Chrome, layer: str) -> int | None:
    text = browser.find_element(By.ID, f"summary-count-{layer}").text
    return int(text.replace(",", "")) if re.fullmatch(r"[\d,]+", text) else None


def _wait(browser: webdriver.Chrome, condition, timeout: float = 30):  # type: ignore[no-untyped-def]
    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(lambda d: condition(d))


def _open(browser: webdriver.Chrome, live_app: str) -> dict[str, dict[str, Any]]:
    open_dashboard(browser, live_app)
    return _wait(
        browser,
        lambda d: (t := _traces(d)) and {"hexes", "suspicious", "incidents"} <= t.keys() and t,
    )


def test_map001_first_screen_shows_every_layer_with_counts(
    browser: webdriver.Chrome, live_app: str, tmp_path_factory
) -> None:
    traces = _open(browser, live_app)
    # The MapLibre map itself is drawn (a WebGL canvas), with the offline basemap and no tiles.
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"{GRAPH} canvas.maplibregl-canvas"))
    layout = browser.execute_script(f"return document.querySelector('{GRAPH}').layout.map")
    assert layout["style"] == "white-bg"
    assert layout["layers"][0]["source"].endswith("/assets/basemap/counties.geojson")
    for uid in ("hexes", "suspicious", "incidents"):
        assert traces[uid]["n"] > 0, uid
    site_traces = [t for uid, t in traces.items() if uid.startswith("sites-")]
    assert len(site_traces) >= 4 and sum(t["n"] for t in site_traces) > 900
    _wait(browser, lambda d: _summary(d, "suspicious"))
    assert _summary(browser, "suspicious") == traces["suspicious"]["n"] > 0
    assert _summary(browser, "hexes") == traces["hexes"]["n"]
    assert "Data through 2023-03-08 21:48 EST" in browser.find_element(By.ID, "data-through").text
    assert "TLP:AMBER" in browser.find_element(By.ID, "marking-banner").text
    shots = tmp_path_factory.mktemp("shots")
    browser.save_screenshot(str(Path(shots) / "first_screen.png"))


def test_map002_layer_toggle_removes_and_restores_a_layer(
    browser: webdriver.Chrome, live_app: str
) -> None:
    _open(browser, live_app)
    toggle = browser.find_element(
        By.XPATH, "//*[@id='layer-toggles']//label[contains(., 'Suspicious events')]//input"
    )
    toggle.click()
    _wait(
        browser, lambda d: (t := _traces(d)) is not None and "suspicious" not in t and "hexes" in t
    )
    toggle.click()
    traces = _wait(browser, lambda d: (t := _traces(d)) and "suspicious" in t and t)
    assert traces["suspicious"]["n"] > 0


def test_map003_all_time_window_counts_every_geolocated_report(
    browser: webdriver.Chrome, live_app: str
) -> None:
    _open(browser, live_app)
    thirty_days = _summary(browser, "suspicious")
    browser.find_element(By.XPATH, "//*[@id='window-preset']//label[contains(., 'All')]").click()
    _wait(browser, lambda d: _summary(d, "suspicious") not in (None, thirty_days))
    # 2,594 geolocated suspicious reports in the demo kit (integration tests derive the number).
    assert _summary(browser, "suspicious") == 2594
    assert _summary(browser, "incidents") == 12045 - 2594
    assert "every report" in browser.find_element(By.ID, "window-text").text


def test_map004_no_console_errors_and_no_request_leaves_the_machine(
    browser: webdriver.Chrome, live_app: str
) -> None:
    browser.get_log("browser")  # drop what earlier tests left
    browser.get_log("performance")
    _open(browser, live_app)
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"{GRAPH} canvas.maplibregl-canvas"))
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == []
    hosts = set()
    for entry in browser.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            url = urlparse(msg["params"]["request"]["url"])
            if url.scheme in ("http", "https", "ws", "wss"):
                hosts.add(url.hostname)
    assert hosts == {"127.0.0.1"}
    # A laptop's window (~560 px of page height): the page scrolls and the map keeps its height.
    # Squeezed to ~160 px, plotly stopped with "Something went wrong with axis scaling" and drew
    # no map at all.
    size = browser.get_window_size()
    before = browser.execute_script(MAP_HEIGHT_JS)
    browser.set_window_size(1100, 700)
    try:
        height = _wait(browser, lambda d: (h := d.execute_script(MAP_HEIGHT_JS)) != before and h)
        assert height >= 250
        time.sleep(1)  # plotly redraws on the resize; its errors come then
        assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    finally:
        browser.set_window_size(size["width"], size["height"])


MAP_HEIGHT_JS = "return document.querySelector('#map-graph').getBoundingClientRect().height;"


HEX_JS = f"""
const gd = document.querySelector('{GRAPH}');
const t = gd && gd.data && gd.data.find(t => t.uid === 'hexes');
if (!t) return null;
return {{geometry: t.geojson ? t.geojson.features.length : null, cells: t.locations.length,
         colour: t.meta.colour, zmin: t.zmin, drawn: t.meta.count,
         first: t.locations[t.z.findIndex(v => v !== null)]}};
"""


def test_map005_colour_change_sends_values_and_keeps_geometry(
    browser: webdriver.Chrome, live_app: str
) -> None:
    _open(browser, live_app)
    before = _wait(browser, lambda d: d.execute_script(HEX_JS))
    assert before["colour"] == "total" and before["geometry"] == before["cells"] > 0
    browser.find_element(By.XPATH, "//*[@id='hex-colour']//label[contains(., 'Change')]").click()
    after = _wait(
        browser, lambda d: (h := d.execute_script(HEX_JS)) and h["colour"] == "change" and h
    )
    # Same cells, same geometry in the browser; a diverging scale centred on zero.
    assert after["cells"] == before["cells"] and after["geometry"] == before["geometry"]
    assert after["zmin"] < 0


def test_map006_playback_steps_the_window_and_every_layer(
    browser: webdriver.Chrome, live_app: str
) -> None:
    _open(browser, live_app)
    browser.find_element(By.XPATH, "//*[@id='window-preset']//label[contains(., '7 days')]").click()
    _wait(browser, lambda d: "2023-03-02" in d.find_element(By.ID, "window-text").text)
    # The 7-day window ends at the newest report: step it back first with a brushed range.
    browser.execute_script(
        "const gd = document.querySelector('#timeline-graph .js-plotly-plot');"
        "gd.emit('plotly_selected',"
        " {points: [], range: {x: ['2023-02-01 00:00', '2023-02-07 12:00']}});"
    )
    _wait(
        browser,
        lambda d: "Showing 2023-02-01 00:00 to 2023-02-08 00:00"
        in d.find_element(By.ID, "window-text").text,
    )
    brushed = _summary(browser, "suspicious")
    browser.find_element(By.ID, "play-button").click()
    _wait(
        browser, lambda d: "Showing 2023-02-02 00:00" in d.find_element(By.ID, "window-text").text
    )
    browser.find_element(By.ID, "play-button").click()
    assert _wait(browser, lambda d: "Play" in d.find_element(By.ID, "play-button").text)
    assert brushed is not None and _summary(browser, "suspicious") is not None


def test_map007_clicking_a_hexagon_lists_its_events(
    browser: webdriver.Chrome, live_app: str
) -> None:
    _open(browser, live_app)

    def click(d: webdriver.Chrome) -> tuple[str, str] | None:
        """Click the first hexagon with a value; its title, or None to click again.

        A click landing while the map is redrawn (the first live version redraws it) can be
        lost, as a user's can: the user, and this test, click again.
        """
        hexes = d.execute_script(HEX_JS)
        if not hexes:
            return None
        d.execute_script(
            "const gd = document.querySelector(arguments[1]);"
            "const i = gd.data.findIndex(t => t.uid === 'hexes');"
            "const k = gd.data[i].locations.indexOf(arguments[0]);"
            "gd.emit('plotly_click', {points: [{curveNumber: i, pointNumber: k, pointIndex: k,"
            " location: arguments[0], z: gd.data[i].z[k]}]});",
            hexes["first"],
            GRAPH,
        )
        try:
            title = WebDriverWait(d, 5, poll_frequency=0.2).until(
                lambda d: d.find_element(By.ID, "cell-title").text
            )
        except TimeoutException:
            return None
        return hexes["first"], title

    first, title = _wait(browser, click, timeout=60)
    assert first in title
    shown = int(re.search(r": ([\d,]+) events", title).group(1).replace(",", ""))
    rows = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#cell-grid .ag-row"))
    assert shown > 0 and 0 < len(rows) <= 20
    assert "Sites in this hexagon" in browser.find_element(By.ID, "cell-sites").text


RES_JS = f"""
const gd = document.querySelector('{GRAPH}');
const t = gd && gd.data && gd.data.find(t => t.uid === 'hexes');
if (!t || !t.locations || !t.locations.length) return null;
return {{res: t.meta.res, cellRes: parseInt(t.locations[0][1], 16), zoom: gd.layout.map.zoom,
         polygons: t.geojson.features.length, cells: t.locations.length}};
"""


ZOOM_JS = f"return document.querySelector('{GRAPH}').layout.map.zoom;"


def _scroll_to(browser: webdriver.Chrome, done: Any) -> None:
    """Spin the mouse wheel over the map, a turn at a time, until ``done(zoom)`` holds.

    A turn is a wheel delta of 1000 (MapLibre zooms ~0.85 levels for it; a single notch of 100
    moves ~0.15): each turn redraws the map in software WebGL, so fewer turns, less time.
    """
    canvas = browser.find_element(By.CSS_SELECTOR, "#map-graph .maplibregl-canvas")
    for _ in range(40):
        zoom = browser.execute_script(ZOOM_JS)
        if done(zoom):
            return
        delta = -1000 if done(zoom + 5) else 1000  # in if a higher zoom satisfies, else out
        ActionChains(browser).scroll_from_origin(
            ScrollOrigin.from_element(canvas), 0, delta
        ).perform()
        time.sleep(0.4)
    raise AssertionError(f"the map did not reach the zoom (at {zoom})")


def test_map008_hexagon_resolution_follows_the_zoom(
    browser: webdriver.Chrome, live_app: str
) -> None:
    _open(browser, live_app)
    start = _wait(browser, lambda d: d.execute_script(RES_JS))
    assert start["res"] == start["cellRes"] == 8  # the demo opens at zoom 10: resolution 8
    _scroll_to(browser, lambda z: z >= 12.2)
    fine = _wait(browser, lambda d: (r := d.execute_script(RES_JS)) and r["res"] == 10 and r)
    # The cells the browser drew polygons for are resolution-10 cells, one polygon each, and
    # the redraw kept the user's zoom (uirevision).
    assert fine["cellRes"] == 10 and fine["polygons"] == fine["cells"] > 0
    assert fine["zoom"] >= 12
    _scroll_to(browser, lambda z: z <= 10.2)
    back = _wait(browser, lambda d: (r := d.execute_script(RES_JS)) and r["res"] == 8 and r)
    assert back["cellRes"] == 8 and back["zoom"] <= 10.2
