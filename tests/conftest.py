"""Root test configuration: the --require-postgis/--require-redis switches and the service URLs."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings as hypothesis_settings

# Property tests check results, never speed: no per-example deadline (a loaded CI machine would
# otherwise fail them on time alone). Speed is measured in bench/.
hypothesis_settings.register_profile("watchfloor", deadline=None)
# CI draws the same examples on every run (a red run can be replayed, a green one is not luck);
# developers' runs keep exploring new ones. HYPOTHESIS_PROFILE chooses either explicitly.
hypothesis_settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "watchfloor")
)

# Each tier is marked by where its tests live (pytest ignores ``pytestmark`` in a conftest), so
# ``-m unit``, ``-m integration``, ``-m browser`` select exactly their directory's tests.
TIER_OF_DIRECTORY = {
    "unit": ("unit",),
    "integration": ("integration",),
    "security": ("integration", "security"),
    "browser": ("browser",),
    "ops": ("ops",),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with its tier, from its directory under ``tests/``."""
    for item in items:
        parts = item.path.parts
        if "tests" not in parts:
            continue
        directory = parts[parts.index("tests") + 1] if len(parts) > parts.index("tests") + 1 else ""
        for marker in TIER_OF_DIRECTORY.get(directory, ()):
            item.add_marker(marker)


# Password hashes at argon2-cffi's cheapest profile in this process and every app and command it
# starts: the production cost (~0.2 s of CPU a hash or a sign-in) was a quarter of the suite's
# time. The hashing and checking code is the same; the production profile is asserted in
# tests/unit/test_security_rules.py and a test's own environment may still choose another.
os.environ.setdefault("WATCHFLOOR_PASSWORD_HASH_PROFILE", "CHEAPEST")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-postgis",
        action="store_true",
        default=False,
        help="fail, instead of skip, when PostGIS is not reachable (CI sets this)",
    )
    parser.addoption(
        "--require-redis",
        action="store_true",
        default=False,
        help="fail, instead of skip, when Redis is not reachable (CI sets this)",
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


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """The Redis URL from WATCHFLOOR_TEST_REDIS_URL, or a skip (a failure in CI).

    The tests own that Redis database (``/15`` from scripts/ensure_redis.sh): it is flushed here.
    Under pytest-xdist each worker gets its own database (``gw1`` -> ``/14``), so one worker's
    flush never empties another's.
    """
    url = os.environ.get("WATCHFLOOR_TEST_REDIS_URL", "")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if url and worker != "gw0" and url.rsplit("/", 1)[-1].isdigit():
        base, _, db = url.rpartition("/")
        url = f"{base}/{int(db) - int(worker.removeprefix('gw'))}"
    reason = ""
    if not url:
        reason = "Redis not configured: WATCHFLOOR_TEST_REDIS_URL is empty (run `make test`)"
    else:
        import redis

        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=2)
            client.flushdb()
            client.close()
        except Exception as exc:
            reason = f"Redis not reachable at {url}: {exc}"
    if reason:
        if request.config.getoption("--require-redis"):
            pytest.fail(reason + " (--require-redis is set)")
        pytest.skip(reason)
    return url
