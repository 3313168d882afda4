"""The production profile under load: dashboards and the partner API at once, on PostGIS.

PostGIS with 1,000,000 synthetic events and 960 sites (``bench/_hexload.py``), gunicorn workers
with Redis as the shared cache (``gunicorn.conf.py``, a child process), 50 signed-in dashboard
pages POSTing the real Dash callbacks to ``/_dash-update-component`` as the browser does
(``Page``): the live
data-version poll every 5 s and, on each new version, the map, timeline and feed redraws at once
(the flag queue and alerts when flags changed); a user changing the window, layers, colour or
viewport every 5-15 s. Meanwhile the partner API takes 100 events per second. A probe page,
polling and redrawing as the browser does, measures how long a posted event takes to show on its
map. At the end every event sent is looked up: stored exactly once?

Bounded: ``WATCHFLOOR_BENCH_LOAD_SECONDS`` (default 180) of load after the setup, events
``WATCHFLOOR_BENCH_LOAD_EVENTS`` (1,000,000), sessions ``..._SESSIONS`` (50), API rate
``..._RATE`` (100 events/s), gunicorn ``..._WORKERS`` (one per core, as the deployment guide
sizes it) x ``..._THREADS`` (8), a user's pause between changes ``..._THINK_MIN_S`` (5) to
``..._THINK_MAX_S`` (15) seconds.
Needs WATCHFLOOR_BENCH_POSTGIS_URL and WATCHFLOOR_BENCH_REDIS_URL (``make bench`` sets both).
"""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import requests
from sqlalchemy import func, select

from bench import _hexload
from bench._report import Report
from domain.roles import Viewer
from ops.launch import free_port, start_gunicorn, stop_gunicorn, wait_ready
from security.apikeys import create_key
from security.users import add_user
from store.engine import make_engine, session_scope
from store.models import Event
from testkit.security_kit import callback_payload

PASSWORD = "load-bench-password-1"
API_AGENCY = "LOADTEST-PD"
# Dashboard users: center staff and partners of several agencies (several visibility classes).
USERS = [
    ("officer", "watch_officer", "MA-CFC"),
    ("command", "command", "MA-CFC"),
    ("analyst", "analyst", "MA-CFC"),
    ("bpd", "partner", "BPD"),
    ("msp", "partner", "MSP"),
    ("cambridge", "partner", "CAMBRIDGE-PD"),
]
# Where dashboards look: (lat, lon, zoom) around the synthetic clusters.
VIEWS = [
    (42.36, -71.06, 10),
    (42.36, -71.06, 12),
    (42.27, -71.80, 11),
    (42.10, -72.59, 11),
    (42.64, -71.31, 12),
    (42.3, -71.8, 8),
]
PROBE = (42.4501, -73.2498)  # Pittsfield: no synthetic event nearby
LIVE_POLL_S = 5.0  # the dashboard's live interval (WATCHFLOOR_LIVE_POLL_SECONDS's default)
TIMELINE_EVERY_S = 30.0  # the timeline follows new data at most this often (watchfloor_live.js)
# The kinds of callback measured: user changes, the live poll and the redraws it fires.
KINDS = ("map", "poll", "live map", "timeline", "feed", "flags")


def _env(name: str, default: int) -> int:
    return int(os.environ.get(f"WATCHFLOOR_BENCH_LOAD_{name}", default))


def _cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by this client, the gunicorn processes, PostgreSQL and Redis
    (``/proc``; a process that ended meanwhile is missing from the later reading)."""
    tick = os.sysconf("SC_CLK_TCK")
    own = os.times()
    out = {"client": own.user + own.system, "server": 0.0, "postgres": 0.0, "redis": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, UnicodeDecodeError):
            continue
        used = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        if "gunicorn" in cmdline:
            out["server"] += used
        elif "postgres" in cmdline.split(" ", 1)[0]:
            out["postgres"] += used
        elif "redis-server" in cmdline:
            out["redis"] += used
    return out


def _wait_warm(base: str, workers: int, timeout_s: float = 300.0) -> None:
    """Wait until ``/readyz`` says ready many times in a row: each answer comes from whichever
    worker took the connection, and a worker is ready once its first snapshot is loaded."""
    deadline, streak = time.monotonic() + timeout_s, 0
    while streak < 4 * workers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"workers not all ready after {timeout_s:.0f} s")
        try:
            ok = requests.get(f"{base}/readyz", timeout=10).status_code == 200
        except requests.RequestException:
            ok = False
        streak = streak + 1 if ok else 0
        if not ok:
            time.sleep(0.5)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


class Stats:
    """Latencies and errors per kind of request, from many threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def add(self, kind: str, seconds: float, error: str | None = None) -> None:
        with self.lock:
            if error is None:
                self.latency[kind].append(seconds)
            else:
                self.errors[kind].append(error)


