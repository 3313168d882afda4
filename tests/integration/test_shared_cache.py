"""The shared aggregate cache on real databases and a real Redis: isolation and invalidation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine

from domain.roles import Role, Viewer
from layers.view import MapConfig, MapView, build_map_view
from settings import Settings
from store.cache import SharedCache
from store.engine import session_scope
from store.queries import EventFilter
from testkit.security_kit import AGENCY_A, AGENCY_B, two_agency_events

CONFIG = MapConfig(42.36, -71.06, 10, "white-bg", None)
PARTNER_A = Viewer("partner-a", Role.PARTNER, AGENCY_A)
PARTNER_A2 = Viewer("partner-a2", Role.PARTNER, AGENCY_A)
PARTNER_B = Viewer("partner-b", Role.PARTNER, AGENCY_B)


@pytest.fixture(params=["memory", "redis"])
def cache(request: pytest.FixtureRequest) -> Iterator[SharedCache]:
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    yield SharedCache(secret="test-secret", redis_url=url)


def _view(engine: Engine, viewer: Viewer, cache: SharedCache | None) -> MapView:
    with session_scope(engine) as session:
        return build_map_view(
            session=session,
            viewer=viewer,
            filters=EventFilter(),
            preset="all",
            custom=None,
            visible=("hexes", "suspicious", "incidents"),
            res=8,
            max_points=5,
            tz="America/New_York",
            config=CONFIG,
            viewport=(-72.0, 41.5, -70.0, 43.0),
            cache=cache,
        )


def _same(a: MapView, b: MapView) -> bool:
    return (a.counts, a.marking, a.data_through, list(a.hex_cells)) == (  # type: ignore[arg-type]
        b.counts,
        b.marking,
        b.data_through,
        list(b.hex_cells),  # type: ignore[arg-type]
    )


def test_two_agencies_never_share_an_entry(
    engine: Engine, settings: Settings, cache: SharedCache
) -> None:
    two_agency_events(engine, settings, n=10)
    a = _view(engine, PARTNER_A, cache)
    misses = cache.misses
    b = _view(engine, PARTNER_B, cache)
    assert cache.misses > misses  # B computed its own answers
    assert a.marking == "TLP:RED" and b.marking == "TLP:RED"  # each sees its own RED rows
    assert _same(a, _view(engine, PARTNER_A, None))
    assert _same(b, _view(engine, PARTNER_B, None))
    # Same agency and role class: the same rows, so the entries are shared.
    hits = cache.hits
    assert _same(_view(engine, PARTNER_A2, cache), a)
    assert cache.hits > hits


def test_a_data_version_bump_invalidates(
    engine: Engine, settings: Settings, cache: SharedCache
) -> None:
    two_agency_events(engine, settings, n=5)
    before = _view(engine, PARTNER_A, cache)
    assert _same(_view(engine, PARTNER_A, cache), before)
    two_agency_events(engine, settings, n=12)  # new rows (other ids): the token changes
    after = _view(engine, PARTNER_A, cache)
    assert after.counts != before.counts
    assert _same(after, _view(engine, PARTNER_A, None))


def test_a_tampered_redis_value_is_rejected(
    engine: Engine, settings: Settings, redis_url: str
) -> None:
    cache = SharedCache(secret="test-secret", redis_url=redis_url)
    two_agency_events(engine, settings, n=5)
    honest = _view(engine, PARTNER_B, cache)
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("watchfloor:agg:hex_counts:*"))
    assert keys
    for key in keys:  # flip one byte of every stored hex count
        blob = bytearray(client.get(key))  # type: ignore[arg-type]
        blob[-1] ^= 0xFF
        client.set(key, bytes(blob))
    rejected = cache.rejected
    again = _view(engine, PARTNER_B, cache)
    assert cache.rejected > rejected
    assert _same(again, honest)  # recomputed, not the tampered bytes
    # A value written by someone without the secret is rejected as well.
    forger = SharedCache(secret="not-the-secret", redis_url=redis_url)
    assert forger.get(keys[0].decode())[0] is False
