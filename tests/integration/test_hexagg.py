"""The hex engine's counts equal a brute-force reference on random data, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import h3
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, select, update

from analytics.cells import cells_to_parent, points_to_cells
from analytics.timebuckets import TimeWindow
from domain.roles import Role, Viewer
from rules.visibility import may_see
from store import columnar
from store.columnar import (
    EventColumns,
    clear_cache,
    data_version,
    event_columns,
    load_event_columns,
    rewrite_version,
)
from store.engine import session_scope
from store.models import Event
from store.queries import EventFilter, cell_bucket_counts, cell_counts, hex_counts
from store.snapshot import FIELDS

TZ = "America/New_York"
ZONE = ZoneInfo(TZ)
AGENCIES = ("BPD", "CAMBRIDGE-PD", "MSP", "MA-CFC")
CAVEATS = ("TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "LES", "TLP:AMBER+STRICT", "TLP:RED")
VIEWERS = (
    Viewer("officer", Role.WATCH_OFFICER, "MA-CFC"),
    Viewer("partner", Role.PARTNER, "CAMBRIDGE-PD"),
    Viewer("bpd", Role.PARTNER, "BPD"),
    Viewer("nobody", Role.PARTNER, ""),
)
# Local instants around both 2023 daylight-saving changes (12 March, 5 November), local midnights.
ANCHORS = [
    datetime(2023, 3, 11, 23, 30, tzinfo=ZONE),
    datetime(2023, 3, 12, 0, 0, tzinfo=ZONE),
    datetime(2023, 3, 12, 3, 0, tzinfo=ZONE),
    datetime(2023, 3, 13, 0, 0, tzinfo=ZONE),
    datetime(2023, 11, 5, 0, 0, tzinfo=ZONE),
    datetime(2023, 11, 5, 1, 30, tzinfo=ZONE),
    datetime(2023, 11, 5, 1, 30, fold=1, tzinfo=ZONE),
    datetime(2023, 11, 6, 0, 0, tzinfo=ZONE),
]
N = 1500


def _random_events(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lat = 42.36 + rng.normal(0, 0.15, N)
    lon = -71.06 + rng.normal(0, 0.2, N)
    base = np.array([a.astimezone(UTC) for a in ANCHORS], dtype=object)[rng.integers(0, 8, N)]
    # A third exactly on an anchor (bucket edges), the rest within two days of one.
    jitter = np.where(rng.random(N) < 0.33, 0, rng.integers(-172_800, 172_800, N))
    occurred = [
        b + timedelta(seconds=int(j), microseconds=int(u))
        for b, j, u in zip(
            base, jitter, rng.integers(0, 2, N) * rng.integers(0, 999_999, N), strict=True
        )
    ]
    return pd.DataFrame(
        {
            "kind": np.where(rng.random(N) < 0.3, "suspicious", "incident"),
            "category": rng.choice(["SURVL", "THREAT", "VANDALISM"], N),
            "occurred_at": occurred,
            "source_agency": rng.choice(AGENCIES, N),
            "handling": rng.choice(CAVEATS, N),
            "severity": rng.integers(1, 6, N),
            "lat": lat,
            "lon": lon,
        }
    )


def _load(engine: Engine, frame: pd.DataFrame, offset: int = 0) -> None:
    now = datetime.now(UTC)
    cells = points_to_cells(frame["lat"], frame["lon"], 11)
    rows = [
        {
            "kind": r.kind,
            "category": r.category,
            "occurred_at": r.occurred_at,
            "source_agency": r.source_agency,
            "external_id": f"x{offset + i}",
            "handling": r.handling,
            "severity": int(r.severity),
            "lon": float(r.lon),
            "lat": float(r.lat),
            "geometry": f"SRID=4326;POINT({r.lon!r} {r.lat!r})",
            "cell": int(c),
            "content_hash": "h",
            "created_at": now,
            "updated_at": now,
        }
        for i, (r, c) in enumerate(zip(frame.itertuples(), cells, strict=True))
    ]
    with session_scope(engine) as s:
        s.execute(insert(Event), rows)


def _local_bucket(t: datetime, bucket: str) -> datetime:
    """Reference bucket start: plain zoneinfo arithmetic, independent of analytics.timebuckets."""
    local = t.astimezone(ZONE)
    if bucket == "hour":
        return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    day = datetime(local.year, local.month, local.day, tzinfo=ZONE)
    if bucket == "week":
        day = datetime.combine(day.date() - timedelta(days=day.weekday()), day.time(), ZONE)
    return day.astimezone(UTC)


def _reference(frame, viewer, window, res, bucket=None) -> dict[tuple, tuple[int, int, int]]:
    out: dict[tuple, list[int]] = {}
    for r in frame.itertuples():
        if not may_see(viewer, handling=r.handling, source_agency=r.source_agency):
            continue
        if window is not None and not (window.start_at <= r.occurred_at < window.end_at):
            continue
        key: tuple = ()
        if res is not None:
            key += (int(h3.cell_to_parent(h3.latlng_to_cell(r.lat, r.lon, 11), res), 16),)
        if bucket is not None:
            key += (_local_bucket(r.occurred_at, bucket),)
        acc = out.setdefault(key, [0, 0, 0])
        acc[0] += 1
        acc[1] += r.kind == "suspicious"
        acc[2] += int(r.severity)
    return {k: tuple(v) for k, v in out.items()}


@pytest.fixture
def loaded(engine: Engine) -> tuple[Engine, pd.DataFrame]:
    frame = _random_events()
    _load(engine, frame)
    return engine, frame


windows = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(ANCHORS), st.integers(-3 * 86400, 3 * 86400), st.integers(0, 9 * 86400)
    ),
)


def _window(spec) -> TimeWindow | None:
    if spec is None:
        return None
    anchor, shift, length = spec
    start = anchor.astimezone(UTC) + timedelta(seconds=shift)
    return TimeWindow(start, start + timedelta(seconds=length))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=windows, res=st.integers(0, 11), viewer=st.sampled_from(VIEWERS))
def test_cell_counts_equal_reference_and_sql(loaded, spec, res, viewer) -> None:
    engine, frame = loaded
    window = _window(spec)
    filters = EventFilter(window=window)
    with session_scope(engine) as s:
        got = cell_counts(session=s, viewer=viewer, filters=filters, res=res)
        sql = hex_counts(session=s, viewer=viewer, filters=filters, res=res)
    ref = _reference(frame, viewer, window, res)
    assert {
        (c,): (t, su, sv)
        for c, t, su, sv in got[["cell", "total", "suspicious", "severity_sum"]].itertuples(
            index=False
        )
    } == ref
    assert (got["incident"] == got["total"] - got["suspicious"]).all()
    pd.testing.assert_frame_equal(got, sql.sort_values("cell", ignore_index=True))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    spec=windows,
    res=st.one_of(st.none(), st.sampled_from([5, 8, 10])),
    bucket=st.sampled_from(["hour", "day", "week"]),
    viewer=st.sampled_from(VIEWERS),
)
def test_cell_bucket_counts_follow_local_days_across_dst(loaded, spec, res, bucket, viewer) -> None:
    engine, frame = loaded
    window = _window(spec)
    with session_scope(engine) as s:
        got = cell_bucket_counts(
            session=s,
            viewer=viewer,
            filters=EventFilter(window=window),
            res=res,
            bucket=bucket,
            tz=TZ,
        )
    keys = (["cell"] if res is not None else []) + ["bucket_start"]
    as_dict = {
        tuple(
            int(v) if k == "cell" else v.to_pydatetime()
            for k, v in zip(keys, row[: len(keys)], strict=True)
        ): tuple(int(x) for x in row[len(keys) :])
        for row in got[[*keys, "total", "suspicious", "severity_sum"]].itertuples(index=False)
    }
    assert as_dict == _reference(frame, viewer, window, res, bucket)


def test_filters_match_sql_and_new_rows_reload_the_cache(loaded) -> None:
    engine, frame = loaded
    viewer = VIEWERS[0]
    filters = EventFilter(
        kinds=("suspicious",),
        categories=("SURVL", "THREAT"),
        agencies=("BPD", "MSP"),
        caveats=("TLP:GREEN", "LES"),
        bbox=(-71.2, 42.2, -70.9, 42.5),
    )
    with session_scope(engine) as s:
        before = data_version(session=s)
        got = cell_counts(session=s, viewer=viewer, filters=filters, res=9)
        sql = hex_counts(session=s, viewer=viewer, filters=filters, res=9)
    pd.testing.assert_frame_equal(got, sql.sort_values("cell", ignore_index=True))
    assert 0 < got["total"].sum() < len(frame)
    _load(engine, _random_events(seed=8).head(50), offset=N)
    with session_scope(engine) as s:
        assert data_version(session=s) != before
        after = cell_counts(session=s, viewer=viewer, filters=EventFilter(), res=7)
    with session_scope(engine) as s:
        total_sql = hex_counts(session=s, viewer=viewer, filters=EventFilter(), res=7)
    assert int(after["total"].sum()) == int(total_sql["total"].sum()) > 0


def test_cached_time_range_caveats_and_cell_detail_match_sql(loaded) -> None:
    from store.queries import caveats_present, event_time_range
    from store.queries.celldetail import cell_events
    from store.queries.hexagg import visible_caveats, visible_time_range

    engine, _frame = loaded
    window = _window((ANCHORS[1], 0, 5 * 86400))
    for viewer in VIEWERS:
        with session_scope(engine) as s:
            assert visible_time_range(session=s, viewer=viewer) == event_time_range(
                session=s, viewer=viewer
            )
            filters = EventFilter(window=window)
            assert visible_caveats(session=s, viewer=viewer, filters=filters) == caveats_present(
                session=s, viewer=viewer, filters=filters
            )
    viewer = VIEWERS[1]
    with session_scope(engine) as s:
        counts = cell_counts(session=s, viewer=viewer, filters=EventFilter(window=window), res=7)
        for cell, total in counts[["cell", "total"]].head(5).itertuples(index=False):
            rows, n, cats = cell_events(
                session=s,
                viewer=viewer,
                filters=EventFilter(window=window),
                cell=int(cell),
                store_res=11,
                limit=3,
            )
            assert n == total == sum(k for _, k in cats) and len(rows) == min(3, total)


def _same_snapshot(a: EventColumns, b: EventColumns) -> None:
    """Two snapshots hold the same events; ``a`` (main + tail) merged equals ``b`` (a full load)
    in order and codes, and every row's cell code at each resolution names its own cell."""
    assert (a.categories, a.agencies, a.handlings) == (b.categories, b.agencies, b.handlings)
    assert len(b.tail) == 0
    whole = a.compacted()
    assert len(whole.tail) == 0 and len(whole) == len(a)
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(whole.main, name), getattr(b.main, name), name)
    for res in a.known_resolutions():
        index = a.cell_index(res)
        np.testing.assert_array_equal(index.cells, b.cell_index(res).cells)
        for part, block in enumerate(a.parts):
            codes = index.codes(part, slice(None), np.ones(len(block), dtype=bool))
            np.testing.assert_array_equal(index.cells[codes], cells_to_parent(block.cell, res))
        # cell codes carried over by merging the tail equal freshly computed ones
        np.testing.assert_array_equal(whole.main.groups(res).codes, b.main.groups(res).codes)
        np.testing.assert_array_equal(whole.main.groups(res).cells, b.main.groups(res).cells)