def _callback(deps: list[dict[str, Any]], output_prefix: str) -> dict[str, Any]:
    return next(cb for cb in deps if cb["output"].lstrip(".").startswith(output_prefix))


def _sign_in(base: str, username: str) -> requests.Session:
    http = requests.Session()
    http.headers["Origin"] = base
    page = http.get(f"{base}/login", timeout=120).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    resp = http.post(
        f"{base}/login",
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        timeout=120,
        allow_redirects=False,
    )
    assert resp.status_code in (302, 303), f"sign-in of {username}: {resp.status_code}"
    return http


def _map_values(
    rng: random.Random, view: tuple[float, float, int] | None = None
) -> tuple[dict[str, Any], str]:
    """A random state of the dashboard's controls, and which control changed."""
    lat, lon, zoom = view or rng.choice(VIEWS)
    kind = rng.random()
    if kind < 0.5:  # a window somewhere in the historic year
        start = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=rng.uniform(0, 330))
        end = start + timedelta(days=rng.choice([1, 7, 30, 90]))
        window = {"preset": "custom", "start": start.isoformat(), "end": end.isoformat()}
    else:
        window = {
            "preset": rng.choice(["24h", "7d", "30d", "90d", "all"]),
            "start": None,
            "end": None,
        }
    layers = ["hexes", "suspicious", "incidents", "sites"] if rng.random() < 0.7 else ["hexes"]
    values = {
        "window-store.data": window,
        "layer-toggles.value": layers,
        "hex-res.value": 8,
        "hex-res-auto.value": ["auto"],
        "hex-colour.value": rng.choice(["total", "total", "suspicious", "severity", "change"]),
        "map-view.data": {"map.zoom": zoom, "map.center": {"lat": lat, "lon": lon}},
        "geometry-store.data": None,
    }
    changed = rng.choice(
        ["window-store.data", "layer-toggles.value", "hex-colour.value", "map-view.data"]
    )
    return values, changed


