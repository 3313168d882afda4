"""The snapshot under a stream of writes, on both backends: bounded lag, one snapshot per session,
no waiting on a refresh, shared-cache keys per snapshot, and main + tail equal to a full load."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, select

from analytics.cells import points_to_cells
from analytics.timebuckets import TimeWindow
from domain.roles import Role, Viewer
from store import columnar
from store.cache import bind_cache, shared_cache
from store.columnar import (
    clear_cache,
    data_version,
    event_columns,
    load_event_columns,
    mark_stale,
    want_version,
    with_snapshot_lag,
)
from store.engine import session_scope
from store.models import Event
from store.queries import EventFilter, cell_bucket_counts, cell_counts, hex_counts, hexagg
from store.queries.feed import live_version, next_version
from store.queries.hexagg import present_cells, visible_caveats, visible_count
from tests.integration.test_hexagg import _same_snapshot

OFFICER = Viewer("officer", Role.WATCH_OFFICER, "MA-CFC")
T0 = datetime(2023, 3, 1, tzinfo=UTC)
LAG_S = 5.0
TZ = "America/New_York"


class Clock:
    """The lag's clock, moved by hand (no sleeping)."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clear_cache()
    found = Clock()
    monkeypatch.setattr(columnar, "_now", found)
    yield found
    clear_cache()


def _rows(n: int, *, seed: int, ids: list[int] | None = None, **fixed: object) -> list[dict]:
    rng = random.Random(seed)
    lat = [42.36 + rng.gauss(0, 0.1) for _ in range(n)]
    lon = [-71.06 + rng.gauss(0, 0.1) for _ in range(n)]
    cells = points_to_cells(np.array(lat), np.array(lon), 11)
    now = datetime.now(UTC)
    rows = []
    for i in range(n):
        row = {
            "kind": rng.choice(["suspicious", "incident"]),
            "category": rng.choice(["SURVL", "THREAT"]),
            # Few distinct times: ties with rows already held are common.
            "occurred_at": T0 + timedelta(hours=rng.randrange(0, 72, 6)),
            "source_agency": rng.choice(["BPD", "MSP"]),
            "external_id": f"lag-{uuid.uuid4().hex}",
            "handling": rng.choice(["TLP:GREEN", "TLP:AMBER", "LES"]),  # center staff see all
            "severity": rng.randint(1, 5),
            "lon": lon[i],
            "lat": lat[i],
            "geometry": f"SRID=4326;POINT({lon[i]!r} {lat[i]!r})",
            "cell": int(cells[i]),
            "content_hash": "h",
            "created_at": now,
            "updated_at": now,
            **fixed,
        }
        if ids is not None:
            row["id"] = ids[i]
        rows.append(row)
    return rows


def _insert(engine: Engine, rows: list[dict]) -> None:
    with session_scope(engine) as s:
        s.execute(insert(Event), rows)


def _total(engine: Engine) -> int:
    with session_scope(engine) as s:
        return int(
            cell_counts(session=s, viewer=OFFICER, filters=EventFilter(), res=7)["total"].sum()
        )


def test_a_lagging_session_reads_no_token_within_the_lag_and_keeps_one_snapshot(
    engine: Engine, clock: Clock
) -> None:
    lagging = with_snapshot_lag(engine, LAG_S)
    assert with_snapshot_lag(engine, 0) is engine  # 0: the token before every use, as before
    _insert(engine, _rows(20, seed=1))
    first = _total(lagging)
    assert first == 20
    _insert(engine, _rows(5, seed=2))
    clock.now += LAG_S / 2
    # Within the lag: the snapshot read at the start, not the database's newest state.
    assert _total(lagging) == 20
    with session_scope(lagging, readonly=True) as s:  # SQLite: no write lock while we insert
        held = event_columns(session=s)
        assert held.token != data_version(session=s)
        # Shared-cache keys name the snapshot's version, not the database's newest token.
        bound = bind_cache(
            shared_cache(secret="k" * 32, redis_url=None), session=s, visibility="center"
        )
        assert bound is not None and bound.token == held.token
        # One session reads one snapshot, whatever happens meanwhile.
        clock.now += LAG_S * 2
        _insert(engine, _rows(1, seed=3))
        assert event_columns(session=s) is held
    # Past the lag: the token is read again and the new rows are there.
    assert _total(lagging) == 26
    # A session without a lag reads the token every time: it sees a write at once.
    _insert(engine, _rows(4, seed=4))
    assert _total(engine) == 30


