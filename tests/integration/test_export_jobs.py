"""Dashboard export jobs: progress to the total, exactly the screen's rows, owner only, audited."""

from __future__ import annotations

import contextlib
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from sqlalchemy import Engine, select

from domain.caveats import most_restrictive
from domain.roles import Role, Viewer
from exports.service import export_layers
from jobs.exports import cleanup_expired_jobs, job_dir, job_status, run_export_job, start_export_job
from layers.selection import ScreenState, screen_filter
from security.users import AccountError
from settings import Settings
from store.engine import session_scope
from store.export_jobs import create_job, load_job
from store.models import AuditEntry, Event, ExportJob
from store.queries.areas import filtered_events, find_area
from testkit.security_kit import make_users, sign_in

FEB = (datetime(2023, 2, 1, tzinfo=UTC), datetime(2023, 3, 1, tzinfo=UTC))
CHUNK_ROWS = 700  # several pages for the ~1,500 February incidents in Suffolk


def _analyst(settings: Settings) -> Viewer:
    return Viewer("analyst", Role.ANALYST, settings.host_agency)


def _suffolk_feb(engine: Engine, viewer: Viewer) -> ScreenState:
    with session_scope(engine) as s:
        suffolk = find_area(session=s, viewer=viewer, name="Suffolk")
    return ScreenState("custom", *FEB, area={"type": "region", "id": suffolk})


def _expected(
    engine: Engine, settings: Settings, viewer: Viewer, state: ScreenState
) -> tuple[set[str], str]:
    """External ids and marking of the incidents the map shows for ``state`` (its own query)."""
    with session_scope(engine) as s:
        f = screen_filter(state, session=s, viewer=viewer, tz=settings.timezone)
        shown = filtered_events(session=s, viewer=viewer, filters=f)
        incidents = shown[shown["kind"] == "incident"]
        ids = incidents["id"].tolist()
        external = set(s.execute(select(Event.external_id).where(Event.id.in_(ids))).scalars())
    return external, most_restrictive(list(incidents["handling"]))


