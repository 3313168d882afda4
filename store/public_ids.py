"""Opaque public ids of events and flags: what leaves the server instead of the integer keys.

Integer primary keys are sequential, so two of them tell how many rows were stored in between,
rows a viewer may not see included (issue #18, finding 6). Every id that leaves the server (APIs,
exports, the dashboard) is a row's ``public_id`` instead: 16 bytes from the operating system's
CSPRNG as 32 lower-case hex characters, unrelated to the row's place in the table. The integer
keys stay inside, for joins and the read engine.
"""

from __future__ import annotations

import os
import re
import secrets
from typing import Final

import numpy as np
import numpy.typing as npt

PUBLIC_ID_BYTES: Final = 16
PUBLIC_ID_LENGTH: Final = 2 * PUBLIC_ID_BYTES
_HEX_PAIRS = np.array([f"{i:02x}" for i in range(256)], dtype="<U2")
_PUBLIC_ID = re.compile(rf"[0-9a-f]{{{PUBLIC_ID_LENGTH}}}")


def new_public_id() -> str:
    """Return one new public id (the model default for rows inserted one by one).

    Examples
    --------
    >>> len(new_public_id()), new_public_id() != new_public_id()
    (32, True)
    """
    return secrets.token_hex(PUBLIC_ID_BYTES)


def new_public_ids(n: int) -> npt.NDArray[np.str_]:
    """Return ``n`` new public ids at once, built as whole arrays (the bulk ingest path).

    Notes
    -----
    One ``os.urandom`` read for all of them (the kernel CSPRNG, as :mod:`secrets` uses), turned
    into hex by a table lookup over the byte array: no Python work per row.

    Examples
    --------
    >>> ids = new_public_ids(3)
    >>> ids.shape, all(is_public_id(str(i)) for i in ids), len(set(ids))
    ((3,), True, 3)
    """
    raw = np.frombuffer(os.urandom(PUBLIC_ID_BYTES * n), dtype=np.uint8)
    pairs = np.ascontiguousarray(_HEX_PAIRS[raw.reshape(n, PUBLIC_ID_BYTES)])
    return pairs.view(f"<U{PUBLIC_ID_LENGTH}").reshape(n)


def is_public_id(text: str) -> bool:
    """Return whether ``text`` has the shape of a public id (checked before any lookup).

    Examples
    --------
    >>> is_public_id("0" * 32), is_public_id("42"), is_public_id("G" * 32)
    (True, False, False)
    """
    return bool(_PUBLIC_ID.fullmatch(text))
