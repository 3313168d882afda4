"""Small formatting helpers shared by the layers' hover texts."""

from __future__ import annotations

import html

import pandas as pd

from store.models.vocab import SAR_CATEGORIES


def local_time(times: pd.Series, tz: str) -> pd.Series:
    """Format UTC times as local wall-clock text, e.g. ``2023-03-16 22:05 EDT``."""
    return pd.to_datetime(times, utc=True).dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M %Z")


def category_label(category: pd.Series) -> pd.Series:
    """Spell out ISE-SAR codes (``SURVL`` -> ``SURVL: Observation / Surveillance``)."""
    names = category.map(SAR_CATEGORIES)
    return (category + ": " + names).where(names.notna(), category)


def text(values: pd.Series) -> pd.Series:
    """Escape user-supplied text for plotly hover labels, which accept a little HTML."""
    return values.fillna("").astype(str).map(html.escape)
