"""Users per role, two agencies' restricted events, and signing a Flask test client in."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from analytics.cells import cells_to_parent
from analytics.flags import FlagCandidate
from data_loaders.ingest import ingest_table
from data_loaders.profiles import load_profile
from domain.roles import Role, Viewer
from security.users import add_user
from settings import Settings
from store.engine import session_scope
from store.models import Event
from testkit.factories import raw_events

PASSWORD = "correct horse battery staple"
AGENCY_A, AGENCY_B = "AGENCY-A", "AGENCY-B"
# One user per role at the host agency, and a partner user at each of the two agencies.
USERS: dict[str, tuple[Role, str | None]] = {
    "officer": (Role.WATCH_OFFICER, None),
    "command": (Role.COMMAND, None),
    "analyst": (Role.ANALYST, None),
    "admin": (Role.ADMINISTRATOR, None),
    "partner-a": (Role.PARTNER, AGENCY_A),
    "partner-b": (Role.PARTNER, AGENCY_B),
    "auditor": (Role.AUDITOR, None),
}
MALICIOUS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def make_users(engine: Engine, settings: Settings, names: tuple[str, ...] = tuple(USERS)) -> None:
    """Create the named users of :data:`USERS`, all with :data:`PASSWORD`."""
    with session_scope(engine) as session:
        for name in names:
            role, agency = USERS[name]
            add_user(
                session=session,
                actor=Viewer.system(),
                username=name,
                role=role.value,
                agency=agency or settings.host_agency,
                password=PASSWORD,
            )


def two_agency_events(engine: Engine, settings: Settings, n: int = 40) -> dict[str, int]:
    """Ingest ``n`` events per (agency, caveat): A and B each with TLP:RED, TLP:AMBER, GREEN.

    Locations are user text with HTML in it. Returns the number stored per ``agency/caveat``.
    """
    counts = {}
    seed = 100
    for agency in (AGENCY_A, AGENCY_B):
        for caveat in ("TLP:RED", "TLP:AMBER", "TLP:GREEN"):
            profile = load_profile("bpd_incidents").model_copy(
                update={"name": f"test-{agency}-{caveat}", "source": agency, "handling": caveat}
            )
            table = raw_events(n, seed=seed)
            table.frame["STREET"] = MALICIOUS
            seed += 1
            summary = ingest_table(
                engine,
                table,
                profile,
                origin=f"{agency}-{caveat}.csv",
                sha256=None,
                area=None,
                store_res=settings.h3_store_res,
            )
            counts[f"{agency}/{caveat}"] = summary.inserted
    return counts


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> int:
    """Sign ``client`` in through the real form; return the POST's status code."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    resp = client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": password},
    )
    return resp.status_code


def callback_payload(
    cb: dict[str, Any], values: dict[str, Any] | None = None, changed: list[str] | None = None
) -> dict[str, Any]:
    """Build the body Dash's renderer posts to ``/_dash-update-component`` for ``cb``.

    ``values`` maps ``"id.property"`` to the value sent (``None`` for anything not given);
    ``changed`` lists the ``"id.property"`` inputs that fired the callback.
    """
    values = values or {}
    outputs = []
    for part in cb["output"].strip(".").split("..."):
        cid, _, prop = part.rpartition(".")
        outputs.append({"id": cid, "property": prop})

    def items(deps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "id": d["id"],
                "property": d["property"],
                "value": values.get(f"{d['id']}.{d['property']}"),
            }
            for d in deps
        ]

    return {
        "output": cb["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": items(cb["inputs"]),
        "changedPropIds": changed or [],
        "state": items(cb["state"]),
    }


EVENT_COLUMNS = ("id", "external_id", "source_agency", "handling", "occurred_at", "kind")
EVENT_COLUMNS += ("cell", "lon", "lat")


def event_frame(engine: Engine) -> pd.DataFrame:
    """Return every stored event's id, external id, agency, caveat, time, kind, cell and place."""
    with session_scope(engine) as s:
        rows = s.execute(select(*(getattr(Event, c) for c in EVENT_COLUMNS))).all()
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True)
    return frame


def flag_candidate(events: pd.DataFrame, caveat: str, text: str) -> FlagCandidate:
    """Return a flag candidate built from ``events`` (rows of :func:`event_frame`)."""
    cells = tuple(int(c) for c in np.unique(cells_to_parent(events["cell"].to_numpy(), 8)))
    first, last = events["occurred_at"].min(), events["occurred_at"].max()
    return FlagCandidate(
        fingerprint=f"leak-{caveat}",
        res=8,
        cells=cells,
        event_ids=tuple(int(i) for i in events["id"]),
        site_ids=(),
        nearest_site_id=None,  # type: ignore[arg-type]  # no sites in this store
        nearest_distance_m=0.0,
        priority=9.0 if caveat == "TLP:RED" else 5.0,
        p_value=0.001,
        q_value=0.01,
        observed=len(events),
        expected=1.0,
        handling=caveat,
        source_agency=AGENCY_A,
        lon=float(events["lon"].mean()),
        lat=float(events["lat"].mean()),
        window_start=first,
        window_end=last,
        first_event_at=first,
        last_event_at=last,
        explanation={
            "summary": f"{text}: {len(events)} reports ({caveat})",
            "by_category": {},
            "sites": [],
            "p_value": 0.001,
            "q_value": 0.01,
            "priority": 5.0,
            "cells": [],
            "event_ids": [int(i) for i in events["id"]],
            "events_between": [first.isoformat(), last.isoformat()],
            "method": "planted by the test",
            "parameters": {
                "res": 8,
                "k": 1,
                "window_s": 7 * 86400,
                "baseline_s": 56 * 86400,
                "alpha": 0.05,
                "min_events": 3,
            },
            # As if the run had read these events only (rules.statistics).
            "inputs": sorted(set(zip(events["handling"], events["source_agency"], strict=True))),
        },
    )
