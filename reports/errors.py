"""The error of the people-facing products, importable without matplotlib."""

from __future__ import annotations


class BriefingError(RuntimeError):
    """The briefing cannot be made (no such area, no Chromium for the PDF)."""
