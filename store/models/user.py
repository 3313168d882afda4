"""Users who sign in, their sessions, and the append-only audit log of what they did."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, TimestampMixin, utcnow
from store.types import BigIntPK, UTCDateTime


class User(TimestampMixin, Base):
    """A person who signs in; ``role`` and ``agency`` make their :class:`domain.roles.Viewer`.

    ``auth_epoch`` is part of the session id: bumping it (password change, reset, disable) ends
    every session the user has open.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    agency: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0)


class UserSession(Base):
    """One sign-in's server-side record: the cookie names it, sign-out and expiry close it.

    ``id`` is the SHA-256 hex of the random secret in the cookie (the secret itself is never
    stored). A session is valid while ``ended_at`` is null and ``created_at`` is within the
    absolute lifetime; ``end_reason`` says how it ended (``user``, ``idle``, ``lifetime``,
    ``revoked``, ``renewed``).
    """

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(16))


class AuditEntry(Base):
    """One audited action; rows are only ever inserted (database triggers refuse the rest)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    username: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object: Mapped[str] = mapped_column(String(256), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[str | None] = mapped_column(Text)  # JSON
