"""Ingest batches and the rows they quarantined."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, utcnow
from store.types import BigIntPK, UTCDateTime


class IngestBatch(Base):
    """One import of one file or API call; its counts always add up to ``rows_read``."""

    __tablename__ = "ingest_batches"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    source_agency: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(512))  # file name or "api"
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    profile: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows_read: Mapped[int] = mapped_column(default=0)
    inserted: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    # The agency of the user who uploaded it in the dashboard (None: command line or API).
    imported_by_agency: Mapped[str | None] = mapped_column(String(64))


class QuarantinedRow(Base):
    """A row that could not be used, kept with its reason and original content."""

    __tablename__ = "quarantined_rows"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"), index=True)
    row_number: Mapped[int]
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)  # the original row as JSON
