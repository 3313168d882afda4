"""The audit log is append-only and exportable; SARs carry review dates and purge when due."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.exc import DBAPIError

from domain.roles import Viewer
from security import audit
from security.retention import purge
from settings import Settings, get_settings
from store.base import utcnow
from store.engine import session_scope
from store.migrate import alembic_config, upgrade
from store.models import AuditEntry, Event
from store.models.event import add_years
from testkit.security_kit import two_agency_events


def test_audit_log_refuses_update_and_delete(engine: Engine) -> None:
    with session_scope(engine) as s:
        audit.record(session=s, viewer=Viewer.system(), action="test", object="x")
    for stmt in (update(AuditEntry).values(outcome="denied"), delete(AuditEntry)):
        with pytest.raises(DBAPIError, match="append-only"), session_scope(engine) as s:
            s.execute(stmt)
    with session_scope(engine) as s:
        assert s.execute(select(AuditEntry.outcome)).scalars().all() == ["ok"]


def test_sars_get_a_review_date_and_incidents_none(engine: Engine, settings: Settings) -> None:
    two_agency_events(engine, settings, n=10)
    with session_scope(engine) as s:
        rows = s.execute(select(Event.kind, Event.created_at, Event.review_at)).all()
    sars = [r for r in rows if r.kind == "suspicious"]
    # Entry time and review date are stamped in the same write (milliseconds apart at most).
    assert sars and all(
        abs(r.review_at - add_years(r.created_at, 5)) < timedelta(seconds=1) for r in sars
    )
    assert all(r.review_at is None for r in rows if r.kind == "incident")


def test_purge_lists_then_deletes_what_is_due(engine: Engine, settings: Settings) -> None:
    two_agency_events(engine, settings, n=10)
    now = utcnow()
    with session_scope(engine) as s:
        ids = s.execute(select(Event.id).where(Event.kind == "suspicious")).scalars().all()
        due_ids = sorted(ids)[:3]
        s.execute(
            update(Event).where(Event.id.in_(due_ids)).values(review_at=now - timedelta(days=1))
        )
        total = len(s.execute(select(Event.id)).all())
    with session_scope(engine) as s:
        listed = purge(session=s, viewer=Viewer.system(), now=now, apply=False)
    assert sorted(d.id for d in listed) == due_ids
    with session_scope(engine) as s:
        assert len(s.execute(select(Event.id)).all()) == total  # a dry run deletes nothing
        purged = purge(session=s, viewer=Viewer.system(), now=now, apply=True)
    assert sorted(d.id for d in purged) == due_ids
    with session_scope(engine) as s:
        left = set(s.execute(select(Event.id)).scalars())
        entries = audit.entries(session=s, action="purge")
    assert len(left) == total - 3 and not left & set(due_ids)
    details = [json.loads(e.details or "{}") for e in reversed(entries)]
    assert [(d["apply"], d["due"], sorted(d["ids"])) for d in details] == [
        (False, 3, due_ids),
        (True, 3, due_ids),
    ]


def test_migration_backfills_review_dates(engine: Engine, settings: Settings) -> None:
    two_agency_events(engine, settings, n=10)
    cfg = alembic_config()
    before = ScriptDirectory.from_config(cfg).get_revision("i6_security").down_revision
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, str(before))
    upgrade(engine)
    with session_scope(engine) as s:
        rows = s.execute(select(Event.kind, Event.created_at, Event.review_at)).all()
    for r in rows:
        expected = add_years(r.created_at, 5) if r.kind == "suspicious" else None
        got = r.review_at
        assert (got is None) == (expected is None)
        if got is not None:
            assert abs(got - expected) < timedelta(seconds=1)  # SQLite keeps whole seconds


def test_cli_users_audit_export_and_purge(
    db_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import manage

    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
        assert (
            manage.main(
                ["users", "add", "ana", "--role", "analyst", "--agency", "X", "--password-stdin"]
            )
            == 0
        )
        assert (
            manage.main(["users", "add", "pat", "--role", "partner", "--agency", "Y", "--json"])
            == 0
        )
        otp = json.loads(capsys.readouterr().out.splitlines()[-1])["one_time_password"]
        assert len(otp) >= 12
        assert manage.main(["users", "add", "bad", "--role", "king", "--agency", "Y"]) == 1
        assert manage.main(["users", "disable", "pat"]) == 0
        assert manage.main(["users", "reset", "ana", "--json"]) == 0
        assert manage.main(["users", "list", "--json"]) == 0
        out = capsys.readouterr().out.splitlines()
        users = {u["username"]: u for u in json.loads(out[-1])["users"]}
        assert users["pat"]["disabled"] and users["ana"]["must_change_password"]
        assert manage.main(["purge", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["records"] == []
        target = tmp_path / "audit.csv"
        assert manage.main(["audit", "export", "--output", str(target)]) == 0
        rows = list(csv.DictReader(io.StringIO(target.read_text())))
        actions = [r["action"] for r in reversed(rows)]
        assert actions == ["user.add", "user.add", "user.disable", "user.reset", "purge"]
        assert all(r["username"] == "system" for r in rows)
    finally:
        get_settings.cache_clear()


def test_purge_removes_session_records_no_cookie_can_name(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Session rows older than the absolute lifetime go with --apply; younger ones stay."""
    import manage
    from store.base import utcnow
    from store.models import User, UserSession

    monkeypatch.setenv("WATCHFLOOR_DATABASE_URL", db_url)
    monkeypatch.setenv("WATCHFLOOR_SESSION_MAX_HOURS", "12")
    get_settings.cache_clear()
    now = utcnow()
    try:
        with session_scope(engine) as s:
            user = User(username="ana", role="analyst", agency="X", password_hash="x")
            s.add(user)
            s.flush()
            ages = {"open-old": 13, "ended-old": 30, "open-young": 11, "ended-young": 1}
            for name, hours in ages.items():
                ended = now - timedelta(hours=hours - 0.5) if name.startswith("ended") else None
                s.add(
                    UserSession(
                        id=name,
                        user_id=user.id,
                        created_at=now - timedelta(hours=hours),
                        ended_at=ended,
                        end_reason="user" if ended else None,
                    )
                )
        assert manage.main(["purge", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["sessions"] == 2  # a dry run: counted only
        with session_scope(engine) as s:
            assert len(s.execute(select(UserSession.id)).all()) == 4
        assert manage.main(["purge", "--apply", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["sessions"] == 2
        with session_scope(engine) as s:
            left = sorted(s.execute(select(UserSession.id)).scalars())
        assert left == ["ended-young", "open-young"]
    finally:
        get_settings.cache_clear()
