"""Sign-in in a real browser: the map after sign-in, nothing after sign-out; user text as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from settings import Settings
from store.engine import make_engine, session_scope
from store.migrate import upgrade
from testkit.browser import open_dashboard, running_app
from testkit.security_kit import MALICIOUS, two_agency_events

GRAPH = "#map-graph .js-plotly-plot"
UIDS_JS = f"""
const gd = document.querySelector('{GRAPH}');
return gd && gd.data ? gd.data.map(t => t.uid) : null;
"""


def _wait(driver: webdriver.Chrome, condition, timeout: float = 30):  # type: ignore[no-untyped-def]
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))


def _path(driver: webdriver.Chrome) -> str:
    return urlparse(driver.current_url).path


def test_sign_in_see_the_map_sign_out_and_back_shows_nothing(
    browser: webdriver.Chrome, live_app: str
) -> None:
    browser.delete_all_cookies()
    browser.get(live_app + "/")
    assert _path(browser) == "/login"  # nothing of the dashboard without signing in
    assert not browser.find_elements(By.CSS_SELECTOR, GRAPH)
    open_dashboard(browser, live_app)
    _wait(browser, lambda d: (u := d.execute_script(UIDS_JS)) and "suspicious" in u)
    assert "demo-officer" in browser.find_element(By.ID, "user-menu").text
    browser.find_element(By.ID, "sign-out").click()
    _wait(browser, lambda d: _path(d) == "/login")
    assert "signed out" in browser.find_element(By.ID, "signin-message").text
    browser.back()
    try:
        _wait(browser, lambda d: _path(d) == "/login" and d.find_elements(By.ID, "signin-form"))
    except TimeoutException:  # say what Back showed instead (once seen under a loaded CI run)
        shown = bool(browser.find_elements(By.CSS_SELECTOR, GRAPH))
        raise AssertionError(
            f"Back after sign-out showed {browser.current_url!r}, dashboard map shown: {shown}"
        ) from None
    assert not browser.find_elements(By.CSS_SELECTOR, GRAPH)
    assert "Suspicious events" not in browser.page_source
    # The JSON routes behind the page answer 401 now.
    status = browser.execute_script("return fetch('/_dash-layout').then(r => r.status)")
    assert status == 401


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An app whose only events carry HTML and script in their location text."""
    db = tmp_path_factory.mktemp("hostile") / "watchfloor.sqlite"
    settings = Settings(database_url=f"sqlite:///{db}", env="test")
    engine = make_engine(settings.database_url)
    upgrade(engine)
    two_agency_events(engine, settings, n=30)
    from security.users import ensure_demo_users

    with session_scope(engine) as session:
        ensure_demo_users(session=session, host_agency=settings.host_agency)
    engine.dispose()
    with running_app(db, WATCHFLOOR_SEED_DEMO="false") as base:
        yield base


def test_malicious_location_text_renders_as_text(
    browser: webdriver.Chrome, hostile_app: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    open_dashboard(browser, hostile_app, "/")
    _wait(browser, lambda d: (u := d.execute_script(UIDS_JS)) and "incidents" in u)
    for label in ("Event density", "Suspicious events"):  # leave one point layer to hover
        browser.find_element(
            By.XPATH, f"//*[@id='layer-toggles']//label[contains(., '{label}')]//input"
        ).click()
    _wait(browser, lambda d: d.execute_script(UIDS_JS) == ["incidents"])
    x, y = browser.execute_script(
        f"""
        const gd = document.querySelector('{GRAPH}');
        const map = gd._fullLayout.map._subplot.map;
        const t = gd.data[0];
        const p = map.project([t.lon[0], t.lat[0]]);
        const r = map.getContainer().getBoundingClientRect();
        return [Math.round(r.left + p.x), Math.round(r.top + p.y)];
        """
    )
    actions = ActionChains(browser)
    actions.w3c_actions.pointer_action.move_to_location(x, y)
    actions.perform()
    hover = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".hoverlayer .hovertext"))
    text = hover[0].text
    assert "<script>window.__xss=1</script>" in text and "onerror" in text
    assert browser.execute_script("return window.__xss === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "img[src='x'], .hoverlayer script")
    shots = tmp_path_factory.mktemp("shots")
    browser.save_screenshot(str(Path(shots) / "hostile_hover.png"))
    assert MALICIOUS.startswith("<script>")