class Page:
    """One dashboard page as the browser holds it: its controls, data version and stores.

    Like Dash's renderer it polls the data version every ``LIVE_POLL_S`` and, on a new version,
    fires every callback that listens to it at once: the map and the feed; the timeline at most
    every ``TIMELINE_EVERY_S``, the flag queue and alerts when the flags part or the minute
    changed (both as ``assets/watchfloor_live.js`` hands them on). A user's change fires the map
    (and the timeline for a new window) with the page's stores.
    """

    def __init__(
        self, base: str, http: requests.Session, deps: list[dict[str, Any]], stats: Stats
    ) -> None:
        self.base, self.http, self.stats = base, http, stats
        self.cbs = {
            "map": _callback(deps, "map-spec.data"),
            "poll": _callback(deps, "data-version.data"),
            "timeline": _callback(deps, "timeline-graph.figure"),
            "feed": _callback(deps, "feed-list.children"),
            "alerts": _callback(deps, "alert-toast.hidden"),
            "flags": _callback(deps, "flags-grid.rowData"),
        }
        self.values: dict[str, Any] = {
            "feed-ack.n_clicks": 0,
            "alert-ack.n_clicks": 0,
            "flags-version.data": 0,
            "flags-show-all.value": [],
            "live-interval.n_intervals": 0,
        }
        self.flag_token: str | None = None
        self.timeline: tuple[str, float] | None = None  # the version handed on, and when

    def post(self, cb: str, changed: list[str], kind: str | None = None) -> dict[str, Any] | None:
        """Post one callback; record its latency as ``kind``; keep the stores it answers."""
        body = callback_payload(self.cbs[cb], self.values, changed)
        started = time.perf_counter()
        try:
            resp = self.http.post(f"{self.base}/_dash-update-component", json=body, timeout=60)
        except requests.RequestException as exc:
            self.stats.add(kind or cb, 0, type(exc).__name__)
            return None
        elapsed = time.perf_counter() - started
        if resp.status_code not in (200, 204):
            self.stats.add(kind or cb, 0, f"HTTP {resp.status_code}")
            return None
        self.stats.add(kind or cb, elapsed)
        if resp.status_code == 204:
            return None
        answer = resp.json().get("response", {})
        for cid, props in answer.items():  # stores the page keeps and sends back
            for prop, value in props.items():
                if cid in ("geometry-store", "feed-state", "alert-store", "data-version"):
                    self.values[f"{cid}.{prop}"] = value
        answer["_text"] = resp.text
        return answer

    def together(self, pool: ThreadPoolExecutor, calls: list[tuple[str, list[str], str]]) -> list:
        """Fire several callbacks at once, as the renderer does, and wait for all."""
        futures = [pool.submit(self.post, cb, changed, kind) for cb, changed, kind in calls]
        return [f.result() for f in futures]

    def tick_calls(self) -> list[tuple[str, list[str], str]]:
        """What the browser's tokens hand on at a tick: the timeline (new data, at most every
        ``TIMELINE_EVERY_S``) and the flag views (flags changed, or a new minute)."""
        calls = []
        version = self.values.get("data-version.data") or ""
        now = time.monotonic()
        held = self.timeline
        if version and (held is None or (held[0] != version and now - held[1] >= TIMELINE_EVERY_S)):
            self.timeline = (version, now)
            self.values["timeline-token.data"] = {"v": version, "at": int(time.time() * 1000)}
            calls.append(("timeline", ["timeline-token.data"], "timeline"))
        token = f"{version.partition('.')[2]}@{int(time.time() // 60)}"
        if token != self.flag_token:
            self.flag_token = self.values["flag-token.data"] = token
            calls += [("alerts", ["flag-token.data"], "flags"), ("flags", [], "flags")]
        return calls

    def poll(self, pool: ThreadPoolExecutor) -> list:
        """One tick of the live interval: on a new version the map and feed redraw, and what
        the browser's tokens hand on."""
        self.values["live-interval.n_intervals"] += 1
        answer = self.post("poll", ["live-interval.n_intervals"])
        calls = (
            []
            if answer is None
            else [  # 204: nothing new
                ("map", ["data-version.data"], "live map"),
                ("feed", ["data-version.data"], "feed"),
            ]
        )
        calls += self.tick_calls()
        return self.together(pool, calls) if calls else []

    def open(self, pool: ThreadPoolExecutor) -> None:
        """The first load: every callback once, then the first poll's version."""
        self.together(
            pool,
            [
                ("map", [], "map"),
                ("timeline", [], "timeline"),
                ("feed", [], "feed"),
                ("alerts", [], "flags"),
                ("flags", [], "flags"),
            ],
        )


def _dashboard(
    base: str,
    username: str,
    deps: list[dict[str, Any]],
    stats: Stats,
    stop: threading.Event,
    seed: int,
    pool: ThreadPoolExecutor,
    think: tuple[float, float],
) -> None:
    """A dashboard left open on the watch floor, its user changing a control now and then."""
    rng = random.Random(seed)
    # Sign-ins spread over the first 30 s, as a shift arrives: argon2id costs CPU by design.
    if stop.wait(seed * 30.0 / 50):
        return
    try:
        http = _sign_in(base, username)
    except Exception as exc:  # counted, the session does not run
        stats.add("signin", 0, f"{type(exc).__name__}: {exc}")
        return
    page = Page(base, http, deps, stats)
    values, _ = _map_values(rng)
    page.values.update(values)
    page.open(pool)
    next_poll = time.monotonic() + rng.uniform(0, LIVE_POLL_S)
    next_change = time.monotonic() + rng.uniform(*think)
    while not stop.is_set():
        if stop.wait(max(0.0, min(next_poll, next_change) - time.monotonic())):
            break
        now = time.monotonic()
        if now >= next_poll:
            page.poll(pool)
            next_poll += LIVE_POLL_S
            while next_poll < time.monotonic():  # a slow answer: Dash's interval skips ticks
                next_poll += LIVE_POLL_S
        if now >= next_change:
            values, changed = _map_values(rng)
            page.values.update({k: v for k, v in values.items() if k == changed})
            calls = [("map", [changed], "map")]
            if changed == "window-store.data":
                calls.append(("timeline", [changed], "timeline"))
            page.together(pool, calls)
            next_change = time.monotonic() + rng.uniform(*think)


