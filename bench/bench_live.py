"""Live watch desk: cost of the data-version poll, and how soon a posted event shows in the feed.

The poll is timed through the real Dash endpoint (Flask test client, signed in) on SpatiaLite
with the demo-sized number of events; the end-to-end latency runs the app (``python app.py``,
default ``WATCHFLOOR_LIVE_POLL_SECONDS``) and headless Chromium, and times ``POST
/api/v1/events`` until the event is in the dashboard's feed, a bounded number of times.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._report import Report
from settings import Settings
from store.engine import dispose_engines, make_engine
from store.migrate import upgrade

POLLS = 50
POSTS = 5


def _poll_cost(report: Report, tmp: Path) -> None:
    from app import create_app
    from testkit.security_kit import callback_payload, make_users, sign_in, two_agency_events

    url = f"sqlite:///{tmp / 'poll.sqlite'}"
    settings = Settings(database_url=url, env="test")
    engine = make_engine(url)
    upgrade(engine)
    make_users(engine, settings, ("officer",))
    two_agency_events(engine, settings, n=2000)  # 12,000 events
    client = create_app(settings).server.test_client()
    sign_in(client, "officer")
    deps = client.get("/_dash-dependencies").get_json()
    poll = next(cb for cb in deps if cb["output"] == "data-version.data")
    body = callback_payload(poll)
    headers = {"Origin": "http://localhost"}
    times = []
    for _ in range(POLLS):
        start = time.perf_counter()
        resp = client.post("/_dash-update-component", json=body, headers=headers)
        times.append(time.perf_counter() - start)
        assert resp.status_code == 200
    report.record("live.spatialite.poll_callback_median", statistics.median(times) * 1000, "ms")
    engine.dispose()
    dispose_engines()


def _feed_latency(report: Report, tmp: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from security.apikeys import create_key
    from security.users import ensure_demo_users
    from store.engine import session_scope
    from testkit.browser import make_driver, open_dashboard, running_app
    from testkit.live import post_events

    db = tmp / "desk.sqlite"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    with session_scope(engine) as s:
        ensure_demo_users(session=s, host_agency="MA-CFC")
        key, _ = create_key(session=s, agency="MSP", label="bench")
    engine.dispose()
    now = datetime.now(UTC)
    latencies = []
    with running_app(db, WATCHFLOOR_SEED_DEMO="false") as base:
        post_events(base, key, "BASE", 3, now - timedelta(days=1))
        driver = make_driver()
        try:
            open_dashboard(driver, base)
            feed = lambda d: d.find_element(By.ID, "feed-list").text  # noqa: E731
            WebDriverWait(driver, 60, 0.05).until(lambda d: "BASE street" in feed(d))
            for n in range(POSTS):
                start = time.perf_counter()
                post_events(base, key, f"B{n}", 1, now - timedelta(hours=n + 1))
                WebDriverWait(driver, 60, 0.05).until(lambda d, n=n: f"B{n} street" in feed(d))
                latencies.append(time.perf_counter() - start)
        finally:
            driver.quit()
    report.record("live.post_to_feed_median", statistics.median(latencies), "s", posts=POSTS)
    report.record("live.post_to_feed_max", max(latencies), "s", posts=POSTS)


def run(report: Report) -> None:
    """Time the poll callback and the posted-to-visible latency."""
    with tempfile.TemporaryDirectory() as tmp:
        _poll_cost(report, Path(tmp))
        _feed_latency(report, Path(tmp))