def test_cache_refresh_reads_only_new_rows_and_equals_a_full_load(
    loaded, caplog, monkeypatch
) -> None:
    engine, frame = loaded
    clear_cache()
    with session_scope(engine) as s:
        first = event_columns(session=s)
        first.cell_index(7), first.cell_index(9)  # memoised codes, carried by the refreshes
    assert len(first) == len(frame)
    caplog.set_level("INFO", logger="store.columnar")

    log: list[str] = []

    def refreshed() -> EventColumns:
        caplog.clear()
        with session_scope(engine) as s:
            got = event_columns(session=s)
            log[:] = [caplog.text]  # what the refresh did (before the reference load below)
            fresh = load_event_columns(session=s, token=got.token, rewrite=got.rewrite)
        _same_snapshot(got, fresh)
        return got

    # New rows, some older than the newest cached time: appended in time order, no full scan.
    _load(engine, _random_events(seed=8).head(40), offset=N)
    after_insert = refreshed()
    assert len(after_insert) == len(frame) + 40
    assert "appended 40 events" in log[0] and "loaded" not in log[0]
    # A category or agency never seen before: the vocabularies grow, old codes are remapped.
    new_vocab = _random_events(seed=9).head(3).assign(category="NEWCAT", source_agency="AAA-PD")
    _load(engine, new_vocab, offset=N + 100)
    got = refreshed()
    assert "NEWCAT" in got.categories and "AAA-PD" in got.agencies
    assert "appended 3 events" in log[0] and "loaded" not in log[0]
    # Rows committed late with lower ids (PostgreSQL sequences are not in commit order): near
    # the top (concurrent small batches) they are merged; far below, a full reload.
    with session_scope(engine) as s:
        # Far above the sequence (PostgreSQL does not advance it for explicit ids).
        top = int(s.execute(select(func.max(Event.id))).scalar_one()) + 1_000_000
        row = s.get(Event, int(first.main.id[0]))
        late = {
            c.key: getattr(row, c.key)
            for c in Event.__table__.columns
            if c.key not in ("id", "public_id")
        }
        s.execute(insert(Event), [{**late, "id": top + 5, "external_id": "late-0"}])
    refreshed()  # the snapshot's largest id is now top + 5; top + 1..4 are free
    with session_scope(engine) as s:
        s.execute(
            insert(Event),
            [
                {**late, "id": top + 2, "external_id": "late-1"},
                {**late, "id": top + 6, "external_id": "late-2"},
            ],
        )
    refreshed()
    assert "2 rows committed out of id order, merged" not in log[0]  # one is simply new
    assert "1 rows committed out of id order, merged" in log[0] and "loaded" not in log[0]
    with session_scope(engine) as s:
        gap = int(s.execute(select(func.min(Event.id))).scalar_one()) - 1
        s.execute(insert(Event), [{**late, "id": gap, "external_id": "late-3"}])
    monkeypatch.setattr(columnar, "LATE_ID_WINDOW", 50)
    refreshed()
    assert "out of id order, reloading" in log[0] and "loaded" in log[0]
    # An update (or delete) changes the rewrite token: full reload.
    with session_scope(engine) as s:
        s.execute(update(Event).where(Event.external_id == "x3").values(category="THREAT"))
    refreshed()
    assert "loaded" in log[0] and "appended" not in log[0]
    # An UPDATE that touches no row keeps the cheap path (PostgreSQL statement triggers).
    with session_scope(engine) as s:
        before = rewrite_version(session=s)
        s.execute(update(Event).where(Event.external_id == "nobody").values(severity=1))
    with session_scope(engine) as s:
        assert rewrite_version(session=s) == before


