"""Export jobs under gunicorn: any worker answers a poll; a job whose worker died shows failed."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import requests

from settings import Settings
from testkit.security_kit import PASSWORD, callback_payload, make_users, two_agency_events
from tests.ops.conftest import Profile


def _sign_in(base: str, username: str) -> requests.Session:
    http = requests.Session()
    http.headers["Origin"] = base
    http.headers["Connection"] = "close"  # a new connection per request: any worker may answer
    page = http.get(f"{base}/login", timeout=120).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    resp = http.post(
        f"{base}/login",
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        timeout=120,
        allow_redirects=False,
    )
    assert resp.status_code in (302, 303), resp.status_code
    return http


def _worker_of(profile: Profile, path: str) -> int:
    for line in profile.log_path.read_text().splitlines():
        if line.startswith("{") and f'"path": "{path}"' in line:
            return int(json.loads(line)["process"])
    raise AssertionError(f"no request to {path} in the log")


def test_export_job_is_polled_from_any_worker_and_fails_when_its_worker_dies(
    profile: Profile,
) -> None:
    settings = Settings(database_url=profile.url, env="test")
    make_users(profile.engine, settings, ("analyst",))
    two_agency_events(profile.engine, settings, n=400)
    http = _sign_in(profile.base_url, "analyst")
    deps = http.get(f"{profile.base_url}/_dash-dependencies", timeout=120).json()
    (start,) = [cb for cb in deps if cb["output"] == "export-job.data"]
    payload = callback_payload(
        start,
        {
            "export-button.n_clicks": 1,
            "export-layer.value": "incidents",
            "export-format.value": "gpkg",
            "window-store.data": {"preset": "all"},
        },
    )
    resp = http.post(f"{profile.base_url}/_dash-update-component", json=payload, timeout=120)
    assert resp.status_code == 200, resp.text[:500]
    job_id = resp.json()["response"]["export-job"]["data"]["id"]
    # The job runs in a thread of the worker that took the click: kill that process now.
    runner = _worker_of(profile, "/_dash-update-component")
    os.kill(runner, signal.SIGKILL)
    first = http.get(f"{profile.base_url}/export/jobs/{job_id}", timeout=120).json()
    # Another worker (the runner is gone) reads the job from the database: still "running",
    # part of the way, until its heartbeat is older than WATCHFLOOR_EXPORT_STALE_S (4 s).
    assert first["status"] == "running", first
    assert first["rows_total"] is None or first["rows_done"] < first["rows_total"]
    deadline = time.monotonic() + 60
    while (state := http.get(f"{profile.base_url}/export/jobs/{job_id}", timeout=120).json())[
        "status"
    ] == "running":
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
    assert state["status"] == "failed" and "server process running it ended" in state["message"]
    assert http.get(f"{profile.base_url}/export/jobs/{job_id}/file", timeout=120).status_code == 404
    pollers = {
        int(json.loads(line)["process"])
        for line in profile.log_path.read_text().splitlines()
        if line.startswith("{") and f'"path": "/export/jobs/{job_id}"' in line
    }
    assert pollers and runner not in pollers
