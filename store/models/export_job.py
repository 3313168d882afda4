"""Dashboard export jobs: who asked for what, how far the file is, and where it lies."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow
from store.types import UTCDateTime


class ExportJob(Base):
    """One export started from the dashboard, written to disk chunk by chunk.

    Every gunicorn worker answers a status poll from this row (nothing is kept in a process):
    ``rows_done`` of ``rows_total`` (counted first with the same filter), and ``heartbeat_at``,
    which the running job refreshes every few seconds; a running job whose heartbeat is older
    than ``WATCHFLOOR_EXPORT_STALE_S`` lost its process and is reported failed. ``id`` is a random
    token; only ``username`` may poll or download it.
    """

    __tablename__ = "export_jobs"
    __table_args__ = (Index("ix_export_jobs_username_created_at", "username", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(64))
    layer: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(16))
    res: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="running")
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_total: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str | None] = mapped_column(String(128))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
