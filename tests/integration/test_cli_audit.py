"""Exports and briefings from the command line are recorded in the audit log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from settings import PROJECT_ROOT
from store.engine import make_engine, session_scope
from store.models import AuditEntry


def _manage(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WATCHFLOOR_DATABASE_URL": url, "WATCHFLOOR_LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def test_cli_export_and_briefing_are_audited(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wf.sqlite'}"
    _manage(url, "seed-demo")
    _manage(
        url,
        "export",
        "--layer",
        "suspicious",
        "--format",
        "csv",
        "--user",
        "ana",
        "-o",
        str(tmp_path / "s.csv"),
    )
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
