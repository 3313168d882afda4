"""The Layer protocol and the request every layer draws for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from sqlalchemy.orm import Session

from domain.roles import Viewer
from store.queries.filters import EventFilter

Trace = dict[str, Any]
ColourMode = Literal["total", "suspicious", "incident", "severity", "change"]
COLOUR_MODES: tuple[ColourMode, ...] = ("total", "suspicious", "incident", "severity", "change")


@dataclass(frozen=True)
class LayerRequest:
    """What to draw, for whom: the viewer, the filter, the hex resolution and point budget."""

    viewer: Viewer
    filters: EventFilter
    res: int
    max_points: int
    tz: str
    # Hexagons: what colours them, and the cells whose geometry the browser holds (their order is
    # the order of every value update); ``with_geometry`` False sends values only.
    colour: ColourMode = "total"
    cells: npt.NDArray[np.int64] | None = None
    with_geometry: bool = True


class Layer(Protocol):
    """A map layer: it queries the store, draws plotly traces and names its export columns.

    The layers are frozen dataclasses: their attributes are read-only, hence properties here.
    """

    @property
    def key(self) -> str:
        """The layer's id (toggles, export menu, trace ``uid`` prefix)."""
        ...

    @property
    def label(self) -> str:
        """The name a user sees (legend, toggles)."""
        ...

    @property
    def color(self) -> str:
        """The layer's colour (CSS)."""
        ...

    @property
    def export_columns(self) -> tuple[str, ...]:
        """The columns its exports carry."""
        ...

    def query(self, *, session: Session, request: LayerRequest) -> pd.DataFrame:
        """Return the layer's rows for ``request`` (visibility already applied by the store)."""
        ...

    def to_traces(self, frame: pd.DataFrame, *, request: LayerRequest) -> list[Trace]:
        """Return plotly trace dicts for ``frame``."""
        ...
