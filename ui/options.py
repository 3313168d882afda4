"""Choice lists for ``dcc.Dropdown``, ``dcc.Checklist`` and ``dcc.RadioItems``.

Dash types each component's ``options`` with a TypedDict of its own; the Dropdown's has every
key of the other two (plus ``search``), so a list of them fits all three components.
"""

from __future__ import annotations

from collections.abc import Iterable

from dash import dcc

Option = dcc.Dropdown.Options


def option(label: str, value: str | int) -> Option:
    """Return one choice: the text shown and the value a callback receives."""
    return {"label": label, "value": value}


def options(pairs: Iterable[tuple[str, str | int]]) -> list[Option]:
    """Return the choices of ``(label, value)`` pairs, in their order."""
    return [option(label, value) for label, value in pairs]