def _api(
    base: str,
    key: str,
    rate: int,
    stats: Stats,
    stop: threading.Event,
    run: str,
    sent: list[str],
    accepted: set[str],
    lock: threading.Lock,
    lane: int,
    lanes: int,
) -> None:
    per_batch = 10
    interval = per_batch * lanes / rate  # each lane sends its share of the rate
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    http = requests.Session()
    start = time.monotonic() + lane * interval / lanes
    k = 0
    while not stop.is_set():
        due = start + k * interval
        stop.wait(max(0.0, due - time.monotonic()))
        if stop.is_set():
            break
        now = datetime.now(UTC).isoformat()
        ids = [f"{run}-{lane}-{k}-{i}" for i in range(per_batch)]
        body = [
            {
                "id": e,
                "occurred_at": now,
                "lat": 42.25 + 0.2 * random.random(),
                "lon": -71.35 + 0.25 * random.random(),
                "category": "SURVL",
            }
            for e in ids
        ]
        with lock:
            sent.extend(ids)
        for _attempt in range(5):  # a failed request is retried: the API is idempotent per id
            started = time.perf_counter()
            try:
                resp = http.post(
                    f"{base}/api/v1/events", data=json.dumps(body), headers=headers, timeout=60
                )
            except requests.RequestException as exc:
                stats.add("api", 0, type(exc).__name__)
                continue
            if resp.status_code == 201:
                stats.add("api", time.perf_counter() - started)
                with lock:
                    accepted.update(ids)
                break
            stats.add("api", 0, f"HTTP {resp.status_code}")
        k += 1


def _probe(
    base: str,
    key: str,
    deps: list[dict[str, Any]],
    stats: Stats,
    stop: threading.Event,
    delays: list[float],
    pool: ThreadPoolExecutor,
    misses: list[str],
) -> None:
    """Post one marked event now and then; a dashboard page (live poll, redraws on a new
    version, as in the browser) measures when its point is on the map."""
    while True:
        try:
            http = _sign_in(base, "officer")
            break
        except (requests.RequestException, AssertionError) as exc:
            stats.add("probe", 0, f"sign-in: {type(exc).__name__}")
            if stop.wait(5):
                return
    page = Page(base, http, deps, Stats())  # its latencies are not the sessions'
    values, _ = _map_values(random.Random(0), view=(PROBE[0], PROBE[1], 14))
    values.update(
        {
            "window-store.data": {"preset": "24h", "start": None, "end": None},
            "layer-toggles.value": ["hexes", "suspicious"],
            "hex-colour.value": "total",
        }
    )
    page.values.update(values)
    page.open(pool)
    rng = random.Random(1)
    next_poll = time.monotonic() + LIVE_POLL_S
    n = 0
    while not stop.is_set():
        n += 1
        # A longitude no other event has: its shortest repr marks the point in the answer.
        lon = round(PROBE[1] + n * 1e-6 + 3e-7, 7)
        marker = repr(lon)
        try:
            resp = requests.post(
                f"{base}/api/v1/events",
                data=json.dumps(
                    [
                        {
                            "id": f"probe-{uuid.uuid4().hex}",
                            "occurred_at": datetime.now(UTC).isoformat(),
                            "lat": PROBE[0],
                            "lon": lon,
                            "category": "SURVL",
                        }
                    ]
                ),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                timeout=60,
            )
        except requests.RequestException as exc:
            stats.add("probe", 0, type(exc).__name__)
            continue
        if resp.status_code != 201:
            stats.add("probe", 0, f"HTTP {resp.status_code}")
            continue
        posted = time.perf_counter()
        seen = False
        while not stop.is_set() and not seen:
            if stop.wait(max(0.0, next_poll - time.monotonic())):
                break
            next_poll += LIVE_POLL_S
            while next_poll < time.monotonic():
                next_poll += LIVE_POLL_S
            answers = page.poll(pool)
            for answer in answers:
                if answer is not None and "map-spec" in answer and marker in answer["_text"]:
                    delays.append(time.perf_counter() - posted)
                    seen = True
            if not seen:  # why a poll did not show it: kept for the report
                drawn = (page.values.get("geometry-store.data") or {}).get("drawn")
                version = page.values.get("data-version.data")
                misses.append(
                    f"{time.perf_counter() - posted:.1f}s: "
                    + (
                        f"drawn {drawn} for {version}"
                        if any(a is not None and "map-spec" in a for a in answers)
                        else "no new version"
                    )
                )
            if not seen and time.perf_counter() - posted > 60:
                stats.add("probe", 0, "not visible after 60 s")
                break
        stop.wait(rng.uniform(2.0, 8.0))  # the next post falls anywhere in the poll's cycle


