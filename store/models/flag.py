"""Flags (significant clusters near sites), their follow-up and every change to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, TimestampMixin, utcnow
from store.public_ids import PUBLIC_ID_LENGTH, new_public_id
from store.types import BigIntPK, UTCDateTime


class Flag(TimestampMixin, Base):
    """One cluster of events near infrastructure, kept across detection runs by its fingerprint.

    ``handling`` and ``source_agency`` follow the event columns of the same name so the single
    visibility rule filters flags too: ``handling`` is the most restrictive caveat of the flag's
    events and sites, ``source_agency`` the one agency owning its non-open items (empty if many).
    ``public_id`` is the only id that leaves the server (:mod:`store.public_ids`).
    """

    __tablename__ = "flags"
    __table_args__ = (
        CheckConstraint("status IN ('new', 'acknowledged', 'assigned', 'closed')", name="status"),
        CheckConstraint(
            "disposition IS NULL OR disposition IN ('actionable', 'benign', 'duplicate', "
            "'referred')",
            name="disposition",
        ),
        Index("ix_flags_status_priority", "status", "priority"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), default=new_public_id, unique=True, index=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="new")
    disposition: Mapped[str | None] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(128))
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    priority: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    q_value: Mapped[float] = mapped_column(Float)
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)
    res: Mapped[int] = mapped_column(SmallInteger)
    cells: Mapped[str] = mapped_column(Text)  # JSON list of int64 cells
    event_ids: Mapped[str] = mapped_column(Text)  # JSON list of event ids
    site_ids: Mapped[str] = mapped_column(Text)  # JSON list of site ids, nearest first
    nearest_site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    nearest_distance_m: Mapped[float] = mapped_column(Float)
    explanation: Mapped[str] = mapped_column(Text)  # JSON, see analytics.flags.explain
    handling: Mapped[str] = mapped_column(String(24), index=True)
    source_agency: Mapped[str] = mapped_column(String(64))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    first_event_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_detected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    detections: Mapped[int] = mapped_column(Integer, default=1)
    recurrences: Mapped[int] = mapped_column(Integer, default=0)
    related_flag_id: Mapped[int | None] = mapped_column(BigInteger)


class FlagHistory(Base):
    """One change to a flag: detection updates and every follow-up action, with who and when."""

    __tablename__ = "flag_history"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)  # JSON: what changed
