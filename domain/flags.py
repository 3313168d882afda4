"""The follow-up vocabulary of flags: statuses, what an analyst may do, how a flag is closed."""

from __future__ import annotations

from typing import Final

FLAG_STATUSES: Final[tuple[str, ...]] = ("new", "acknowledged", "assigned", "closed")
DISPOSITIONS: Final[tuple[str, ...]] = ("actionable", "benign", "duplicate", "referred")
FOLLOW_UP_ACTIONS: Final[tuple[str, ...]] = (
    "acknowledge",
    "assign",
    "close",
    "reopen",
    "note",
    "snooze",
)
