"""Finding 6 of issue #18: sequential ids revealed hidden volume; only public ids leave now.

The attack, replayed through the real app: agency B's partner pages through OGC items and the
export API, posts events through the partner API before and after agency A stores some, and
counts the gaps between the integer ids it was given. Events and flags now leave the server by
their public ids (random, unrelated to the row order), so no answer holds an integer key, and a
hidden row's public id answers exactly like one that does not exist.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pandas as pd
import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from data_loaders.ingest import ingest_table
from data_loaders.profiles import load_profile
from data_loaders.readers import RawTable
from domain.roles import Role, Viewer
from rules.visibility import may_see
from security.apikeys import create_key
from settings import Settings
from store.engine import session_scope
from store.flag_writes import upsert_flags
from store.models import Event, Flag
from store.public_ids import is_public_id
from testkit.api_kit import bearer
from testkit.factories import raw_events
from testkit.security_kit import (
    AGENCY_A,
    AGENCY_B,
    callback_payload,
    event_frame,
    flag_candidate,
    make_users,
    sign_in,
    two_agency_events,
)

PARTNER_B = Viewer("key-b", Role.PARTNER, AGENCY_B)
ORIGIN = {"Origin": "http://localhost"}
# A JSON member "id" whose value is a number: what the old answers carried.
INTEGER_ID = re.compile(r'"id":\s*-?\d')


@pytest.fixture()
def world(engine: Engine, settings: Settings) -> dict[str, Any]:
    """Both agencies' RED/AMBER/GREEN events, flags of A (RED, GREEN), keys for A and B."""
    from app import create_app

    two_agency_events(engine, settings, n=20)
    frame = event_frame(engine)
    part = frame[frame["source_agency"] == AGENCY_A]
    candidates = [
        flag_candidate(part[part["handling"] == c], c, f"flag {c}")
        for c in ("TLP:RED", "TLP:GREEN")
    ]
    with session_scope(engine) as s:
        upsert_flags(s, candidates, gap_s=3600.0)
        key_a, _ = create_key(session=s, agency=AGENCY_A)
        key_b, _ = create_key(session=s, agency=AGENCY_B)
    make_users(engine, settings, ("analyst",))
    client = create_app(settings).server.test_client()
    return {"client": client, "key_a": key_a, "key_b": key_b, "frame": frame}


def _stored(engine: Engine, model: Any) -> pd.DataFrame:
    cols = ["id", "public_id", "handling", "source_agency"]
    cols += ["kind"] if model is Event else []
    with session_scope(engine) as s:
        rows = s.execute(select(*(getattr(model, c) for c in cols))).all()
    return pd.DataFrame(rows, columns=cols)