def _read_ids(path: Path, fmt: str) -> list[str]:
    """Read the job's file back with pyogrio and return the external id of every feature."""
    if fmt == "csv":
        with zipfile.ZipFile(path) as zf:
            assert {"watchfloor-incidents.csv", "watchfloor-incidents.csv.metadata.json"} == set(
                zf.namelist()
            )
        frame = pyogrio.read_dataframe(f"/vsizip/{path}/watchfloor-incidents.csv")
        return frame["external_id"].tolist()
    if fmt == "kml":  # GDAL's KML reader gives the placemark label: the external id
        return pyogrio.read_dataframe(f"/vsizip/{path}/watchfloor-incidents.kml")["Name"].tolist()
    if fmt == "shp":
        return pyogrio.read_dataframe(f"/vsizip/{path}/incidents.shp")["ext_id"].tolist()
    return pyogrio.read_dataframe(path)["external_id"].tolist()


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shp", "csv", "kml"])
def test_run_export_job_progress_reaches_total_and_file_holds_the_screen(
    demo_db: tuple[Engine, Settings], tmp_path: Path, fmt: str
) -> None:
    engine, base = demo_db
    settings = base.model_copy(update={"var_dir": tmp_path, "export_chunk_rows": CHUNK_ROWS})
    viewer = _analyst(settings)
    state = _suffolk_feb(engine, viewer)
    expected, marking = _expected(engine, settings, viewer, state)
    seen: list[tuple[int, int | None]] = []

    def watch(_done: int) -> None:
        # What a poll from any worker reads at this moment: the row in the database.
        status = job_status(engine=engine, settings=settings, job_id=job_id_box[0], viewer=viewer)
        assert status is not None
        seen.append((status.rows_done, status.rows_total))

    job_id_box: list[str] = []
    with session_scope(engine) as s:  # the id is needed inside watch(): start by hand
        job_id_box.append("job" + fmt)
        create_job(
            session=s,
            job_id=job_id_box[0],
            username=viewer.username,
            agency=viewer.agency,
            layer="incidents",
            fmt=fmt,
            res=8,
            state_json=state.to_json(),
        )
    run_export_job(engine, settings, job_id_box[0], viewer, "incidents", fmt, 8, state, watch)

    status = job_status(engine=engine, settings=settings, job_id=job_id_box[0], viewer=viewer)
    assert status is not None and status.status == "done", status
    total = len(expected)
    assert total > 2 * CHUNK_ROWS
    done = [d for d, _ in seen]
    assert {t for _, t in seen} == {total}  # counted first, with the same filter
    assert done == sorted(done) and len(done) == -(-total // CHUNK_ROWS) and done[-1] == total
    path = job_dir(settings, status.id) / str(status.filename)
    assert path.stat().st_size == status.size_bytes
    ids = _read_ids(path, fmt)
    assert len(ids) == total and set(ids) == expected
    assert status.details["rows"] == {"incidents": total}
    assert status.details["handling"] == marking


def test_run_export_job_all_layers_match_the_export_service(
    demo_db: tuple[Engine, Settings], tmp_path: Path
) -> None:
    engine, base = demo_db
    settings = base.model_copy(update={"var_dir": tmp_path, "export_chunk_rows": 5_000})
    viewer = _analyst(settings)
    state = _suffolk_feb(engine, viewer)
    job_id = start_export_job(
        engine=engine,
        settings=settings,
        viewer=viewer,
        layer="all",
        fmt="gpkg",
        res=8,
        state=state,
        background=False,
    )
    status = job_status(engine=engine, settings=settings, job_id=job_id, viewer=viewer)
    assert (
        status is not None and status.status == "done" and status.filename == "watchfloor-all.gpkg"
    )
    path = job_dir(settings, job_id) / status.filename
    with session_scope(engine) as s:
        f = screen_filter(state, session=s, viewer=viewer, tz=settings.timezone)
        reference = export_layers(
            ["all"], "gpkg", tmp_path / "ref.gpkg", session=s, viewer=viewer, filters=f
        )
    for layer, rows in reference.rows.items():
        assert len(pyogrio.read_dataframe(path, layer=layer)) == rows, layer
    assert status.rows_done == status.rows_total == sum(reference.rows.values())
    meta = json.loads(pyogrio.read_info(path, layer="incidents")["layer_metadata"]["watchfloor"])
    assert meta["rows"] == reference.rows and meta["handling"] == reference.metadata["handling"]


def _client(engine: Engine, settings: Settings, name: str):  # type: ignore[no-untyped-def]
    from app import create_app

    with contextlib.suppress(AccountError):  # one demo database per module
        make_users(engine, settings, (name,))
    client = create_app(settings).server.test_client()
    assert sign_in(client, name) == 302
    return client


def test_job_routes_answer_only_the_owner_and_audit_the_download(
    demo_db: tuple[Engine, Settings], tmp_path: Path
) -> None:
    engine, base = demo_db
    settings = base.model_copy(update={"var_dir": tmp_path})
    owner = _client(engine, settings, "analyst")
    other = _client(engine, settings, "command")  # may export too, but not this job
    viewer = _analyst(settings)
    state = _suffolk_feb(engine, viewer)
    job_id = start_export_job(
        engine=engine,
        settings=settings,
        viewer=viewer,
        layer="suspicious",
        fmt="geojson",
        res=8,
        state=state,
        background=False,
    )
    for url in (f"/export/jobs/{job_id}", f"/export/jobs/{job_id}/file", "/export/jobs/nope"):
        assert other.get(url).status_code == 404, url
    progress = owner.get(f"/export/jobs/{job_id}").get_json()
    assert progress["status"] == "done" and progress["rows_done"] == progress["rows_total"] > 0
    resp = owner.get(f"/export/jobs/{job_id}/file")
    assert resp.status_code == 200
    body = resp.get_data()
    resp.close()
    on_disk = (job_dir(settings, job_id) / "watchfloor-suspicious.geojson").read_bytes()
    assert body == on_disk and int(resp.headers["Content-Length"]) == len(on_disk)
    assert (
        resp.headers["Content-Disposition"] == "attachment; filename=watchfloor-suspicious.geojson"
    )
    features = json.loads(body)["features"]
    assert len(features) == progress["rows_total"]
    with session_scope(engine) as s:
        entry = (
            s.execute(
                select(AuditEntry)
                .where(AuditEntry.action == "export", AuditEntry.username == "analyst")
                .order_by(AuditEntry.id.desc())
            )
            .scalars()
            .first()
        )
        audited_by_other = s.execute(
            select(AuditEntry.id).where(
                AuditEntry.action == "export", AuditEntry.username == "command"
            )
        ).all()
    assert entry is not None and entry.object == "watchfloor-suspicious.geojson"
    details = json.loads(entry.details or "{}")
    assert details["job"] == job_id and details["via"] == "dashboard"
    assert details["rows"] == {"suspicious": len(features)} and details["format"] == "geojson"
    assert details["handling"] == "TLP:AMBER" and details["filters"]["area"] == "Suffolk"
    assert details["state"]["area"] == state.area
    assert not audited_by_other


def test_a_job_without_heartbeat_is_reported_failed_and_never_finishes(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"var_dir": tmp_path, "export_stale_s": 30})
    viewer = _analyst(settings)
    with session_scope(engine) as s:
        # The row of a job whose worker died right after starting it: nobody beats for it.
        create_job(
            session=s,
            job_id="dead",
            username="analyst",
            agency=viewer.agency,
            layer="incidents",
            fmt="gpkg",
            res=8,
            state_json="{}",
        )
    with session_scope(engine) as s:
        fresh = load_job(session=s, job_id="dead", username="analyst", stale_s=30)
        later = datetime.now(UTC) + timedelta(seconds=31)
        dead = load_job(session=s, job_id="dead", username="analyst", stale_s=30, now=later)
        assert load_job(session=s, job_id="dead", username="command", stale_s=30) is None
    assert fresh is not None and fresh.status == "running"
    assert dead is not None and dead.status == "failed"
    assert "server process running it ended" in str(dead.message)
    # Every worker now answers the same, and the job, should it still run, stops writing.
    again = job_status(engine=engine, settings=settings, job_id="dead", viewer=viewer)
    assert again is not None and again.status == "failed"
    run_export_job(engine, settings, "dead", viewer, "incidents", "gpkg", 8, ScreenState())
    after = job_status(engine=engine, settings=settings, job_id="dead", viewer=viewer)
    assert after is not None and after.status == "failed" and after.filename is None
    assert not job_dir(settings, "dead").exists()


