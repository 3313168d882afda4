"""The follow-up queue panel: flags by priority (dash-ag-grid), actions and a flag's detail."""

from __future__ import annotations

import html as _html
from typing import Any

import dash_ag_grid as dag
import pandas as pd
from dash import dcc, html

from domain.flags import DISPOSITIONS, FOLLOW_UP_ACTIONS
from ui import ids
from ui.options import option

GRID_COLUMNS: list[dict[str, Any]] = [
    {"field": "id", "headerName": "Flag", "width": 110},
    {"field": "priority", "headerName": "Priority", "width": 100, "sort": "desc"},
    {"field": "status", "width": 120},
    {"field": "site_name", "headerName": "Nearest site", "flex": 2},
    {"field": "site_sector", "headerName": "Sector", "flex": 1},
    {"field": "site_tier", "headerName": "Tier", "width": 80},
    {"field": "distance_m", "headerName": "Distance (m)", "width": 120},
    {"field": "observed_expected", "headerName": "Observed / expected", "width": 160},
    {"field": "q_value", "headerName": "q", "width": 100},
    {"field": "last_event", "headerName": "Newest event", "width": 170},
    {"field": "assignee", "width": 120},
    {"field": "handling", "headerName": "Marking", "width": 120},
]


WITHHELD = "withheld"  # in a grid cell; the detail view says why (STATISTICS_WITHHELD)


def _figure(value: float, fmt: str) -> str:
    return WITHHELD if pd.isna(value) else format(value, fmt)


def grid_rows(frame: pd.DataFrame, tz: str) -> list[dict[str, Any]]:
    """Return the queue's rows for the grid: rounded figures, local times, no cell lists.

    A flag whose statistics are withheld from the viewer (``store.queries.flags``) shows
    "withheld" for them and no priority.
    """
    if frame.empty:
        return []
    last = pd.to_datetime(frame["last_event_at"], utc=True, cache=False).dt.tz_convert(tz)
    out = pd.DataFrame(
        {
            "id": frame["id"].astype(str),  # public ids (opaque), never the integer keys
            "priority": [None if pd.isna(p) else round(float(p), 1) for p in frame["priority"]],
            "status": frame["status"],
            "site_name": frame["site_name"].fillna(""),
            "site_sector": frame["site_sector"].fillna(""),
            "site_tier": frame["site_tier"],
            "distance_m": frame["nearest_distance_m"].round(0),
            "observed_expected": [
                f"{o} / {_figure(e, '.1f')}"
                for o, e in zip(frame["observed"], frame["expected"], strict=True)
            ],
            "q_value": [_figure(q, ".2g") for q in frame["q_value"]],
            "last_event": last.dt.strftime("%Y-%m-%d %H:%M %Z"),
            "assignee": frame["assignee"].fillna(""),
            "handling": frame["handling"],
        }
    )
    rows: list[dict[str, Any]] = out.to_dict(orient="records")
    return rows


def detail_children(detail: dict[str, Any] | None) -> list[Any]:
    """Return the detail view of one flag: explanation, categories, sites and history."""
    if detail is None:
        return [html.P("Select a flag to see why it was raised.", className="wf-hint")]
    ex = detail["explanation"]
    withheld = detail.get("statistics")  # the summary then says so (store.queries.flags)
    cats = [
        html.Li(
            f"{cat}: {v['observed']} observed"
            + ("" if v["expected"] is None else f", {v['expected']:.1f} expected")
        )
        for cat, v in ex["by_category"].items()
    ]
    sites = [
        html.Li(
            f"{s['name']} ({s['sector']}, tier {s['tier']}): {s['distance_m']:.0f} m "
            f"(radius {s['radius_m']:.0f} m)"
        )
        for s in ex["sites"]
    ]
    history = [
        html.Li(
            f"{pd.Timestamp(h['at']).isoformat(timespec='minutes')} {h['actor']}: {h['action']}"
            + (f" {h['from_status'] or ''} → {h['to_status']}" if h["to_status"] else "")
            + (f" — {h['note']}" if h["note"] else "")
        )
        for h in detail["history"]
    ]
    p = ex["parameters"]
    return [
        html.H3(f"Flag {detail['id']} · {detail['status']} · marking {detail['handling']}"),
        html.P(_html.unescape(ex["summary"])),
        html.P(
            ("" if withheld else f"p = {ex['p_value']:.2g}, q = {ex['q_value']:.2g}; ")
            + ("" if withheld else f"priority {ex['priority']}; ")
            + f"{len(ex['cells'])} cells, {len(ex['event_ids'])} events "
            f"between {ex['events_between'][0][:16]} and {ex['events_between'][1][:16]} UTC"
        ),
        html.H4("By category"),
        html.Ul(cats),
        html.H4("Sites in reach"),
        html.Ul(sites),
        html.H4("How it was found"),
        html.P(ex["method"], className="wf-hint"),
        html.P(
            f"H3 res {p['res']}, k-ring {p['k']}, window {p['window_s'] / 86400:g} d, baseline "
            f"{p['baseline_s'] / 86400:g} d, FDR {p['alpha']}, min events {p['min_events']}",
            className="wf-hint",
        ),
        html.H4("History"),
        html.Ul(history),
    ]


def panel() -> html.Section:
    """Return the follow-up queue panel."""
    return html.Section(
        className="wf-panel wf-flags",
        children=[
            html.H2("Follow-up queue"),
            dcc.Store(id=ids.FLAGS_VERSION, data=0, storage_type="memory"),
            dcc.Checklist(
                id=ids.FLAGS_SHOW_ALL,
                options=[option("Include closed and snoozed flags", "all")],
                value=[],
                className="wf-checklist",
            ),
            dag.AgGrid(
                id=ids.FLAGS_GRID,
                columnDefs=GRID_COLUMNS,
                rowData=[],
                getRowId="params.data.id",
                dashGridOptions={"rowSelection": "single", "domLayout": "autoHeight"},
                className="ag-theme-alpine",
                style={"width": "100%"},
            ),
            html.Div(
                className="wf-flag-actions",
                children=[
                    dcc.Dropdown(
                        id=ids.FLAG_ACTION,
                        options=list(FOLLOW_UP_ACTIONS),
                        placeholder="Action",
                        clearable=False,
                        style={"width": "150px"},
                    ),
                    dcc.Dropdown(
                        id=ids.FLAG_DISPOSITION,
                        options=list(DISPOSITIONS),
                        placeholder="Disposition",
                        style={"width": "150px"},
                    ),
                    dcc.Input(id=ids.FLAG_ASSIGNEE, placeholder="Assignee", type="text"),
                    dcc.Input(id=ids.FLAG_NOTE, placeholder="Note", type="text"),
                    dcc.Input(
                        id=ids.FLAG_SNOOZE_HOURS, placeholder="Snooze hours", type="number", min=0
                    ),
                    html.Button("Apply", id=ids.FLAG_APPLY, n_clicks=0),
                    html.Span(id=ids.FLAG_MESSAGE, className="wf-hint"),
                ],
            ),
            html.Div(
                id=ids.FLAG_DETAIL, className="wf-flag-detail", children=detail_children(None)
            ),
        ],
    )
