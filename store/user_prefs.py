"""Read and change one user's live-desk preferences (the ``user_prefs`` row)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from sqlalchemy.orm import Session

from store.models import UserPrefs

THEMES: Final[tuple[str, ...]] = ("light", "dark")
Theme = Literal["light", "dark"]


@dataclass(frozen=True)
class Prefs:
    """A user's preferences as the interface uses them."""

    theme: Theme = "light"
    wall_mode: bool = False
    sound: bool = False
    feed_seen_id: int = 0
    flags_seen_at: datetime | None = None


def _as_prefs(row: UserPrefs) -> Prefs:
    theme: Theme = "dark" if row.theme == "dark" else "light"
    return Prefs(theme, row.wall_mode, row.sound, row.feed_seen_id, row.flags_seen_at)


def load_prefs(*, session: Session, username: str) -> Prefs | None:
    """Return ``username``'s preferences, or None when they have none yet."""
    row = session.get(UserPrefs, username)
    return _as_prefs(row) if row is not None else None


def save_prefs(
    *,
    session: Session,
    username: str,
    theme: str | None = None,
    wall_mode: bool | None = None,
    sound: bool | None = None,
    feed_seen_id: int | None = None,
    flags_seen_at: datetime | None = None,
) -> Prefs:
    """Create or update ``username``'s preferences with the values given (None keeps one).

    ``feed_seen_id`` and ``flags_seen_at`` only move forward, so an older tab acknowledging
    late cannot bring back what a newer one already acknowledged.
    """
    row = session.get(UserPrefs, username)
    if row is None:
        row = UserPrefs(
            username=username[:64],
            theme="light",
            wall_mode=False,
            sound=False,
            feed_seen_id=0,
            flags_seen_at=None,
        )
        session.add(row)
    if theme is not None:
        row.theme = theme if theme in THEMES else "light"
    if wall_mode is not None:
        row.wall_mode = bool(wall_mode)
    if sound is not None:
        row.sound = bool(sound)
    if feed_seen_id is not None:
        row.feed_seen_id = max(row.feed_seen_id or 0, int(feed_seen_id))
    if flags_seen_at is not None and (
        row.flags_seen_at is None or flags_seen_at > row.flags_seen_at
    ):
        row.flags_seen_at = flags_seen_at
    session.flush()
    return _as_prefs(row)
