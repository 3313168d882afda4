"""Points from the columnar snapshot equal the SQL point query, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, update

from analytics.cells import points_to_cells
from analytics.timebuckets import TimeWindow
from domain.roles import Role, Viewer
from domain.vocab import EVENT_KINDS
from store.columnar import clear_cache, event_columns, with_snapshot_lag
from store.engine import session_scope
from store.models import Event
from store.queries import EventFilter, event_points
from store.queries.points import newest_points, snapshot_points

AGENCIES = ("BPD", "CAMBRIDGE-PD", "MSP", "MA-CFC")
CAVEATS = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "LES", "TLP:AMBER+STRICT", "TLP:RED")
CATEGORIES = ("SURVL", "THREAT", "VANDALISM")
VIEWERS = (
    Viewer("officer", Role.WATCH_OFFICER, "MA-CFC"),
    Viewer("partner", Role.PARTNER, "CAMBRIDGE-PD"),  # open caveats and its own agency's only
    Viewer("bpd", Role.PARTNER, "BPD"),
    Viewer("nobody", Role.PARTNER, ""),
    Viewer.system(),
)
# A few instants shared by many rows: ties on occurred_at are broken by id, in both blocks.
ANCHORS = [datetime(2023, 6, d, 12, 0, tzinfo=UTC) for d in (1, 3, 5, 8)]
MAIN_N, TAIL_N = 500, 80


def _events(n: int, seed: int, offset: int) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    lat = (42.36 + rng.normal(0, 0.1, n)).tolist()
    lon = (-71.06 + rng.normal(0, 0.12, n)).tolist()
    cells = points_to_cells(lat, lon, 11)
    base = np.array(ANCHORS, dtype=object)[rng.integers(0, len(ANCHORS), n)]
    jitter = np.where(rng.random(n) < 0.4, 0, rng.integers(-200_000, 200_000, n))
    places = np.array([None, "Main St & 3rd", "<b>Quay</b>", "Depot"], dtype=object)
    now = datetime.now(UTC)
    return [
        {
            "kind": str(rng.choice(EVENT_KINDS)),
            "category": str(rng.choice(CATEGORIES)),
            "occurred_at": b + timedelta(seconds=int(j), microseconds=int(rng.integers(0, 3))),
            "source_agency": str(rng.choice(AGENCIES)),
            "external_id": f"p{offset + i}",
            "handling": str(rng.choice(CAVEATS)),
            "severity": int(rng.integers(1, 6)),
            "location_text": places[rng.integers(0, len(places))],
            "lon": lon[i],
            "lat": lat[i],
            "geometry": f"SRID=4326;POINT({lon[i]!r} {lat[i]!r})",
            "cell": int(cells[i]),
            "content_hash": "h",
            "created_at": now,
            "updated_at": now,
        }
        for i, (b, j) in enumerate(zip(base, jitter, strict=True))
    ]


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    """Events in the snapshot's main block, and more inserted after it (its tail)."""
    clear_cache()
    with session_scope(engine) as s:
        s.execute(insert(Event), _events(MAIN_N, 3, 0))
    with session_scope(engine) as s:
        assert len(event_columns(session=s).main) == MAIN_N
    with session_scope(engine) as s:
        s.execute(insert(Event), _events(TAIL_N, 4, MAIN_N))
    with session_scope(engine) as s:
        cols = event_columns(session=s)
        assert (len(cols.main), len(cols.tail)) == (MAIN_N, TAIL_N)
    return engine


def _subset(values: tuple[str, ...]) -> st.SearchStrategy[tuple[str, ...] | None]:
    return st.one_of(st.none(), st.lists(st.sampled_from(values), unique=True).map(tuple))