def _walk(client: FlaskClient, url: str, headers: dict[str, str]) -> list[str]:
    """Follow ``next`` links from ``url``; return every page's text."""
    pages = []
    while url:
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        pages.append(resp.get_data(as_text=True))
        nxt = [link["href"] for link in json.loads(pages[-1])["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://localhost", "") if nxt else ""
    return pages


def test_ogc_items_and_next_links_carry_public_ids_only(
    world: dict[str, Any], engine: Engine
) -> None:
    client, headers = world["client"], bearer(world["key_b"])
    events = _stored(engine, Event)
    seen = events[
        [
            may_see(PARTNER_B, handling=h, source_agency=a)
            for h, a in zip(events["handling"], events["source_agency"], strict=True)
        ]
    ]
    for cid, kind in (("incidents", "incident"), ("suspicious", "suspicious")):
        pages = _walk(client, f"/ogc/collections/{cid}/items?limit=7", headers)
        assert len(pages) > 1  # the next links (with their cursors) were followed
        ids = [f["id"] for page in pages for f in json.loads(page)["features"]]
        assert all(isinstance(i, str) and is_public_id(i) for i in ids), ids[:3]
        assert sorted(ids) == sorted(seen.loc[seen["kind"] == kind, "public_id"])
        for page in pages:
            assert not INTEGER_ID.search(page)
            for link in json.loads(page)["links"]:
                cursor = re.search(r"cursor=[^&]*_([^&_]+)", link["href"])
                assert cursor is None or is_public_id(cursor.group(1)), link["href"]
    flags = _stored(engine, Flag)
    (page,) = _walk(client, "/ogc/collections/flags/items", headers)
    green = flags.loc[flags["handling"] == "TLP:GREEN", "public_id"].tolist()
    assert [f["id"] for f in json.loads(page)["features"]] == green
    assert not INTEGER_ID.search(page)


def test_hidden_rows_public_id_answers_404_like_a_missing_one(
    world: dict[str, Any], engine: Engine
) -> None:
    client, headers = world["client"], bearer(world["key_b"])
    events, flags = _stored(engine, Event), _stored(engine, Flag)
    a_red = events[(events["source_agency"] == AGENCY_A) & (events["handling"] == "TLP:RED")]
    b_red = events[(events["source_agency"] == AGENCY_B) & (events["handling"] == "TLP:RED")]
    missing = "0" * 32

    def item(cid: str, fid: Any) -> tuple[int, str]:
        resp = client.get(f"/ogc/collections/{cid}/items/{fid}", headers=headers)
        body = resp.get_json()
        return resp.status_code, (body.get("code", "") + body.get("description", "")).replace(
            str(fid), "FID"
        )

    for cid, kind in (("incidents", "incident"), ("suspicious", "suspicious")):
        hidden = a_red.loc[a_red["kind"] == kind].iloc[0]
        own = b_red.loc[b_red["kind"] == kind].iloc[0]
        assert item(cid, own["public_id"])[0] == 200
        assert (
            item(cid, hidden["public_id"])
            == item(cid, missing)
            == (404, "NotFoundno feature 'FID' in '" + cid + "'")
        )
        # An integer key names nothing, not even the caller's own row.
        assert item(cid, int(own["id"]))[0] == 404
    red_flag = flags.loc[flags["handling"] == "TLP:RED"].iloc[0]
    green_flag = flags.loc[flags["handling"] == "TLP:GREEN"].iloc[0]
    assert item("flags", green_flag["public_id"])[0] == 200
    assert item("flags", red_flag["public_id"]) == item("flags", missing)
    assert item("flags", int(green_flag["id"]))[0] == 404


@pytest.mark.parametrize("fmt", ["geojson", "csv"])
def test_export_api_files_carry_no_integer_ids(
    world: dict[str, Any], engine: Engine, fmt: str
) -> None:
    client, headers = world["client"], bearer(world["key_b"])
    flags = _stored(engine, Flag)
    green = flags.loc[flags["handling"] == "TLP:GREEN", "public_id"].tolist()
    for layer in ("incidents", "suspicious", "flags"):
        resp = client.get(f"/api/v1/export?layer={layer}&format={fmt}", headers=headers)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
        text = resp.get_data(as_text=True)
        if fmt == "geojson":
            rows = [f["properties"] for f in json.loads(text)["features"]]
        else:
            rows = list(csv.DictReader(io.StringIO(text)))
        assert rows
        ids = [r["id"] for r in rows if "id" in r]
        assert all(is_public_id(str(i)) for i in ids), ids[:3]
        if layer == "flags":
            assert ids == green
        assert not INTEGER_ID.search(text)


def _post(client: FlaskClient, key: str, ext: str) -> Any:
    body = [{"id": ext, "occurred_at": "2023-02-10T10:00:00Z", "lat": 42.35, "lon": -71.06,
             "category": "VANDALISM", "description": "probe"}]  # fmt: skip
    resp = client.post("/api/v1/events", json=body, headers=bearer(key))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_partner_api_ids_do_not_count_what_others_stored_in_between(
    world: dict[str, Any], engine: Engine, settings: Settings
) -> None:
    client = world["client"]
    first = _post(client, world["key_b"], "B-PROBE-1")
    # Agency A stores 17 reports B may not see, then B posts again.
    profile = load_profile("bpd_incidents").model_copy(
        update={"name": "a-red", "source": AGENCY_A, "handling": "TLP:RED"}
    )
    summary = ingest_table(engine, raw_events(17, seed=7), profile, origin="a.csv", sha256=None,
                           area=None, store_res=settings.h3_store_res)  # fmt: skip
    assert summary.inserted == 17
    second = _post(client, world["key_b"], "B-PROBE-2")
    for answer in (first, second):
        # Counts and public ids only: no key, no batch number.
        assert set(answer) == {"source", "received", "inserted", "updated", "unchanged", "ids"}
        assert not INTEGER_ID.search(json.dumps(answer))
    (one,), (two,) = first["ids"], second["ids"]
    assert is_public_id(one["id"]) and is_public_id(two["id"])
    # Unrelated: no shared prefix, far apart as numbers (each fails with chance 2**-32 or less).
    assert one["id"][:8] != two["id"][:8]
    assert abs(int(one["id"], 16) - int(two["id"], 16)) > 2**64
    with session_scope(engine) as s:
        stored = dict(
            s.execute(select(Event.external_id, Event.public_id).where(
                Event.source_agency == AGENCY_B, Event.external_id.like("B-PROBE-%")
            )).tuples().all()
        )  # fmt: skip
    assert stored == {"B-PROBE-1": one["id"], "B-PROBE-2": two["id"]}
    assert _post(client, world["key_b"], "B-PROBE-1")["ids"] == [one]  # resent: the same id


def _callback(
    client: FlaskClient, output: str, values: dict[str, Any], changed: list[str] | None = None
) -> Any:
    deps = client.get("/_dash-dependencies").get_json()
    cb = next(c for c in deps if output in c["output"])
    body = callback_payload(cb, values, changed)
    return client.post("/_dash-update-component", json=body, headers=ORIGIN)


def test_flag_queue_holds_public_ids_and_finds_flags_by_them_only(
    world: dict[str, Any], engine: Engine
) -> None:
    client = world["client"]
    assert sign_in(client, "analyst") == 302
    flags = _stored(engine, Flag).set_index("handling")
    green, red = flags.loc["TLP:GREEN"], flags.loc["TLP:RED"]
    queue = _callback(client, "flags-grid.rowData", {"flags-show-all.value": ["all"]})
    rows = queue.get_json()["response"]["flags-grid"]["rowData"]
    assert [r["id"] for r in rows] == [green["public_id"]]  # A's RED flag: A only

    def detail(fid: Any) -> str:
        resp = _callback(client, "flag-detail.children", {"flags-grid.selectedRows": [{"id": fid}]})
        assert resp.status_code == 200
        return json.dumps(resp.get_json())

    assert "flag TLP:GREEN" in detail(green["public_id"])
    nothing = detail("0" * 32)
    assert "Select a flag" in nothing
    assert detail(red["public_id"]) == nothing
    assert detail(int(green["id"])) == nothing  # an integer key finds nothing

    def apply(fid: Any) -> str:
        resp = _callback(
            client,
            "flag-message.children",
            {"flag-apply.n_clicks": 1, "flags-grid.selectedRows": [{"id": fid}],
             "flag-action.value": "note", "flag-note.value": "seen"},
        )  # fmt: skip
        assert resp.status_code == 200
        return str(resp.get_json()["response"]["flag-message"]["children"])

    assert apply(green["public_id"]) == f"Flag {green['public_id']}: note recorded."
    missing = apply("0" * 32).replace("0" * 32, "FID")
    assert apply(red["public_id"]).replace(red["public_id"], "FID") == missing
    assert apply(int(green["id"])).replace(str(int(green["id"])), "FID") == missing


def test_live_feed_sends_public_ids_and_takes_them_back(
    world: dict[str, Any], engine: Engine
) -> None:
    client = world["client"]
    assert sign_in(client, "analyst") == 302
    events = _stored(engine, Event)
    resp = _callback(client, "feed-list.children", {})
    assert resp.status_code == 200
    out = resp.get_json()["response"]
    text = json.dumps(out)
    newest = out["feed-state"]["data"]["newest"]
    assert is_public_id(newest) and newest in set(events["public_id"])
    shown = re.findall(r'"data-id":\s*"?([^",}]*)', text)
    assert shown and all(is_public_id(i) for i in shown)
    # Acknowledging hands the public id back; the server keeps the key, "nothing new" follows.
    ack = _callback(
        client,
        "feed-list.children",
        {"feed-ack.n_clicks": 1, "feed-state.data": {"newest": newest}},
        changed=["feed-ack.n_clicks"],
    )
    assert "Nothing new since you last looked" in json.dumps(ack.get_json())


def _public_ids(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as s:
        return dict(s.execute(select(Event.external_id, Event.public_id)).tuples().all())


def test_bulk_ingest_gives_new_rows_fresh_ids_and_keeps_them_on_update(
    engine: Engine, settings: Settings
) -> None:
    profile = load_profile("bpd_incidents").model_copy(update={"name": "bulk", "source": AGENCY_A})

    def ingest(table: Any) -> Any:
        return ingest_table(engine, table, profile, origin="b.csv", sha256=None, area=None,
                            store_res=settings.h3_store_res)  # fmt: skip

    assert ingest(raw_events(20, seed=5)).inserted == 20  # into an empty table: straight in
    before = _public_ids(engine)
    assert len(set(before.values())) == 20 and all(map(is_public_id, before.values()))
    again = raw_events(20, seed=5)
    again.frame["STREET"] = "CHANGED ST"  # every row changes: the staged upsert updates them
    more = raw_events(5, seed=6).frame.assign(INCIDENT_NUMBER=[f"NEW-{i}" for i in range(5)])
    summary = ingest(RawTable(frame=pd.concat([again.frame, more], ignore_index=True)))
    assert (summary.inserted, summary.updated) == (5, 20)
    after = _public_ids(engine)
    assert {k: after[k] for k in before} == before  # an update keeps the public id
    fresh = [after[f"NEW-{i}"] for i in range(5)]
    assert all(map(is_public_id, fresh)) and len(set(fresh) | set(before.values())) == 25


def test_migration_backfills_a_distinct_public_id_for_existing_rows(
    world: dict[str, Any], engine: Engine
) -> None:
    from alembic import command

    from store.migrate import alembic_config, upgrade

    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "i11_sites_version")
    upgrade(engine)
    for model in (Event, Flag):
        stored = _stored(engine, model)
        assert len(stored) > 1 and stored["public_id"].map(is_public_id).all()
        assert stored["public_id"].is_unique
