"""Layout factories of the live watch desk: live bar, feed, flag alert toast, stores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from dash import dcc, html
from dash.development.base_component import Component

from domain.feed import UNSEEN_COUNTED
from settings import Settings
from ui import ids
from ui.options import Option, option

if TYPE_CHECKING:  # types only: the layout does not load the store
    from store.queries.feed import FeedItem, FlagAlert

THEME_OPTIONS: list[Option] = [option("Light", "light"), option("Dark", "dark")]


def live_bar() -> html.Div:
    """Return the header controls: flag badge, pause, theme, wall mode and sound."""
    return html.Div(
        className="wf-live-bar",
        children=[
            html.Span(id=ids.FLAG_BADGE, className="wf-badge", hidden=True),
            dcc.Checklist(
                id=ids.LIVE_PAUSE,
                options=[option("Pause live", "paused")],
                value=[],
                className="wf-inline",
                inputClassName="wf-check",
            ),
            dcc.RadioItems(
                id=ids.THEME,
                options=THEME_OPTIONS,
                value="light",
                inline=True,
                className="wf-inline",
            ),
            dcc.Checklist(
                id=ids.WALL_MODE,
                options=[option("Wall", "on")],
                value=[],
                className="wf-inline",
                inputClassName="wf-check",
            ),
            dcc.Checklist(
                id=ids.SOUND,
                options=[option("Sound", "on")],
                value=[],
                className="wf-inline",
                inputClassName="wf-check",
            ),
        ],
    )


def feed_panel() -> html.Aside:
    """Return the feed of the newest reports with its "since you last looked" count."""
    return html.Aside(
        className="wf-feed",
        children=[
            html.H2("Latest arrivals (newest stored first)"),
            html.Div(
                className="wf-feed-head",
                children=[
                    html.Span(id=ids.FEED_COUNT, className="wf-feed-count"),
                    html.Button(
                        "Mark seen", id=ids.FEED_ACK, n_clicks=0, className="wf-button-small"
                    ),
                ],
            ),
            html.Ol(id=ids.FEED_LIST, className="wf-feed-list"),
        ],
    )


def alert_toast() -> html.Div:
    """Return the flag alert: shown until the user acknowledges it."""
    return html.Div(
        id=ids.ALERT_TOAST,
        className="wf-toast",
        role="alert",
        hidden=True,
        children=[
            html.Div(id=ids.ALERT_TEXT),
            html.Button("Acknowledge", id=ids.ALERT_ACK, n_clicks=0, className="wf-button"),
        ],
    )


def stores(settings: Settings) -> list[Component]:
    """Return the live desk's stores, its poll interval and the URL location."""
    return [
        dcc.Location(id=ids.URL, refresh=False),
        dcc.Interval(id=ids.LIVE_INTERVAL, interval=int(settings.live_poll_seconds * 1000)),
        dcc.Store(id=ids.DATA_VERSION, storage_type="memory"),
        dcc.Store(id=ids.FLAG_TOKEN, storage_type="memory"),
        dcc.Store(id=ids.TIMELINE_TOKEN, storage_type="memory"),
        dcc.Store(id=ids.FEED_STATE, storage_type="memory"),
        dcc.Store(id=ids.ALERT_STORE, storage_type="memory"),
        dcc.Store(id=ids.ALERT_SOUND_SINK, storage_type="memory"),
        dcc.Store(id=ids.VIEW_QUERY, storage_type="memory"),
        dcc.Store(id=ids.VIEW_URL_SINK, storage_type="memory"),
        dcc.Store(id=ids.PENDING_FILTERS, storage_type="memory"),
        dcc.Store(id=ids.PENDING_AREA, storage_type="memory"),
    ]


def _data_id(public_id: str) -> dict[str, Any]:
    # A data-* attribute is no Python name: Dash takes it by mapping (into **kwargs), which
    # mypy checks against every typed keyword of the component, hence Any.
    return {"data-id": public_id}


def feed_children(items: Sequence[FeedItem], seen_id: int, tz: str) -> list[html.Li]:
    """Return one line per feed item (time, category, place, source); unseen ones marked."""
    out = []
    for item in items:
        when = pd.Timestamp(item.occurred_at).tz_convert(tz).strftime("%m-%d %H:%M")
        out.append(
            html.Li(
                className=f"wf-feed-item wf-kind-{item.kind}"
                + (" wf-unseen" if item.id > seen_id else ""),
                **_data_id(item.public_id),  # never the integer key (it counts rows)
                children=[
                    html.Span(when, className="wf-feed-time"),
                    html.B(item.category),
                    html.Span(item.place, className="wf-feed-place"),
                    html.Span(f"{item.source_agency} · {item.handling}", className="wf-feed-src"),
                ],
            )
        )
    return out


def unseen_text(count: int, at_most: int = UNSEEN_COUNTED) -> str:
    """Return the "since you last looked" line (``count`` above ``at_most``: "more than")."""
    if count == 0:
        return "Nothing new since you last looked"
    if count > at_most:
        return f"More than {at_most:,} new since you last looked"
    return f"{count:,} new since you last looked"


def alert_children(alerts: Sequence[FlagAlert]) -> list[object]:
    """Return the toast's text: one line per new or escalated flag."""
    if not alerts:
        return []
    lines = [
        html.Li(
            f"Flag {a.public_id} {'escalated' if a.escalated else 'new'}: {a.observed} events"
            + (f" near {a.site_name}" if a.site_name else "")
            + (f" (priority {a.priority:.1f})" if a.priority is not None else "")
        )
        for a in alerts
    ]
    return [html.B(f"{len(alerts)} flag alert{'s' if len(alerts) != 1 else ''}"), html.Ul(lines)]
