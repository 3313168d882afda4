"""Browser tier: the real app in its own process, seeded with the demo kit, in Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from testkit.browser import CHROMEDRIVER, CHROMIUM, make_driver, running_app


@pytest.fixture(scope="session")
def live_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the live app's embedded database (tests may write to it, e.g. run detection)."""
    return tmp_path_factory.mktemp("live") / "watchfloor.sqlite"


@pytest.fixture(scope="session")
def live_app(live_db: Path) -> Iterator[str]:
    """Base URL of ``python app.py`` on a fresh embedded database (demo kit loads on start)."""
    with running_app(live_db) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            pytest.fail(f"{path} is missing: install Debian's chromium and chromium-driver")
    driver = make_driver()
    yield driver
    driver.quit()