def test_cleanup_deletes_expired_jobs_and_their_files(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"var_dir": tmp_path, "export_retention_hours": 1})
    viewer = _analyst(settings)
    job_id = start_export_job(
        engine=engine,
        settings=settings,
        viewer=viewer,
        layer="sites",
        fmt="csv",
        res=8,
        state=ScreenState(),
        background=False,
    )
    folder = job_dir(settings, job_id)
    assert (folder / "watchfloor-sites.csv.zip").is_file()
    now = datetime.now(UTC)
    assert cleanup_expired_jobs(engine=engine, settings=settings, now=now) == 0
    assert folder.is_dir()
    assert cleanup_expired_jobs(engine=engine, settings=settings, now=now + timedelta(hours=2)) == 1
    assert not folder.exists()
    with session_scope(engine) as s:
        assert s.get(ExportJob, job_id) is None


def test_unknown_layer_or_format_is_refused(engine: Engine, settings: Settings) -> None:
    from jobs.exports import ExportJobError

    viewer = _analyst(settings)
    for layer, fmt in (("secrets", "gpkg"), ("sites", "docx")):
        with pytest.raises(ExportJobError):
            start_export_job(
                engine=engine,
                settings=settings,
                viewer=viewer,
                layer=layer,
                fmt=fmt,
                res=8,
                state=ScreenState(),
                background=False,
            )
    with session_scope(engine) as s:
        assert s.execute(select(ExportJob.id)).first() is None


# A worker process that starts a job in the background, as the dashboard does, and dies
# (os._exit: no clean-up, like a SIGKILL) right after the first chunk is committed.
_DYING_WORKER = """
import os, sys, threading
from jobs.exports import start_export_job
from layers.selection import ScreenState
from domain.roles import Role, Viewer
from settings import Settings
from store.engine import make_engine

settings = Settings(env="test")
viewer = Viewer("analyst", Role.ANALYST, settings.host_agency)
box = []

def die(done):
    sys.stdout.write(f"{box[0]} {done}\\n")
    sys.stdout.flush()
    os._exit(9)

box.append(start_export_job(
    engine=make_engine(settings.database_url), settings=settings, viewer=viewer,
    layer="incidents", fmt="gpkg", res=8, state=ScreenState.from_json(sys.argv[1]),
    on_progress=die,
))
threading.Event().wait(120)
"""


