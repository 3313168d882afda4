"""Factories for the summary line, window text, data time and handling marking."""

from __future__ import annotations

from dash import html

from analytics.timebuckets import TimeWindow
from layers.view import MapView
from ui import ids

SUMMARY_ITEMS = (
    ("suspicious", "Suspicious events"),
    ("incidents", "Incident reports"),
    ("sites", "Sites"),
    ("hexes", "Hexagons"),
)


def _local(ts: object, tz: str, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    import pandas as pd

    text: str = pd.Timestamp(ts).tz_convert(tz).strftime(fmt)
    return text


def summary_children(view: MapView) -> list[html.Span]:
    """Return one labelled count per layer; hidden layers without a count show a dash."""
    items = []
    for key, label in SUMMARY_ITEMS:
        value = view.counts.get(key)
        shown = "—" if value is None else f"{value:,}"
        items.append(html.Span([f"{label}: ", html.B(shown, id=ids.summary_count(key))]))
    items.append(html.Span(f"H3 resolution {view.res}"))
    return items


def window_text(window: TimeWindow | None, tz: str) -> str:
    """Describe the window in the center's local time."""
    if window is None:
        return "Showing every report on file."
    return (
        f"Showing {_local(window.start_at, tz, '%Y-%m-%d %H:%M')} to "
        f"{_local(window.end_at, tz, '%Y-%m-%d %H:%M %Z')}."
    )


def data_through_text(view: MapView, tz: str) -> str:
    """Return the newest report time, or say there is none."""
    if view.data_through is None:
        return "No reports on file"
    return f"Data through {_local(view.data_through, tz)}"


def marking_text(marking: str) -> str:
    """Return the banner text for a handling marking."""
    if marking == "TLP:CLEAR":
        return "TLP:CLEAR — no restriction on disclosure"
    return f"{marking} — contains information shared on a need-to-know basis"


def marking_class(marking: str) -> str:
    """Return the CSS class of the banner, e.g. ``wf-marking tlp-amber-strict``."""
    slug = marking.lower().replace("tlp:", "tlp-").replace("+", "-")
    return f"wf-marking {slug}"
