"""Events: suspicious-activity reports and incident reports, with their revisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, TimestampMixin, utcnow
from store.public_ids import PUBLIC_ID_LENGTH, new_public_id
from store.types import BigIntPK, UTCDateTime


def add_years(when: datetime, years: int) -> datetime:
    """Return ``when`` plus whole calendar years (29 February becomes 28 February)."""
    try:
        return when.replace(year=when.year + years)
    except ValueError:
        return when.replace(year=when.year + years, day=28)


def _review_default(context: Any) -> datetime | None:
    # 28 CFR 23.20(h): criminal intelligence is reviewed (validated or purged) a fixed number of
    # years after it enters the system; only SARs (records about people) carry a review date.
    params = context.get_current_parameters()
    if params.get("kind") != "suspicious":
        return None
    from settings import get_settings  # the model module must not import settings at load

    entered = params.get("created_at") or utcnow()
    return add_years(entered, get_settings().sar_review_years)


class Event(TimestampMixin, Base):
    """One reported event at a point in space and time.

    ``cell`` is the H3 cell at ``settings.h3_store_res``; coarser cells derive from it.
    ``lon``/``lat`` duplicate the point so aggregates never need to decode geometry.
    ``public_id`` is the only id that leaves the server (:mod:`store.public_ids`); ``id`` stays
    inside.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source_agency", "external_id"),
        CheckConstraint("kind IN ('suspicious', 'incident')", name="kind"),
        CheckConstraint("severity BETWEEN 1 AND 5", name="severity"),
        Index("ix_events_kind_occurred_at", "kind", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    public_id: Mapped[str] = mapped_column(
        String(PUBLIC_ID_LENGTH), default=new_public_id, unique=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(128))
    source_category: Mapped[str | None] = mapped_column(String(256))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    description: Mapped[str | None] = mapped_column(Text)
    location_text: Mapped[str | None] = mapped_column(String(512))
    source_agency: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    handling: Mapped[str] = mapped_column(String(24), index=True)
    severity: Mapped[int] = mapped_column(SmallInteger, default=1)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    geometry: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True, nullable=False)
    )
    cell: Mapped[int] = mapped_column(BigInteger, index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.id"), index=True)
    # When a SAR is due for review under the retention rule; NULL for incident reports.
    review_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=_review_default, index=True
    )


class EventRevision(Base):
    """The previous content of an event, kept whenever a re-import changes it."""

    __tablename__ = "event_revisions"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)  # the replaced values as JSON
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