def test_a_process_that_wrote_marks_its_snapshot_stale(engine: Engine, clock: Clock) -> None:
    lagging = with_snapshot_lag(engine, LAG_S)
    _insert(engine, _rows(10, seed=5))
    assert _total(lagging) == 10
    _insert(engine, _rows(3, seed=6))
    assert _total(lagging) == 10  # within the lag
    mark_stale(engine)
    assert _total(lagging) == 13  # the writer's process reads its own write at once


def test_while_one_thread_refreshes_the_others_read_the_current_snapshot(
    engine: Engine, clock: Clock
) -> None:
    lagging = with_snapshot_lag(engine, LAG_S)
    _insert(engine, _rows(10, seed=7))
    with session_scope(lagging) as s:
        before = event_columns(session=s)
    _insert(engine, _rows(3, seed=8))
    clock.now += LAG_S * 2
    key = engine.url.render_as_string(hide_password=True)
    loading = columnar._LOADING[key]
    assert loading.acquire(timeout=30)  # another thread is refreshing (this one holds its lock)
    try:
        with session_scope(lagging) as s:
            assert event_columns(session=s) is before  # not waiting: the current snapshot
    finally:
        loading.release()
    with session_scope(lagging) as s:
        assert len(event_columns(session=s)) == 13


def test_a_redraw_told_of_a_newer_version_does_not_take_the_lagging_snapshot(
    engine: Engine, clock: Clock
) -> None:
    """The live poll handed on a version (possibly read in another worker); the redraw it fires
    must show that data within the lag, even while another thread is refreshing, and a version
    once covered costs no further refresh."""
    lagging = with_snapshot_lag(engine, LAG_S)
    _insert(engine, _rows(10, seed=11))
    with session_scope(lagging) as s:
        before = event_columns(session=s)
        assert live_version(session=s).split(".")[0] == str(before.token)  # the snapshot's
    _insert(engine, _rows(3, seed=12))
    with session_scope(engine) as s:
        polled = f"{data_version(session=s)}.flags"  # read in "another worker"
    with session_scope(lagging) as s:  # within the lag, nothing asked: the older snapshot
        assert event_columns(session=s) is before
        assert live_version(session=s).split(".")[0] == str(before.token)
    with session_scope(lagging) as s:
        want_version(session=s, token=polled)
        fresh = event_columns(session=s)
        assert len(fresh) == 13
    # Written meanwhile, within the lag: a redraw told of a covered version (the one asked
    # for, or the snapshot's predecessor's) takes the snapshot as it is, no token read.
    _insert(engine, _rows(1, seed=14))
    for token in (polled, str(before.token), str(fresh.token)):
        with session_scope(lagging) as s:
            want_version(session=s, token=token)
            assert event_columns(session=s) is fresh
    # Another thread is refreshing: a told session waits for it rather than drawing old data.
    _insert(engine, _rows(1, seed=13))
    with session_scope(engine) as s:
        polled = str(data_version(session=s))
    key = engine.url.render_as_string(hide_password=True)
    loading = columnar._LOADING[key]
    assert loading.acquire(timeout=30)
    found: list[int] = []

    def redraw() -> None:
        with session_scope(lagging) as s:
            want_version(session=s, token=polled)
            found.append(len(event_columns(session=s)))

    worker = threading.Thread(target=redraw)
    worker.start()
    worker.join(timeout=0.5)
    assert worker.is_alive() and not found  # waiting, not answering from the old snapshot
    loading.release()
    worker.join(timeout=30)
    assert found == [15]
    # Garbage asks for nothing (a hand-edited store must not break the page).
    with session_scope(lagging) as s:
        want_version(session=s, token="not-a-token")
        assert len(event_columns(session=s)) == 15


