"""How an import's summary (or its failure) reads in the upload panel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dash import html
from dash.development.base_component import Component

if TYPE_CHECKING:  # types only: the layout does not load the store
    from data_loaders.ingest import BatchSummary


def error(message: str) -> html.Div:
    """The message of an import that could not happen."""
    return html.Div(f"Not imported: {message}", className="wf-upload-error", role="alert")


def summary(s: BatchSummary) -> html.Div:
    """The counts of one import; they add up to the rows read."""
    if s.rows_read == 0:
        return error("the file has a header and no rows")
    rows = [
        ("Read", s.rows_read),
        ("Inserted", s.inserted),
        ("Updated", s.updated),
        ("Unchanged", s.unchanged),
        ("Quarantined", s.quarantined),
    ]
    children: list[Component] = [
        html.Div(f"Batch {s.batch_id} · {s.source} · profile {s.profile}"),
        html.Table(
            [
                html.Tr([html.Td(label), html.Td(f"{n:,}", id=f"upload-count-{label.lower()}")])
                for label, n in rows
            ]
        ),
    ]
    if s.reasons:
        reasons = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in sorted(s.reasons.items()))
        children.append(html.Div(f"Quarantined: {reasons}", className="wf-hint"))
    if s.notes:
        notes = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in sorted(s.notes.items()))
        children.append(html.Div(f"Notes: {notes}", className="wf-hint"))
    if s.unmapped:
        kept = ", ".join(list(s.unmapped)[:5])
        children.append(html.Div(f"Categories kept as given: {kept}", className="wf-hint"))
    return html.Div(children)
