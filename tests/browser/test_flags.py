"""The follow-up queue and the flags layer on the demo kit, in headless Chromium."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from domain.roles import Role, Viewer
from jobs.detection import run_detection
from settings import Settings
from store.engine import make_engine, session_scope
from store.queries.flags import flag_rows
from testkit.browser import open_dashboard

ROWS = "#flags-grid .ag-center-cols-container .ag-row"
FLAG_TRACES_JS = """
const gd = document.querySelector('#map-graph .js-plotly-plot');
if (!gd || !gd.data) return null;
return gd.data.filter(t => t.uid === 'flags-points').map(t => t.lon.length);
"""


def _wait(browser: webdriver.Chrome, condition, timeout: float = 45):  # type: ignore[no-untyped-def]
    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(lambda d: condition(d))


def _status_of(browser: webdriver.Chrome, flag_id: str) -> str:
    cell = browser.find_element(By.CSS_SELECTOR, f"{ROWS}[row-id='{flag_id}'] [col-id='status']")
    return cell.text


def test_flags001_queue_lists_flags_and_records_an_action(
    browser: webdriver.Chrome, live_app: str, live_db: Path
) -> None:
    url = f"sqlite:///{live_db}"
    engine = make_engine(url)
    report = run_detection(
        engine, Settings(database_url=url, env="test"), since=datetime(2023, 1, 1, tzinfo=UTC)
    )
    assert report.created >= 1
    with session_scope(engine) as s:
        expected = flag_rows(session=s, viewer=Viewer("w", Role.WATCH_OFFICER, "MA-CFC"))
    engine.dispose()
    open_dashboard(browser, live_app)
    _wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ROWS)) == len(expected))
    _wait(browser, lambda d: d.execute_script(FLAG_TRACES_JS) == [len(expected)])
    top = str(expected.iloc[0]["id"])  # the public id: what the grid holds
    browser.find_element(By.CSS_SELECTOR, f"{ROWS}[row-id='{top}'] [col-id='status']").click()
    _wait(browser, lambda d: "History" in d.find_element(By.ID, "flag-detail").text)
    assert "Sites in reach" in browser.find_element(By.ID, "flag-detail").text
    browser.find_element(By.CSS_SELECTOR, "#flag-action input").send_keys("acknowledge\n")
    apply = browser.find_element(By.ID, "flag-apply")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", apply)
    _wait(browser, lambda d: apply.is_displayed() and apply.is_enabled())
    # Activated from the keyboard, as a watch officer tabbing through the action row would.
    apply.send_keys(Keys.ENTER)
    _wait(browser, lambda d: _status_of(d, top) == "acknowledged")
    _wait(browser, lambda d: "acknowledged" in d.find_element(By.ID, "flag-detail").text)
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