def test_a_late_row_committed_after_the_count_is_merged_not_reloaded(loaded, caplog) -> None:
    """Under concurrent writers a row can commit between the count of late rows and their read:
    it is committed, so it is taken; the snapshot is not reloaded whole (seconds under load)."""
    engine, _ = loaded
    clear_cache()
    with session_scope(engine) as s:
        first = event_columns(session=s)
        top = int(s.execute(select(func.max(Event.id))).scalar_one()) + 1_000_000
        row = s.get(Event, int(first.main.id[0]))
        late = {
            c.key: getattr(row, c.key)
            for c in Event.__table__.columns
            if c.key not in ("id", "public_id")
        }
        s.execute(insert(Event), [{**late, "id": top + 9, "external_id": "late-top"}])
    with session_scope(engine) as s:
        cached = event_columns(session=s)
    assert cached.max_id == top + 9
    with session_scope(engine) as s:
        s.execute(insert(Event), [{**late, "id": top + 3, "external_id": "late-counted"}])
    with session_scope(engine) as s:
        window = columnar._late_window(cached, session=s, last_id=top + 9, full_count=True)
    assert window == (top + 9 - columnar.NEAR_ID_WINDOW, 1)
    # A second late row commits after that count, before the rows are read.
    with session_scope(engine) as s:
        s.execute(insert(Event), [{**late, "id": top + 4, "external_id": "late-after"}])
    with session_scope(engine) as s:
        found = columnar._late_rows(cached, session=s, low=window[0], last_id=top + 9, expected=1)
    assert found is not None and sorted(found["id"].tolist()) == [top + 3, top + 4]
    # Through the refresh: both merged, no full load, and equal to a full load.
    caplog.set_level("INFO", logger="store.columnar")
    with session_scope(engine) as s:
        got = event_columns(session=s)
        fresh = load_event_columns(session=s, token=got.token, rewrite=got.rewrite)
    assert "2 rows committed out of id order, merged" in caplog.text
    assert "reloading" not in caplog.text
    _same_snapshot(got, fresh)


def test_snapshot_holds_the_stored_coordinates_exactly(loaded) -> None:
    # Points are drawn from the snapshot and viewports cut on its lon/lat: a value one unit in
    # the last place off (a lossy text parse) would move a point across an edge.
    engine, _ = loaded
    clear_cache()
    with session_scope(engine) as s:
        cols = event_columns(session=s)
        stored = pd.DataFrame(
            s.execute(select(Event.id, Event.lon, Event.lat)).all(), columns=["id", "lon", "lat"]
        ).set_index("id")
    held = pd.DataFrame({"lon": cols.main.lon, "lat": cols.main.lat}, index=cols.main.id)
    held = held.loc[stored.index]
    assert (held["lon"].to_numpy() == stored["lon"].to_numpy()).all()
    assert (held["lat"].to_numpy() == stored["lat"].to_numpy()).all()