def test_a_job_whose_process_died_is_reported_failed(
    demo_db: tuple[Engine, Settings], tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    from settings import PROJECT_ROOT

    engine, base = demo_db
    settings = base.model_copy(update={"var_dir": tmp_path, "export_stale_s": 5})
    viewer = _analyst(settings)
    state = _suffolk_feb(engine, viewer)
    env = {
        **os.environ,
        "WATCHFLOOR_DATABASE_URL": settings.database_url,
        "WATCHFLOOR_VAR_DIR": str(tmp_path),
        "WATCHFLOOR_EXPORT_CHUNK_ROWS": "200",
        "WATCHFLOOR_EXPORT_STALE_S": "5",
        "WATCHFLOOR_LOG_LEVEL": "WARNING",
    }
    run = subprocess.run(
        [sys.executable, "-c", _DYING_WORKER, state.to_json()],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 9, run.stderr[-2000:]
    job_id, done = run.stdout.split()
    # Another process (this one, as another worker would) reads the job from the database.
    status = job_status(engine=engine, settings=settings, job_id=job_id, viewer=viewer)
    assert status is not None and status.status == "running"
    assert status.rows_done == int(done) == 200 < int(status.rows_total or 0)
    with session_scope(engine) as s:
        later = datetime.now(UTC) + timedelta(seconds=6)
        dead = load_job(session=s, job_id=job_id, username="analyst", stale_s=5, now=later)
    assert dead is not None and dead.status == "failed" and dead.rows_done == 200
    assert dead.message is not None and "Start it again" in dead.message
    assert job_dir(settings, job_id).is_dir()  # the dead process left its partial file
    retention = timedelta(hours=settings.export_retention_hours + 1)
    now = datetime.now(UTC) + retention
    assert cleanup_expired_jobs(engine=engine, settings=settings, now=now) >= 1
    assert not job_dir(settings, job_id).exists()


def test_manage_exports_cleanup_reports_what_it_deleted(tmp_path: Path, db_url: str) -> None:
    import os
    import subprocess
    import sys

    from settings import PROJECT_ROOT

    env = {
        **os.environ,
        "WATCHFLOOR_DATABASE_URL": db_url,
        "WATCHFLOOR_VAR_DIR": str(tmp_path),
        "WATCHFLOOR_LOG_LEVEL": "WARNING",
    }
    from sqlalchemy import update

    from store.engine import make_engine

    engine = make_engine(db_url)
    old = datetime.now(UTC) - timedelta(hours=25)
    with session_scope(engine) as s:
        for job_id in ("old", "new"):
            create_job(
                session=s,
                job_id=job_id,
                username="analyst",
                agency="MA-CFC",
                layer="sites",
                fmt="csv",
                res=8,
                state_json="{}",
            )
            (tmp_path / "exports" / job_id).mkdir(parents=True)
        s.execute(
            update(ExportJob).where(ExportJob.id == "old").values(created_at=old, heartbeat_at=old)
        )
    engine.dispose()
    run = subprocess.run(
        [sys.executable, "manage.py", "exports", "cleanup", "--json"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(run.stdout) == {"deleted": 1, "retention_hours": 24.0}
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == ["new"]


def test_export_job_holds_only_what_the_viewer_may_see(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    from rules.visibility import may_see
    from testkit.security_kit import event_frame, two_agency_events

    settings = settings.model_copy(update={"var_dir": tmp_path, "export_chunk_rows": 50})
    two_agency_events(engine, settings)
    viewer = _analyst(settings)  # center staff: no other agency's TLP:RED
    job_id = start_export_job(
        engine=engine,
        settings=settings,
        viewer=viewer,
        layer="incidents",
        fmt="csv",
        res=8,
        state=ScreenState(preset="all"),
        background=False,
    )
    status = job_status(engine=engine, settings=settings, job_id=job_id, viewer=viewer)
    assert status is not None and status.status == "done"
    stored = event_frame(engine)
    allowed = [
        may_see(viewer, handling=h, source_agency=a)
        for h, a in zip(stored["handling"], stored["source_agency"], strict=True)
    ]
    incidents = stored["kind"] == "incident"
    visible = stored[incidents & pd.Series(allowed, index=stored.index)]
    assert len(visible) < incidents.sum()  # some RED rows really are hidden from the analyst
    path = job_dir(settings, job_id) / "watchfloor-incidents.csv.zip"
    back = pyogrio.read_dataframe(f"/vsizip/{path}/watchfloor-incidents.csv")
    assert sorted(back["external_id"]) == sorted(visible["external_id"])
    assert "TLP:RED" not in set(back["handling"])
    assert status.rows_done == status.rows_total == len(visible)
