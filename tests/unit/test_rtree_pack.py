"""The packed R*Tree build: SQLite's own checker accepts it and it answers like a scan."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from store.rtree_pack import fill_point_rtree


@pytest.mark.parametrize("n", [0, 1, 50, 51, 52, 20_000])
def test_a_packed_rtree_is_valid_and_answers_box_queries_like_a_scan(n: int) -> None:
    rng = np.random.default_rng(n)
    lon = rng.uniform(-73.5, -69.9, n)
    lat = rng.uniform(41.2, 42.9, n)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE pts (id INTEGER PRIMARY KEY, lon REAL, lat REAL)")
    db.executemany(
        "INSERT INTO pts VALUES (?, ?, ?)",
        zip((np.arange(n) * 3 + 7).tolist(), lon.tolist(), lat.tolist(), strict=True),
    )
    db.execute("CREATE VIRTUAL TABLE rt USING rtree(pkid, xmin, xmax, ymin, ymax)")
    assert fill_point_rtree(db.cursor(), "rt", "SELECT id, lon, lat FROM pts") == n
    assert db.execute("SELECT rtreecheck('rt')").fetchone()[0] == "ok"
    assert db.execute("SELECT count(*) FROM rt").fetchone()[0] == n
    for _ in range(20):
        x0, y0 = rng.uniform(-73.5, -70.5), rng.uniform(41.2, 42.5)
        box = (x0, x0 + rng.uniform(0, 1), y0, y0 + rng.uniform(0, 0.5))
        found = {
            r[0]
            for r in db.execute(
                "SELECT pkid FROM rt WHERE xmax >= ? AND xmin <= ? AND ymax >= ? AND ymin <= ?",
                box,
            )
        }
        exact = {
            r[0]
            for r in db.execute(
                "SELECT id FROM pts WHERE lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?", box
            )
        }
        # Float32 bounds are rounded outwards: every point inside is found, none far outside.
        assert exact <= found
        assert len(found - exact) <= 2
    # The module keeps maintaining the packed tree.
    db.execute("INSERT INTO rt VALUES (1, -71.0, -71.0, 42.0, 42.0)")
    db.execute("DELETE FROM rt WHERE pkid = 7")
    assert db.execute("SELECT rtreecheck('rt')").fetchone()[0] == "ok"
