"""Areas: regions (counties, districts, drawn polygons) and hazard footprints (storms, warnings)."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import CheckConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, TimestampMixin
from store.types import BigIntPK, UTCDateTime


class Area(TimestampMixin, Base):
    """A named polygon area; hazards carry the time span they stand for."""

    __tablename__ = "areas"
    __table_args__ = (
        UniqueConstraint("source_agency", "external_id"),
        CheckConstraint("kind IN ('region', 'hazard')", name="kind"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    subtype: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(256), index=True)
    source_agency: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    handling: Mapped[str] = mapped_column(String(24), default="TLP:CLEAR")
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attributes: Mapped[str | None] = mapped_column(Text)  # JSON
    geometry: Mapped[WKBElement] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True, nullable=False)
    )
