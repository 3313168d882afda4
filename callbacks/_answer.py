"""Callback answers as plain JSON data, so Dash encodes them in one orjson call.

Dash encodes every answer with plotly's ``to_json_plotly``: orjson at once when each value is
plain data (dicts, lists, strings, numbers, numpy arrays), otherwise plotly's Python walk over
the *whole* answer, every point of every trace included. A single component or ``Patch`` among
the outputs sent the map's answers down that walk: 15 % of the server's time holding the GIL
under the load bench (py-spy ``--gil``). Turned into the dicts Dash would send for them here,
they leave the answer plain.
"""

from __future__ import annotations

from typing import Any

from dash import Patch
from dash.development.base_component import Component


def plain(value: Any) -> Any:
    """Return ``value`` with its components and patches as the JSON data Dash sends for them.

    Walks lists, tuples and dicts (meant for a component tree or a few small outputs: a figure
    is passed as it is, or as its ``Patch``).
    """
    if isinstance(value, Patch):
        return value.to_plotly_json()
    if isinstance(value, Component):
        # Component.to_plotly_json is unannotated in dash (Patch's is typed).
        data = value.to_plotly_json()  # type: ignore[no-untyped-call]
        data["props"] = {key: plain(prop) for key, prop in data["props"].items()}
        return data
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value
