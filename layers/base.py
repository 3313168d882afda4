"""The Layer protocol and the request every layer draws for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd
from sqlalchemy.orm import Session

from security.roles import Viewer
from store.queries.filters import EventFilter

Trace = dict[str, Any]


@dataclass(frozen=True)
class LayerRequest:
    """What to draw, for whom: the viewer, the filter, the hex resolution and point budget."""

    viewer: Viewer
    filters: EventFilter
    res: int
    max_points: int
    tz: str


class Layer(Protocol):
    """A map layer: it queries the store, draws plotly traces and names its export columns."""

    key: str
    label: str
    color: str
    export_columns: tuple[str, ...]

    def query(self, *, session: Session, request: LayerRequest) -> pd.DataFrame:
        """Return the layer's rows for ``request`` (visibility already applied by the store)."""
        ...

    def to_traces(self, frame: pd.DataFrame, *, request: LayerRequest) -> list[Trace]:
        """Return plotly trace dicts for ``frame``."""
        ...
