"""Root test configuration: the --require-postgis switch and the PostGIS URL."""

from __future__ import annotations

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-postgis",
        action="store_true",
        default=False,
        help="fail, instead of skip, when PostGIS is not reachable (CI sets this)",
    )


@pytest.fixture(scope="session")
def postgis_url(request: pytest.FixtureRequest) -> str:
    """The PostGIS URL from WATCHFLOOR_TEST_POSTGIS_URL, or a skip (a failure in CI)."""
    url = os.environ.get("WATCHFLOOR_TEST_POSTGIS_URL", "")
    reason = ""
    if not url:
        reason = "PostGIS not configured: WATCHFLOOR_TEST_POSTGIS_URL is empty (run `make test`)"
    else:
        from sqlalchemy import text

        from store.engine import make_engine

        try:
            engine = make_engine(url)
            with engine.connect() as conn:
                conn.execute(text("SELECT postgis_version()"))
            engine.dispose()
        except Exception as exc:
            reason = f"PostGIS not reachable at {url}: {exc}"
    if reason:
        if request.config.getoption("--require-postgis"):
            pytest.fail(reason + " (--require-postgis is set)")
        pytest.skip(reason)
    return url
