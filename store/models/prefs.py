"""Per-user preferences of the live watch desk: theme, wall mode, sound, what was last seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow
from store.types import UTCDateTime


class UserPrefs(Base):
    """One user's live-desk preferences, keyed by user name (kept across sessions and devices).

    ``feed_seen_id`` is the newest event id the user had in front of them when they last
    acknowledged the feed; ``flags_seen_at`` the newest flag detection time they acknowledged.
    """

    __tablename__ = "user_prefs"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    theme: Mapped[str] = mapped_column(String(16), default="light")
    wall_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    sound: Mapped[bool] = mapped_column(Boolean, default=False)
    feed_seen_id: Mapped[int] = mapped_column(BigInteger, default=0)
    flags_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
