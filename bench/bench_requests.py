"""CPU per request of each kind the load bench sends, in one process, on PostGIS.

``make bench ARGS=load`` measures latency on a saturated machine, where run-to-run noise hides
a change of a few milliseconds. This bench sends the same kinds of request through the real
endpoints (``/_dash-update-component`` and ``POST /api/v1/events``, Flask's test client, a
signed-in watch officer and an API key) against a throw-away PostGIS schema with
``WATCHFLOOR_BENCH_REQUESTS_EVENTS`` (300,000) synthetic events and 960 sites, ``..._ROUNDS`` (40)
rounds of:
an API batch of 10 events, the live poll, the live map redraw and the feed it fires, a map
update (a user's change, as the load bench draws it) and the timeline.
Reports the process CPU per request of each kind (median and mean), so that a change to the
request path can be measured on its own. ``WATCHFLOOR_BENCH_REQUESTS_PROFILE=path`` also
writes a cProfile of the rounds to ``path``. Needs WATCHFLOOR_BENCH_POSTGIS_URL.
"""

from __future__ import annotations

import cProfile
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench import _hexload
from bench._report import Report
from bench.bench_load import VIEWS, _callback, _map_values
from security.apikeys import create_key
from settings import Settings
from store.engine import dispose_engines, make_engine, session_scope
from testkit.security_kit import callback_payload, make_users, sign_in

KINDS = ("api batch", "poll", "live map", "feed", "map", "timeline")


def _env(name: str, default: int) -> int:
    return int(os.environ.get(f"WATCHFLOOR_BENCH_REQUESTS_{name}", default))


class _Client:
    """The dashboard's callbacks through a signed-in test client, timed in process CPU."""

    def __init__(self, client: Any, deps: list[dict[str, Any]]) -> None:
        self.client = client
        self.cbs = {
            "map": _callback(deps, "map-spec.data"),
            "poll": _callback(deps, "data-version.data"),
            "timeline": _callback(deps, "timeline-graph.figure"),
            "feed": _callback(deps, "feed-list.children"),
        }
        self.values: dict[str, Any] = {
            "feed-ack.n_clicks": 0,
            "live-interval.n_intervals": 0,
        }
        self.cpu: dict[str, list[float]] = {k: [] for k in KINDS}

    def post(self, cb: str, changed: list[str], kind: str) -> dict[str, Any]:
        body = callback_payload(self.cbs[cb], self.values, changed)
        c0 = time.process_time()
        resp = self.client.post(
            "/_dash-update-component", json=body, headers={"Origin": "http://localhost"}
        )
        self.cpu[kind].append(time.process_time() - c0)
        if resp.status_code not in (200, 204):
            raise RuntimeError(f"{kind}: HTTP {resp.status_code}")
        answer = resp.get_json().get("response", {}) if resp.status_code == 200 else {}
        for cid, props in answer.items():
            for prop, value in props.items():
                if cid in ("geometry-store", "feed-state", "data-version"):
                    self.values[f"{cid}.{prop}"] = value
        return answer


def _batch(client: Any, key: str, batch: str, rng: random.Random) -> float:
    now = datetime.now(UTC).isoformat()
    body = [
        {
            "id": f"{batch}-{i}",  # new ids: a repeated one is an update, which reloads
            "occurred_at": now,
            "lat": 42.25 + 0.2 * rng.random(),
            "lon": -71.35 + 0.25 * rng.random(),
            "category": "SURVL",
        }
        for i in range(10)
    ]
    c0 = time.process_time()
    resp = client.post(
        "/api/v1/events",
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    spent = time.process_time() - c0
    if resp.status_code != 201:
        raise RuntimeError(f"api batch: HTTP {resp.status_code} {resp.get_data(as_text=True)}")
    return spent


def _rounds(page: _Client, client: Any, key: str, rounds: int, tag: str) -> None:
    rng = random.Random(11)
    for r in range(rounds):
        page.cpu["api batch"].append(_batch(client, key, f"{tag}-{r}", rng))
        time.sleep(1.1)  # past the snapshot's lag (WATCHFLOOR_SNAPSHOT_MAX_LAG), as a page sees it
        page.values["live-interval.n_intervals"] += 1
        page.post("poll", ["live-interval.n_intervals"], "poll")
        page.post("map", ["data-version.data"], "live map")
        page.post("feed", ["data-version.data"], "feed")
        values, changed = _map_values(rng, rng.choice(VIEWS))
        page.values.update({k: v for k, v in values.items() if k == changed})
        page.post("map", [changed], "map")
        page.values["timeline-token.data"] = {"v": f"t{r}", "at": int(time.time() * 1000)}
        page.post("timeline", ["timeline-token.data"], "timeline")


def run(report: Report) -> None:
    base_url = os.environ.get("WATCHFLOOR_BENCH_POSTGIS_URL", "")
    if not base_url:
        sys.stdout.write("  skipped: WATCHFLOOR_BENCH_POSTGIS_URL is needed\n")
        return
    n, rounds = _env("EVENTS", 300_000), _env("ROUNDS", 40)
    profile_to = os.environ.get("WATCHFLOOR_BENCH_REQUESTS_PROFILE")
    from app import create_app

    with _hexload.postgis(base_url, n) as (url, load_s):
        sys.stdout.write(f"  {n:,} events loaded in {load_s:.0f} s\n")
        # As the load bench runs it: detection after imports off (production debounces it).
        # The shared cache in Redis as in production when WATCHFLOOR_BENCH_REDIS_URL is set
        # (``make bench`` sets it), in process otherwise.
        settings = Settings(
            database_url=url,
            env="test",
            detect_after_ingest=False,
            redis_url=os.environ.get("WATCHFLOOR_BENCH_REDIS_URL") or None,
        )
        engine = make_engine(url)
        _hexload.add_sites(engine)
        make_users(engine, settings, ("officer",))
        with session_scope(engine) as s:
            key, _ = create_key(session=s, agency="LOADTEST-PD", label="bench")
        client = create_app(settings).server.test_client()
        sign_in(client, "officer")
        deps = client.get("/_dash-dependencies").get_json()
        page = _Client(client, deps)
        values, _ = _map_values(random.Random(3), VIEWS[0])
        page.values.update(values)
        _rounds(page, client, key, 3, "warm")  # warm: snapshot, caches, first draws
        page.cpu = {k: [] for k in KINDS}
        profiler = cProfile.Profile() if profile_to else None
        if profiler:
            profiler.enable()
        _rounds(page, client, key, rounds, "run")
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile_to)
            sys.stdout.write(f"  cProfile written to {profile_to}\n")
        engine.dispose()
        dispose_engines()
    tag = f"{n // 1000}k{' redis' if settings.redis_url else ''}"
    for kind in KINDS:
        cpu = page.cpu[kind]
        med, mean = statistics.median(cpu) * 1000, statistics.fmean(cpu) * 1000
        report.record(f"requests {tag} {kind} CPU median", med, "ms", n=len(cpu))
        report.record(f"requests {tag} {kind} CPU mean", mean, "ms", n=len(cpu))