def run(report: Report) -> None:
    base_url = os.environ.get("WATCHFLOOR_BENCH_POSTGIS_URL", "")
    redis_url = os.environ.get("WATCHFLOOR_BENCH_REDIS_URL", "")
    if not base_url or not redis_url:
        sys.stdout.write("  skipped: WATCHFLOOR_BENCH_POSTGIS_URL and _REDIS_URL are needed\n")
        return
    n_events = _env("EVENTS", 1_000_000)
    sessions = _env("SESSIONS", 50)
    seconds = min(_env("SECONDS", 180), 900)
    rate = _env("RATE", 100)
    # Sized as the README's deployment guide says: two workers per core, two threads each. On
    # the 2-core machine 4 x 2 answered with a p95 of 0.26-0.89 s where 2 x 8 (the default
    # until 2026-12-07) gave 0.55-1.72 s (README, "Threads per worker").
    workers = _env("WORKERS", 2 * (os.cpu_count() or 1))
    threads = _env("THREADS", 2)
    # Seconds between one user's changes of a control (uniform): a busy watch floor.
    think = (float(_env("THINK_MIN_S", 5)), float(_env("THINK_MAX_S", 15)))
    tag = f"{n_events // 1000}k"
    with _hexload.postgis(base_url, n_events) as (url, load_s):
        sys.stdout.write(f"  {n_events:,} events loaded in {load_s:.0f} s\n")
        engine = make_engine(url)
        _hexload.add_sites(engine)  # since 2026-12-07: the demo kit's number of sites
        with session_scope(engine) as session:
            for name, role, agency in USERS:
                add_user(
                    session=session,
                    actor=Viewer.system(),
                    username=name,
                    role=role,
                    agency=agency,
                    password=PASSWORD,
                )
            key, _ = create_key(session=session, agency=API_AGENCY, label="load bench")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            "DATABASE_URL": url,
            "WATCHFLOOR_ENV": "production",
            "WATCHFLOOR_SECRET_KEY": secrets.token_hex(32),
            "WATCHFLOOR_COOKIE_SECURE": "false",  # plain HTTP on loopback
            "WATCHFLOOR_REDIS_URL": redis_url,
            "WATCHFLOOR_PORT": str(port),
            "WATCHFLOOR_WORKERS": str(workers),
            "WATCHFLOOR_THREADS": str(threads),
            "WATCHFLOOR_LOG_FORMAT": "json",
            "WATCHFLOOR_LOG_LEVEL": os.environ.get("WATCHFLOOR_BENCH_LOAD_LOG_LEVEL", "WARNING"),
            "WATCHFLOOR_SIGNIN_RATE_PER_MINUTE": "10000",
            "WATCHFLOOR_DETECT_AFTER_INGEST": os.environ.get(
                "WATCHFLOOR_BENCH_LOAD_DETECT", "false"
            ),
            # When on: in a background thread at most once an interval, not inside each batch.
            "WATCHFLOOR_DETECT_DEBOUNCE_S": os.environ.get(
                "WATCHFLOOR_BENCH_LOAD_DETECT_DEBOUNCE_S", "30"
            ),
        }
        log_path = Path(tempfile.gettempdir()) / f"watchfloor-bench-load-{port}.log"
        proc = start_gunicorn(env, log_path=log_path)
        try:
            started = time.perf_counter()
            wait_ready(base, proc, timeout_s=300)
            _wait_warm(base, workers)
            report.record(
                f"load/{tag}/profile ready (gunicorn {workers}x{threads})",
                time.perf_counter() - started,
                "s",
            )
            deps = _sign_in(base, "officer").get(f"{base}/_dash-dependencies", timeout=30).json()
            stats, stop, lock = Stats(), threading.Event(), threading.Lock()
            sent: list[str] = []
            accepted: set[str] = set()
            delays: list[float] = []
            misses: list[str] = []  # probe polls that did not show the new event yet
            run_id = f"load-{uuid.uuid4().hex[:8]}"
            lanes = 4
            # The renderer fires a version's redraws at once: up to five requests per page.
            fire = ThreadPoolExecutor(max_workers=6 * (sessions + 1))
            pool = (
                [
                    threading.Thread(
                        target=_dashboard,
                        args=(base, USERS[i % len(USERS)][0], deps, stats, stop, i, fire, think),
                    )
                    for i in range(sessions)
                ]
                + [
                    threading.Thread(
                        target=_api,
                        args=(
                            base,
                            key,
                            rate,
                            stats,
                            stop,
                            run_id,
                            sent,
                            accepted,
                            lock,
                            lane,
                            lanes,
                        ),
                    )
                    for lane in range(lanes)
                ]
                + [
                    threading.Thread(
                        target=_probe, args=(base, key, deps, stats, stop, delays, fire, misses)
                    )
                ]
            )
            cpu_before = _cpu_seconds()
            for t in pool:
                t.start()
            stop.wait(seconds)
            cpu = {k: v - cpu_before[k] for k, v in _cpu_seconds().items()}
            stop.set()
            for t in pool:
                t.join(timeout=120)
            fire.shutdown(wait=True)
            wall = time.perf_counter() - started
            with session_scope(engine) as session:
                rows = session.execute(
                    select(Event.external_id, func.count())
                    .where(Event.source_agency == API_AGENCY, Event.external_id.like(f"{run_id}-%"))
                    .group_by(Event.external_id)
                ).all()
            stored = dict(rows)  # external id -> rows stored
            lost = [e for e in accepted if e not in stored]
            never_accepted = len([e for e in sent if e not in accepted])
            doubled = [e for e, c in stored.items() if c > 1]
            unacked_but_stored = len([e for e in stored if e not in accepted])
            every = [x for kind in KINDS for x in stats.latency[kind]]
            for q in (50, 95, 99):
                report.record(f"load/{tag}/all callbacks p{q}", _pct(every, q), "s")
            for kind in (*KINDS, "api"):
                lat = stats.latency[kind]
                for q in (50, 95, 99):
                    report.record(f"load/{tag}/{kind} p{q}", _pct(lat, q), "s")
                report.record(f"load/{tag}/{kind} requests", len(lat), "ok")
                report.record(f"load/{tag}/{kind} throughput", len(lat) / seconds, "req/s")
                kinds = sorted(set(stats.errors[kind]))[:5]
                report.record(
                    f"load/{tag}/{kind} errors", len(stats.errors[kind]), "errors", kinds=kinds
                )
                if kinds:
                    sys.stdout.write(f"    {kind} errors: {kinds}\n")
            report.record(
                f"load/{tag}/dashboard sessions",
                sessions,
                "sessions",
                signin_errors=len(stats.errors["signin"]),
                think_s=list(think),
                live_poll_s=LIVE_POLL_S,
            )
            report.record(
                f"load/{tag}/api events sent",
                len(sent),
                "events",
                rate=round(len(sent) / seconds, 1),
                offered=rate * seconds,  # the lanes wait for each answer: a slow API sends less
            )
            report.record(
                f"load/{tag}/api events per second", len(sent) / seconds, "events/s", offered=rate
            )
            report.record(f"load/{tag}/api events lost", len(lost), "events")
            report.record(f"load/{tag}/api events doubled", len(doubled), "events")
            report.record(f"load/{tag}/api events never accepted", never_accepted, "events")
            report.record(
                f"load/{tag}/api events stored without a 201", unacked_but_stored, "events"
            )
            report.record(
                f"load/{tag}/new event visible p50", _pct(delays, 50), "s", probes=len(delays)
            )
            report.record(
                f"load/{tag}/new event visible max",
                max(delays) if delays else float("nan"),
                "s",
                probe_errors=stats.errors["probe"][:3],
                polls_without_it=misses[:10],
            )
            for miss in misses[:10]:
                sys.stdout.write(f"    a probe poll without the new event at {miss}\n")
            for part, used in cpu.items():  # of the machine's cores, while the load ran
                report.record(f"load/{tag}/cpu {part}", used / seconds, "cores", seconds=used)
            # What the server spends on one answer (callbacks and API batches alike): the cores
            # a deployment needs are about this times the requests per second it must answer.
            answered = sum(len(stats.latency[kind]) for kind in (*KINDS, "api"))
            report.record(
                f"load/{tag}/server cpu per request",
                1000 * cpu["server"] / max(answered, 1),
                "ms",
                requests=answered,
                per_second=round(answered / seconds, 1),
            )
            report.record(
                f"load/{tag}/load duration",
                seconds,
                "s",
                wall=round(wall, 1),
                host_load=round(os.getloadavg()[0], 2),
            )
        finally:
            stop_gunicorn(proc)
            engine.dispose()
            sys.stdout.write(f"  server log: {log_path}\n")
