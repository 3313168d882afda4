"""Partner API keys: create one per agency, check a presented key, revoke; only hashes stored.

A key looks like ``wf_<prefix>_<secret>``: the prefix finds the row, the SHA-256 of the whole key
is compared in constant time. Keys carry 256 random bits, so a fast hash is the right tool here
(slow password hashes exist for low-entropy secrets typed by people).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from store.base import utcnow
from store.models import ApiKey

# 12 hex characters: never begins with "-" (a prefix like "-Ab3..." was read by the CLI's
# ``apikeys revoke PREFIX`` as an option, so about 1 key in 32 could not be revoked) and holds
# no "_" (the key's separator).
_PREFIX_BYTES = 6
_SECRET_BYTES = 32
# A key's last use is recorded to the minute.
LAST_USE_EVERY = timedelta(minutes=1)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _prefix_of(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "wf" or not parts[1] or not parts[2]:
        return None
    return parts[1]


def create_key(*, session: Session, agency: str, label: str = "") -> tuple[str, ApiKey]:
    """Create a key for ``agency``; return the key (show it once) and its stored record."""
    agency = agency.strip()
    if not agency:
        raise ValueError("an API key needs an agency")
    prefix = secrets.token_hex(_PREFIX_BYTES)
    key = f"wf_{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}"
    record = ApiKey(agency=agency, prefix=prefix, key_hash=_hash(key), label=label[:128])
    session.add(record)
    session.flush()
    return key, record


def key_prefix(key: str | None) -> str | None:
    """Return the public prefix of a presented key (for the audit log), else ``None``."""
    return _prefix_of(key.strip()) if key else None


def agency_for_key(*, session: Session, key: str | None) -> str | None:
    """Return the agency of a valid, unrevoked ``key``, else ``None``; records its last use.

    The last use is kept to the minute: a partner posting ten batches a second does not write
    the key's row (and wait for its lock) on every one.
    """
    if not key:
        return None
    prefix = _prefix_of(key.strip())
    if prefix is None:
        return None
    record = session.execute(
        select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if record is None or not hmac.compare_digest(record.key_hash, _hash(key.strip())):
        return None
    now = utcnow()
    if record.last_used_at is None or now - record.last_used_at >= LAST_USE_EVERY:
        record.last_used_at = now
    return record.agency


def bearer_token(header: str | None) -> str | None:
    """Return the token of an ``Authorization: Bearer ...`` header value, else ``None``."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def revoke_key(*, session: Session, prefix: str) -> int:
    """Revoke the key(s) with ``prefix``; return how many were revoked."""
    # An UPDATE answers a CursorResult (with its rowcount); Session.execute's stubs say Result.
    result = cast(
        CursorResult[Any],
        session.execute(
            update(ApiKey)
            .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        ),
    )
    return int(result.rowcount or 0)