filters_st = st.builds(
    EventFilter,
    window=st.one_of(
        st.none(),
        st.builds(
            lambda a, shift, length: TimeWindow(
                a + timedelta(seconds=shift), a + timedelta(seconds=shift + length)
            ),
            st.sampled_from(ANCHORS),
            st.integers(-86_400, 86_400),
            st.integers(0, 4 * 86_400),
        ),
    ),
    kinds=st.lists(st.sampled_from(EVENT_KINDS), unique=True).map(tuple),
    categories=_subset(CATEGORIES),
    agencies=_subset(AGENCIES),
    caveats=_subset(CAVEATS),
    bbox=st.one_of(
        st.none(),
        st.builds(
            lambda x, y, w, h: (x, y, x + w, y + h),
            st.floats(-71.3, -71.0),
            st.floats(42.2, 42.4),
            st.floats(0.0, 0.3),
            st.floats(0.0, 0.2),
        ),
    ),
    area=st.one_of(
        st.none(),
        st.builds(
            lambda x, y, r: shapely.Point(x, y).buffer(r, quad_segs=4),
            st.floats(-71.2, -70.9),
            st.floats(42.25, 42.45),
            st.floats(0.02, 0.15),
        ),
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    filters=filters_st,
    viewer=st.sampled_from(VIEWERS),
    limit=st.one_of(st.integers(1, 40), st.integers(1, MAIN_N + TAIL_N + 5)),
)
def test_newest_points_equal_the_sql_points(loaded, filters, viewer, limit) -> None:
    with session_scope(loaded) as s:
        got = snapshot_points(session=s, viewer=viewer, filters=filters, limit=limit)
        sql = event_points(session=s, viewer=viewer, filters=filters, limit=limit)
    assert got is not None  # nothing changed under the snapshot: no fallback to SQL
    pd.testing.assert_frame_equal(got, sql)


def test_newest_points_span_both_blocks_and_respect_restricted_caveats(loaded) -> None:
    partner = VIEWERS[1]
    with session_scope(loaded) as s:
        every = snapshot_points(session=s, viewer=partner, filters=EventFilter(), limit=10**6)
        sql = event_points(session=s, viewer=partner, filters=EventFilter(), limit=10**6)
    assert every is not None
    pd.testing.assert_frame_equal(every, sql)
    assert (every["id"] > MAIN_N).any() and (every["id"] <= MAIN_N).any()  # main and tail rows
    hidden = ~every["handling"].isin(["TLP:CLEAR", "TLP:GREEN"])
    assert (every.loc[hidden, "source_agency"] == "CAMBRIDGE-PD").all()
    assert hidden.any()  # the partner's own restricted rows are there


def test_rows_changed_under_a_lagging_snapshot_fall_back_to_sql(loaded) -> None:
    # A dashboard session may use a snapshot up to its lag old: a row made TLP:RED after it
    # must not be drawn for a partner of another agency, even though the snapshot still says
    # TLP:CLEAR.
    lagging = with_snapshot_lag(loaded, 3600.0)
    partner = VIEWERS[2]
    with session_scope(lagging) as s:
        before = newest_points(session=s, viewer=partner, filters=EventFilter(), limit=10**6)
    victim = int(before.loc[before["source_agency"] != "BPD", "id"].iloc[0])
    with session_scope(loaded) as s:
        s.execute(update(Event).where(Event.id == victim).values(handling="TLP:RED"))
    with session_scope(lagging) as s:
        stale = event_columns(session=s)
        at = np.flatnonzero(np.concatenate([b.id for b in stale.parts]) == victim)
        assert stale.handlings[np.concatenate([b.handling for b in stale.parts])[at][0]] != (
            "TLP:RED"
        )  # the snapshot has not seen the update
        assert (
            snapshot_points(session=s, viewer=partner, filters=EventFilter(), limit=10**6) is None
        )
        got = newest_points(session=s, viewer=partner, filters=EventFilter(), limit=10**6)
        sql = event_points(session=s, viewer=partner, filters=EventFilter(), limit=10**6)
    assert victim not in set(got["id"])
    pd.testing.assert_frame_equal(got, sql)


def _place_reads(engine: Engine) -> list[str]:
    """Collect the statements that read ``location_text`` (for the test's duration)."""
    from sqlalchemy import event

    seen: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _spy(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "location_text" in statement:
            seen.append(statement)

    return seen


def test_places_read_once_are_served_from_memory(loaded) -> None:
    from store.queries import points

    points.forget_places()
    reads = _place_reads(loaded)
    officer = VIEWERS[0]
    with session_scope(loaded) as s:
        first = snapshot_points(session=s, viewer=officer, filters=EventFilter(), limit=50)
    assert len(reads) == 1
    with session_scope(loaded) as s:
        again = snapshot_points(session=s, viewer=officer, filters=EventFilter(), limit=50)
        sql = event_points(session=s, viewer=officer, filters=EventFilter(), limit=50)
    assert len(reads) == 2  # the SQL reference only: the places came from memory
    assert first is not None and again is not None
    pd.testing.assert_frame_equal(again, sql)
    pd.testing.assert_frame_equal(first, sql)


def test_an_updated_place_is_read_again(loaded) -> None:
    officer = VIEWERS[0]
    with session_scope(loaded) as s:
        before = snapshot_points(session=s, viewer=officer, filters=EventFilter(), limit=20)
    assert before is not None
    victim = int(before["id"].iloc[3])
    with session_scope(loaded) as s:
        s.execute(update(Event).where(Event.id == victim).values(location_text="New Pier"))
    with session_scope(loaded) as s:
        after = snapshot_points(session=s, viewer=officer, filters=EventFilter(), limit=20)
        sql = event_points(session=s, viewer=officer, filters=EventFilter(), limit=20)
    assert after is not None
    assert after.loc[after["id"] == victim, "location_text"].tolist() == ["New Pier"]
    pd.testing.assert_frame_equal(after, sql)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(filters=filters_st, viewer=st.sampled_from(VIEWERS))
def test_older_points_than_the_kept_places_are_right(loaded, filters, viewer) -> None:
    """With room for a few places only, older rows are read by key and still right."""
    from store.queries import points

    kept = points.PLACES_KEPT
    points.PLACES_KEPT = 7
    try:
        with session_scope(loaded) as s:
            got = snapshot_points(session=s, viewer=viewer, filters=filters, limit=10**6)
            sql = event_points(session=s, viewer=viewer, filters=filters, limit=10**6)
    finally:
        points.PLACES_KEPT = kept
    assert got is not None
    pd.testing.assert_frame_equal(got, sql)