def test_the_poll_hands_the_version_on_until_the_map_caught_up() -> None:
    assert next_version("a.f", None, drawn=None) == "a.f"
    assert next_version("b.f", "a.f", drawn="a") == "b.f"
    # The page has the newest version, but its map was drawn from an older snapshot: again.
    assert next_version("b.f", "b.f", drawn="a") == "b.f"
    assert next_version("b.f", "b.f", drawn="b") is None
    assert next_version("b.g", "b.f", drawn="b") == "b.g"  # a flag changed


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(
        st.tuples(st.integers(1, 25), st.booleans(), st.integers(0, 10_000)), min_size=1, max_size=6
    ),
    seed=st.integers(0, 1_000),
)
def test_main_and_tail_answer_as_a_full_reload_for_random_insert_sequences(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog, batches, seed
) -> None:
    """Batches commit their ids in any order (as concurrent posts do on PostgreSQL), with times
    tied to rows already held, sometimes with a new category; the tail is merged every 40 rows.
    After each, the lagging snapshot (refreshed past the lag, mostly with the near-ids count
    only) counts what SQL counts, and merged equals a full load."""
    monkeypatch.setattr(columnar, "TAIL_MAX_ROWS", 40)
    lagging = with_snapshot_lag(engine, LAG_S)
    rng = random.Random(seed)
    with session_scope(engine) as s:
        # Above every id so far (other examples' too): out of order among themselves only.
        base = int(s.execute(select(func.max(Event.id))).scalar_one() or 0) + 10_000_000
    pool = list(range(base, base + sum(n for n, *_ in batches)))
    rng.shuffle(pool)
    with session_scope(lagging) as s:
        event_columns(session=s).cell_index(8)
    for k, (n, new_category, salt) in enumerate(batches):
        ids, pool = pool[:n], pool[n:]
        extra = {"category": f"NEW{salt}"} if new_category else {}
        _insert(engine, _rows(n, seed=seed * 100 + k + salt, ids=ids, **extra))
        clock.now += LAG_S + 1
        caplog.clear()
        caplog.set_level("INFO", logger="store.columnar")
        with session_scope(lagging) as s:
            got = event_columns(session=s)
            counts = cell_counts(session=s, viewer=OFFICER, filters=EventFilter(), res=8)
        # Read and merged, never reloaded in full (that would hide a wrong count of late rows).
        assert f"appended {n} events" in caplog.text and "loaded" not in caplog.text
        with session_scope(engine) as s:
            assert data_version(session=s) == got.token
            sql = hex_counts(session=s, viewer=OFFICER, filters=EventFilter(), res=8)
            fresh = load_event_columns(session=s, token=got.token, rewrite=got.rewrite)
        pd.testing.assert_frame_equal(counts, sql.sort_values("cell", ignore_index=True))
        _same_snapshot(got, fresh)


PARTNER = Viewer("bpd-partner", Role.PARTNER, "BPD")


def _answers(engine: Engine) -> list[object]:
    """Every per-block count, for several viewers and filters (frames, arrays, ints, lists)."""
    window = TimeWindow(T0 + timedelta(hours=12), T0 + timedelta(hours=48))
    filters = [
        EventFilter(),
        EventFilter(window=window),
        EventFilter(categories=("THREAT",), kinds=("suspicious",)),
        EventFilter(window=window, bbox=(-71.1, 42.3, -70.9, 42.45)),
    ]
    out: list[object] = []
    with session_scope(engine) as s:
        for viewer in (OFFICER, PARTNER):
            for f in filters:
                out += [
                    cell_counts(session=s, viewer=viewer, filters=f, res=8),
                    cell_bucket_counts(
                        session=s, viewer=viewer, filters=f, res=None, bucket="day", tz=TZ
                    ),
                    cell_bucket_counts(
                        session=s, viewer=viewer, filters=f, res=7, bucket="hour", tz=TZ
                    ),
                    present_cells(session=s, viewer=viewer, filters=f, res=9),
                    visible_count(session=s, viewer=viewer, filters=f),
                    visible_caveats(session=s, viewer=viewer, filters=f),
                ]
    return out


