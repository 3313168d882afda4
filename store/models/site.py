"""Critical-infrastructure sites."""

from __future__ import annotations

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, TimestampMixin
from store.types import BigIntPK


class Site(TimestampMixin, Base):
    """A critical-infrastructure site with its DHS sector and criticality tier (1 = highest)."""

    __tablename__ = "sites"
    __table_args__ = (
        UniqueConstraint("source_agency", "external_id"),
        CheckConstraint("tier BETWEEN 1 AND 3", name="tier"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    sector: Mapped[str] = mapped_column(String(64), index=True)
    subtype: Mapped[str | None] = mapped_column(String(128))
    tier: Mapped[int] = mapped_column(SmallInteger)
    protection_radius_m: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(512))
    attributes: Mapped[str | None] = mapped_column(Text)  # source extras as JSON
    source_agency: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    handling: Mapped[str] = mapped_column(String(24), default="TLP:CLEAR")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    geometry: Mapped[WKBElement] = mapped_column(
        Geometry("POINT", srid=4326, spatial_index=True, nullable=False)
    )
    cell: Mapped[int] = mapped_column(BigInteger, index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.id"), index=True)
