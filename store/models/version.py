"""Data versions: one random token per table, replaced by a trigger on every write."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base

# The events' data version is the XOR of these rows' tokens. PostgreSQL writers each replace the
# token of a slot no other open transaction holds, so concurrent batches do not wait for each
# other (migration ``i10_events_version_slots``); SQLite has only ``events`` (one writer).
EVENT_VERSION_SLOTS = ("events", *(f"events.{k}" for k in range(1, 16)))


def combined_token(tokens: list[int]) -> int:
    """Return the events' data version from its slots' tokens (XOR: any slot's change shows)."""
    out = 0
    for token in tokens:
        out ^= int(token)
    return out


class DataVersion(Base):
    """The current data version of one table (``name``), e.g. ``events``.

    ``token`` is a random 64-bit number that database triggers replace on every insert, update,
    delete (and on PostgreSQL, truncate) of the table. A random token, unlike a counter, is never
    reused after a rolled-back transaction, so a cache keyed by it can never serve rolled-back or
    stale rows.
    """

    __tablename__ = "data_versions"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)
