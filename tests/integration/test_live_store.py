"""The live desk's store: data versions, the feed, flag alerts and user preferences."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select, update

from domain.roles import Role, Viewer
from rules.visibility import may_see
from settings import Settings
from store.engine import session_scope
from store.models import Event, Flag
from store.queries.feed import data_version, feed_items, flag_alerts, newest_event_id, unseen_count
from store.user_prefs import load_prefs, save_prefs
from testkit.security_kit import AGENCY_A, AGENCY_B, two_agency_events

OFFICER = Viewer("officer", Role.WATCH_OFFICER, "MA-CFC")
PARTNER_A = Viewer("partner-a", Role.PARTNER, AGENCY_A)
T0 = datetime(2023, 3, 1, tzinfo=UTC)


def _version(engine: Engine) -> str:
    with session_scope(engine, readonly=True) as s:
        return data_version(session=s)


def _flag(handling: str = "TLP:GREEN", agency: str = "", at: datetime = T0) -> Flag:
    return Flag(
        fingerprint=f"fp-{handling}-{agency}-{at.isoformat()}",
        status="new",
        priority=3.0,
        p_value=0.001,
        q_value=0.01,
        observed=7,
        expected=1.2,
        res=9,
        cells=json.dumps([1]),
        event_ids=json.dumps([]),
        site_ids=json.dumps([]),
        nearest_distance_m=100.0,
        explanation="{}",
        handling=handling,
        source_agency=agency,
        lon=-71.06,
        lat=42.36,
        window_start=at - timedelta(days=7),
        window_end=at,
        first_event_at=at - timedelta(days=6),
        last_event_at=at,
        first_detected_at=at,
        last_detected_at=at,
    )


def test_data_version_changes_on_event_and_flag_writes(engine: Engine, settings: Settings) -> None:
    first = _version(engine)
    events_token, flags_token = first.split(".")
    assert events_token and flags_token
    assert _version(engine) == first  # reading changes nothing
    two_agency_events(engine, settings, n=5)
    after_events = _version(engine)
    assert after_events.split(".")[0] != events_token
    assert after_events.split(".")[1] == flags_token
    with session_scope(engine) as s:
        s.add(_flag())
    after_flag = _version(engine)
    assert after_flag.split(".")[1] != flags_token
    with session_scope(engine) as s:
        s.execute(update(Flag).values(status="acknowledged"))
    after_status = _version(engine)
    assert after_status.split(".")[1] != after_flag.split(".")[1]
    with session_scope(engine) as s:
        # A statement touching no row changes nothing on PostgreSQL (transition tables); SQLite
        # row triggers never fire for it either.
        s.execute(update(Flag).where(Flag.id < 0).values(status="closed"))
    assert _version(engine) == after_status


def test_feed_is_newest_first_and_visibility_filtered(engine: Engine, settings: Settings) -> None:
    two_agency_events(engine, settings, n=8)
    with session_scope(engine, readonly=True) as s:
        every = s.execute(
            select(Event.id, Event.handling, Event.source_agency).order_by(Event.id.desc())
        ).all()
        officer = feed_items(session=s, viewer=OFFICER, limit=100)
        partner = feed_items(session=s, viewer=PARTNER_A, limit=100)
        partner_top = feed_items(session=s, viewer=PARTNER_A, limit=5)
        seen_partner = [
            r.id
            for r in every
            if may_see(PARTNER_A, handling=r.handling, source_agency=r.source_agency)
        ]
        assert [i.id for i in partner] == seen_partner[:100]
        assert [i.id for i in partner_top] == seen_partner[:5]
        # The partner never sees agency B's AMBER or RED reports; the officer sees B's AMBER.
        assert not any(i.source_agency == AGENCY_B and i.handling != "TLP:GREEN" for i in partner)
        assert any(i.source_agency == AGENCY_B and i.handling == "TLP:AMBER" for i in officer)
        assert all(i.place for i in partner)
        assert newest_event_id(session=s, viewer=PARTNER_A) == seen_partner[0]
        middle = seen_partner[len(seen_partner) // 2]
        newer = sum(1 for i in seen_partner if i > middle)
        assert unseen_count(session=s, viewer=PARTNER_A, after_id=middle) == newer
        # Bounded: past ``at_most`` the count stops at ``at_most + 1`` ("more than").
        assert newer > 3
        assert unseen_count(session=s, viewer=PARTNER_A, after_id=middle, at_most=3) == 4
        assert unseen_count(session=s, viewer=PARTNER_A, after_id=middle, at_most=newer) == newer


def test_flag_alerts_new_escalated_and_acknowledged(engine: Engine) -> None:
    with session_scope(engine) as s:
        green, red_b = _flag(), _flag("TLP:RED", AGENCY_B, T0 + timedelta(hours=1))
        s.add_all([green, red_b])
    with session_scope(engine) as s:
        officer = flag_alerts(session=s, viewer=OFFICER, since=None)
        partner = flag_alerts(session=s, viewer=PARTNER_A, since=None)
        assert [a.id for a in officer] == [green.id]  # RED of B: B only
        assert [a.id for a in partner] == [green.id]
        assert not officer[0].escalated
        assert flag_alerts(session=s, viewer=OFFICER, since=T0) == []
        # Detection adds events to the flag: it is escalated and alerts again.
        s.execute(
            update(Flag)
            .where(Flag.id == green.id)
            .values(last_detected_at=T0 + timedelta(hours=2), detections=2)
        )
        again = flag_alerts(session=s, viewer=OFFICER, since=T0)
        assert [a.id for a in again] == [green.id] and again[0].escalated
        s.execute(update(Flag).where(Flag.id == green.id).values(status="closed"))
        assert flag_alerts(session=s, viewer=OFFICER, since=None) == []


def test_prefs_are_created_kept_and_only_move_forward(engine: Engine) -> None:
    with session_scope(engine) as s:
        assert load_prefs(session=s, username="officer") is None
        save_prefs(session=s, username="officer", theme="dark", feed_seen_id=10)
    with session_scope(engine) as s:
        prefs = save_prefs(session=s, username="officer", wall_mode=True, feed_seen_id=4)
        assert (prefs.theme, prefs.wall_mode, prefs.feed_seen_id) == ("dark", True, 10)
        save_prefs(session=s, username="officer", theme="<script>", flags_seen_at=T0)
        save_prefs(session=s, username="officer", flags_seen_at=T0 - timedelta(days=1))
    with session_scope(engine, readonly=True) as s:
        prefs = load_prefs(session=s, username="officer")
        assert prefs is not None
        assert (prefs.theme, prefs.flags_seen_at) == ("light", T0)
        assert load_prefs(session=s, username="someone-else") is None
