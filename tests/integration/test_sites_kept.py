"""Site answers kept per sites data version: served without a read, right after every write."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pandas as pd
import pytest
from sqlalchemy import Engine, event, text

from analytics.cells import points_to_cells
from domain.roles import Role, Viewer
from store.engine import session_scope
from store.queries import sites as site_queries
from store.queries.sites import site_points
from store.writes import finish_batch, start_batch, upsert_sites

CENTER = Viewer("officer", Role.WATCH_OFFICER, "MA-CFC")
OTHER_CENTER = Viewer("analyst", Role.ANALYST, "MA-CFC")  # same visibility class as CENTER
OWNER = Viewer("owner", Role.PARTNER, "TEST")
OUTSIDER = Viewer("outsider", Role.PARTNER, "MSP")
BOX = (-71.5, 42.0, -70.5, 42.8)


def _sites(engine: Engine, rows: list[tuple[str, str, str, float, float]]) -> None:
    """Store sites ``(external_id, name, handling, lon, lat)`` through the importer's writer."""
    frame = pd.DataFrame(
        {
            "external_id": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "sector": "Energy",
            "subtype": None,
            "tier": 2,
            "address": None,
            "handling": [r[2] for r in rows],
            "lon": [r[3] for r in rows],
            "lat": [r[4] for r in rows],
        }
    )
    frame["cell"] = points_to_cells(frame["lat"], frame["lon"], 11)
    frame["content_hash"] = [hashlib.sha256(repr(r).encode()).hexdigest() for r in rows]
    with session_scope(engine) as s:
        batch = start_batch(
            s, source_agency="TEST", kind="site", origin="test", content_sha256=None, profile=None
        )
        counts = upsert_sites(s, frame, source_agency="TEST", batch_id=batch.id)
        finish_batch(s, batch, rows_read=len(frame), counts=counts, quarantined=0)


@pytest.fixture
def sites_read(engine: Engine) -> Iterator[list[str]]:
    """Statements that read the ``sites`` table (not the token)."""
    seen: list[str] = []

    def spy(_conn: object, _cur: object, statement: str, *_args: object) -> None:
        if "FROM sites" in statement:
            seen.append(statement)

    site_queries.forget_sites()
    event.listen(engine, "before_cursor_execute", spy)
    yield seen
    event.remove(engine, "before_cursor_execute", spy)
    site_queries.forget_sites()


def _answer(engine: Engine, viewer: Viewer, **kwargs: object) -> pd.DataFrame:
    with session_scope(engine) as s:
        return site_points(session=s, viewer=viewer, **kwargs)  # type: ignore[arg-type]


def _fresh(engine: Engine, viewer: Viewer, **kwargs: object) -> pd.DataFrame:
    """The answer read from the database, nothing kept."""
    site_queries.forget_sites()
    return _answer(engine, viewer, **kwargs)


def test_kept_answers_are_served_without_a_read_and_follow_every_write(
    engine: Engine, sites_read: list[str]
) -> None:
    _sites(
        engine,
        [("a", "Plant A", "TLP:CLEAR", -71.0, 42.3), ("b", "Plant B", "TLP:AMBER", -71.1, 42.4)],
    )
    first = _answer(engine, CENTER, bbox=BOX)
    assert len(sites_read) == 1 and set(first["name"]) == {"Plant A", "Plant B"}
    again = _answer(engine, OTHER_CENTER, bbox=BOX)  # the same class: kept, only the token read
    assert len(sites_read) == 1
    pd.testing.assert_frame_equal(again, first)
    again.loc[:, "name"] = "changed by a caller"  # a caller's change does not reach the kept one
    assert set(_answer(engine, CENTER, bbox=BOX)["name"]) == {"Plant A", "Plant B"}

    # Another class, other arguments: their own answers, as the database gives them.
    for viewer, kwargs in ((OUTSIDER, {"bbox": BOX}), (OWNER, {}), (CENTER, {"max_tier": 1})):
        kept = _answer(engine, viewer, **kwargs)
        pd.testing.assert_frame_equal(kept, _fresh(engine, viewer, **kwargs))
    assert "Plant B" not in set(_answer(engine, OUTSIDER, bbox=BOX)["name"])

    # Every kind of write replaces the token: the next answer is read again and is right.
    writes = [
        lambda: _sites(engine, [("c", "Plant C", "TLP:CLEAR", -71.2, 42.5)]),
        lambda: _exec(engine, "UPDATE sites SET name = 'Plant A2' WHERE external_id = 'a'"),
        lambda: _exec(engine, "DELETE FROM sites WHERE external_id = 'b'"),
    ]
    expected_names = [
        {"Plant A", "Plant B", "Plant C"},
        {"Plant A2", "Plant B", "Plant C"},
        {"Plant A2", "Plant C"},
    ]
    for write, names in zip(writes, expected_names, strict=True):
        _answer(engine, CENTER, bbox=BOX)  # kept before the write
        write()
        reads = len(sites_read)  # after the write's own statements
        got = _answer(engine, CENTER, bbox=BOX)
        assert len(sites_read) == reads + 1  # the token changed: read again
        assert set(got["name"]) == names
        pd.testing.assert_frame_equal(got, _fresh(engine, CENTER, bbox=BOX))


def test_a_statement_touching_no_site_keeps_the_answers(
    engine: Engine, sites_read: list[str]
) -> None:
    _sites(engine, [("a", "Plant A", "TLP:CLEAR", -71.0, 42.3)])
    _answer(engine, CENTER)
    reads = len(sites_read)
    _exec(engine, "UPDATE sites SET name = 'x' WHERE external_id = 'no such site'")
    _answer(engine, CENTER)  # still kept
    # PostgreSQL's statement triggers bump only when a row was touched; SQLite's fire per row.
    assert len(sites_read) == reads  # no read: the token is unchanged


def _exec(engine: Engine, sql: str) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql))
