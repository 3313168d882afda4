"""Typed view state built from the controls' values (validated, with defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

import pandas as pd

from analytics.timebuckets import TimeWindow
from layers.registry import LAYERS
from layers.view import PRESET_DAYS, WindowPreset

PRESETS = (*PRESET_DAYS, "all", "custom")


@dataclass(frozen=True)
class ViewState:
    """The controls' state: visible layers, time window and hexagon resolution."""

    visible: tuple[str, ...]
    preset: WindowPreset
    res: int
    custom_start: date | None = None
    custom_end: date | None = None

    @classmethod
    def from_controls(
        cls,
        visible: list[str] | None,
        preset: str | None,
        res: int | None,
        start: str | None = None,
        end: str | None = None,
    ) -> ViewState:
        """Validate raw control values; unknown layers are dropped, bad values get defaults."""
        layers = tuple(key for key in (visible or []) if key in LAYERS)
        chosen = preset if preset in PRESETS else "30d"
        first, last = _day(start), _day(end)
        if chosen == "custom" and not (first and last):
            chosen = "all"
        return cls(
            visible=layers,
            preset=cast(WindowPreset, chosen),
            res=int(res) if res is not None and 0 <= int(res) <= 15 else 8,
            custom_start=first,
            custom_end=last,
        )

    def custom_window(self, tz: str) -> TimeWindow | None:
        """Return the custom range as whole local days, end day included."""
        if self.custom_start is None or self.custom_end is None:
            return None
        start = pd.Timestamp(self.custom_start).tz_localize(tz)
        end = (pd.Timestamp(self.custom_end) + pd.Timedelta(days=1)).tz_localize(tz)
        return TimeWindow(
            start.tz_convert("UTC").to_pydatetime(), end.tz_convert("UTC").to_pydatetime()
        )


def _day(text: str | None) -> date | None:
    """Read a date picker's ``YYYY-MM-DD...`` value; anything else is no date."""
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class WindowState:
    """The active time window in the window store: a preset, or an explicit UTC range."""

    preset: WindowPreset
    start_at: datetime | None = None
    end_at: datetime | None = None

    @classmethod
    def from_store(cls, data: dict[str, str | None] | None) -> WindowState:
        """Read the store; anything malformed falls back to the last 30 days."""
        data = data or {}
        preset = data.get("preset")
        try:
            start = pd.Timestamp(data["start"]).to_pydatetime() if data.get("start") else None
            end = pd.Timestamp(data["end"]).to_pydatetime() if data.get("end") else None
        except (ValueError, TypeError):
            return cls("30d")
        if preset == "custom" and start is not None and end is not None and end > start:
            return cls("custom", start, end)
        return cls(
            cast(WindowPreset, preset if preset in PRESETS and preset != "custom" else "30d")
        )

    @classmethod
    def from_window(cls, window: TimeWindow) -> WindowState:
        """Return the explicit state of ``window``."""
        return cls("custom", window.start_at, window.end_at)

    def to_store(self) -> dict[str, str | None]:
        """Return the JSON-able store content."""
        return {
            "preset": self.preset,
            "start": self.start_at.isoformat() if self.start_at else None,
            "end": self.end_at.isoformat() if self.end_at else None,
        }

    @property
    def custom(self) -> TimeWindow | None:
        """The explicit window, if any."""
        if self.start_at is None or self.end_at is None:
            return None
        return TimeWindow(self.start_at, self.end_at)