def _assert_same(got: list[object], want: list[object]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        if isinstance(a, pd.DataFrame):
            pd.testing.assert_frame_equal(a, b)
        elif isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
            assert a.dtype == b.dtype
        else:
            assert a == b


def test_counts_add_up_over_main_and_tail_and_reuse_the_main_blocks_answers(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While rows stream into the tail, the main block's answers are reused (not counted
    again) and main + tail equal the answers of one full load; a new category recodes the main
    block and its answers are counted afresh."""
    _insert(engine, _rows(200, seed=30))
    _answers(engine)  # the main block's answers are kept
    _insert(engine, _rows(40, seed=31))
    counted: list[int] = []
    real = hexagg._select_block

    def spy(cols, block, table, filters):  # type: ignore[no-untyped-def]
        counted.append(0 if block is cols.main else 1)
        return real(cols, block, table, filters)

    monkeypatch.setattr(hexagg, "_select_block", spy)
    with session_scope(engine) as s:
        cols = event_columns(session=s)
        assert len(cols.main) == 200 and len(cols.tail) == 40
    got = _answers(engine)
    assert counted and set(counted) == {1}  # the tail only: every main answer reused
    clear_cache()
    hexagg.forget_kept_answers()
    counted.clear()
    want = _answers(engine)  # one full load: a single block
    assert set(counted) == {0}
    _assert_same(got, want)
    # Rows with a category never seen: the vocabulary grows, the main block is recoded.
    _insert(engine, _rows(5, seed=32, category="BREACH"))
    counted.clear()
    got = _answers(engine)
    assert 0 in counted  # a new main block: counted again
    clear_cache()
    _assert_same(got, _answers(engine))


def test_concurrent_request_threads_share_the_kept_answers_safely(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Request threads of one worker ask for many viewports at once (the kept answers are
    evicted and filled meanwhile): no error, and each answer is the one asked alone."""
    monkeypatch.setattr(hexagg, "MAIN_ANSWERS_KEPT", 8)  # evictions all the time
    _insert(engine, _rows(300, seed=40))
    boxes = [(-71.3 + i * 0.01, 42.2, -70.9 + i * 0.01, 42.5) for i in range(60)]
    hexagg.forget_kept_answers()
    with session_scope(engine) as s:
        alone = [
            present_cells(session=s, viewer=OFFICER, filters=EventFilter(bbox=b), res=9)
            for b in boxes
        ]
    hexagg.forget_kept_answers()
    errors: list[BaseException] = []
    found: dict[int, np.ndarray] = {}

    def ask(offset: int) -> None:
        try:
            with session_scope(engine, readonly=True) as s:
                for k in range(len(boxes)):
                    i = (k + offset) % len(boxes)
                    got = present_cells(
                        session=s, viewer=OFFICER, filters=EventFilter(bbox=boxes[i]), res=9
                    )
                    found.setdefault(i, got)
                    np.testing.assert_array_equal(got, alone[i])
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(7 * t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:1]
    assert len(found) == len(boxes)
    assert len(hexagg._MAIN) <= 8


def test_kept_answers_stay_within_their_byte_bound(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big answers (statewide counts at fine resolutions) push the oldest out by bytes."""
    _insert(engine, _rows(400, seed=41))
    hexagg.forget_kept_answers()
    with session_scope(engine) as s:
        one = cell_counts(session=s, viewer=OFFICER, filters=EventFilter(), res=10)
    size = int(one.memory_usage(index=True).sum())
    assert hexagg.kept_bytes() == size
    monkeypatch.setattr(hexagg, "MAIN_ANSWERS_BYTES", 3 * size)
    with session_scope(engine) as s:
        for i in range(10):
            got = cell_counts(
                session=s, viewer=OFFICER, filters=EventFilter(kinds=("incident",)), res=10 - i % 2
            )
            cell_counts(session=s, viewer=OFFICER, filters=EventFilter(), res=9 + i % 2)
            assert hexagg.kept_bytes() <= 3 * size
    assert hexagg.kept_bytes() == sum(v[2] for v in hexagg._MAIN.values())
    assert len(got)


def test_rows_committed_far_out_of_id_order_are_found_by_the_full_count(
    engine: Engine, clock: Clock
) -> None:
    """Ids more than ``NEAR_ID_WINDOW`` below the snapshot's largest (a long import committing
    alongside the stream): a lagging snapshot finds them within ``FULL_COUNT_S`` even if no
    other write follows; a session without a lag at once."""
    lag = 2.0
    lagging = with_snapshot_lag(engine, lag)
    _insert(engine, _rows(10, seed=20))
    assert _total(lagging) == 10  # a full load: all ids counted now
    top = 50_000_000
    _insert(engine, _rows(1, seed=21, ids=[top]))
    clock.now += lag + 1
    assert _total(lagging) == 11
    _insert(engine, _rows(1, seed=22, ids=[top - 5 * columnar.NEAR_ID_WINDOW]))
    clock.now += lag + 1
    assert clock.now - 1_000.0 < columnar.FULL_COUNT_S
    assert _total(lagging) == 11  # the near ids only: not found yet
    clock.now = 1_000.0 + columnar.FULL_COUNT_S + 1
    assert _total(lagging) == 12  # the token is unchanged, but all ids are counted again
    _insert(engine, _rows(1, seed=23, ids=[top - 6 * columnar.NEAR_ID_WINDOW]))
    assert _total(engine) == 13  # no lag: every id counted, always
