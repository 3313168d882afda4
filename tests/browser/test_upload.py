"""An analyst imports a partner file in the dashboard and downloads the quarantined rows."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from security.users import ensure_demo_users
from store.engine import make_engine, session_scope
from testkit.browser import open_dashboard, running_app

ANALYST = "demo-analyst"


@pytest.fixture(scope="module")
def empty_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app on an empty database (no demo kit), so counts are the upload's own."""
    db = tmp_path_factory.mktemp("upload") / "watchfloor.sqlite"
    with running_app(db, WATCHFLOOR_SEED_DEMO="false") as base:
        # No demo kit, but someone must sign in: the demo users, made as the CLI would.
        engine = make_engine(f"sqlite:///{db}")
        with session_scope(engine) as session:
            ensure_demo_users(session=session, host_agency="MA-CFC")
        engine.dispose()
        yield base


def _wait(browser: webdriver.Chrome, condition, timeout: float = 30):  # type: ignore[no-untyped-def]
    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(lambda d: condition(d))


def test_upl001_import_a_file_and_download_its_quarantine(
    browser: webdriver.Chrome, empty_app: str, tmp_path: Path
) -> None:
    path = tmp_path / "partner.csv"
    path.write_text(
        "Case Number,Latitude,Longitude,Occurred,Type\n"
        "C-1,42.35,-71.06,2023-03-04 14:30,PHOTO\n"
        "C-2,42.36,-71.05,03/04/2023 3:00 PM,SURVL\n"
        "C-3,north,-71.05,2023-03-04 16:00,SURVL\n"
    )
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    open_dashboard(browser, empty_app, username=ANALYST)  # importing needs the analyst role
    file_input = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#upload-file input"))
    file_input.send_keys(str(path))
    _wait(browser, lambda d: "partner.csv" in d.find_element(By.ID, "upload-filename").text)
    # The source is a list of the analyst's own agency and its delegations: its own is chosen.
    assert "MA-CFC" in browser.find_element(By.ID, "upload-source").text
    browser.find_element(By.ID, "upload-button").click()
    _wait(browser, lambda d: d.find_elements(By.ID, "upload-count-read"))
    counts = {
        name: browser.find_element(By.ID, f"upload-count-{name}").text
        for name in ("read", "inserted", "quarantined")
    }
    assert counts == {"read": "3", "inserted": "2", "quarantined": "1"}
    assert "bad coordinates 1" in browser.find_element(By.ID, "upload-summary").text

    button = browser.find_element(By.ID, "upload-quarantine-button")
    _wait(browser, lambda d: button.is_enabled())
    button.click()
    deadline = time.monotonic() + 30
    while not (files := list(downloads.glob("quarantined-batch-*.csv"))):
        assert time.monotonic() < deadline, "no download"
        time.sleep(0.2)
    with files[0].open() as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["row_number"], r["reason"], r["source:Latitude"]) for r in rows] == [
        ("3", "bad_coordinates", "north")
    ]


def test_upl002_an_unreadable_file_says_why(
    browser: webdriver.Chrome, empty_app: str, tmp_path: Path
) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("")
    open_dashboard(browser, empty_app, username=ANALYST)  # importing needs the analyst role
    file_input = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#upload-file input"))
    file_input.send_keys(str(path))
    _wait(browser, lambda d: "empty.csv" in d.find_element(By.ID, "upload-filename").text)
    # The source is a list of the analyst's own agency and its delegations: its own is chosen.
    assert "MA-CFC" in browser.find_element(By.ID, "upload-source").text
    browser.find_element(By.ID, "upload-button").click()
    alert = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".wf-upload-error"))
    assert "Not imported" in alert[0].text
