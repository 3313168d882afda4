"""Exports and briefings from the command line are recorded in the audit log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from domain.roles import Role, Viewer
from exports.service import build_filter
from settings import PROJECT_ROOT
from store.engine import make_engine, session_scope
from store.models import AuditEntry
from store.queries.areas import events_in_area, find_area

ANALYST = Viewer("ana", Role.ANALYST, "MA-CFC")


def _manage(url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WATCHFLOOR_DATABASE_URL": url, "WATCHFLOOR_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=check,
    )


def test_cli_export_and_briefing_are_audited(
    tmp_path: Path, spatialite_demo_template: Path
) -> None:
    shutil.copy(spatialite_demo_template, tmp_path / "wf.sqlite")
    url = f"sqlite:///{tmp_path / 'wf.sqlite'}"
    # The demo kit is in (loaded once per test worker): seed-demo from the command line skips
    # every file already loaded and says so (the load itself: test_ingest.py).
    seeded = json.loads(_manage(url, "seed-demo", "--json").stdout)
    assert seeded["batches"] and all(b["already_loaded"] for b in seeded["batches"])
    exported_run = _manage(
        url,
        "export",
        "--layer",
        "suspicious",
        "--format",
        "csv",
        "--user",
        "ana",
        "--area",
        "region:suffolk",
        "--since",
        "2023-02-01",
        "--until",
        "2023-03-01",
        "--json",
        "-o",
        str(tmp_path / "s.csv"),
    )
    bad = _manage(
        url,
        "export",
        "--layer",
        "all",
        "--format",
        "csv",
        "--area",
        "region:Atlantis",
        "-o",
        str(tmp_path / "x.zip"),
        check=False,
    )
    assert bad.returncode == 1 and "no single region called 'Atlantis'" in bad.stderr
    _manage(
        url,
        "briefing",
        "--region",
        "Suffolk",
        "--since",
        "2023-02-01",
        "--user",
        "cmd",
        "-o",
        str(tmp_path / "b.html"),
    )
    engine = make_engine(url)
    with session_scope(engine) as s:
        rows = s.execute(
            select(AuditEntry.username, AuditEntry.action, AuditEntry.object)
            .where(AuditEntry.action.in_(["export", "briefing"]))
            .order_by(AuditEntry.id)
        ).all()
    engine.dispose()
    assert [(r.username, r.action) for r in rows] == [("ana", "export"), ("cmd", "briefing")]
    assert rows[0].object.endswith("s.csv") and (tmp_path / "b.html").exists()
    # The CLI's --area is the same filter as the regional picture's: Suffolk in February.
    engine = make_engine(url)
    with session_scope(engine) as s:
        suffolk = find_area(session=s, viewer=ANALYST, name="Suffolk")
        assert suffolk is not None
        inside = events_in_area(
            session=s,
            viewer=ANALYST,
            area_id=suffolk,
            filters=build_filter(since="2023-02-01", until="2023-03-01"),
        )
    engine.dispose()
    exported = json.loads(exported_run.stdout)
    assert exported["rows"] == {"suspicious": int((inside["kind"] == "suspicious").sum())}
    assert exported["filters"]["area"] == "Suffolk" and exported["rows"]["suspicious"] > 0
