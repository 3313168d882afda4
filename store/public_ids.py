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
import pyarrow as pa

PUBLIC_ID_BYTES: Final = 16
PUBLIC_ID_LENGTH: Final = 2 * PUBLIC_ID_BYTES
_PUBLIC_ID = re.compile(rf"[0-9a-f]{{{PUBLIC_ID_LENGTH}}}")


def new_public_id() -> str:
    """Return one new public id (the model default for rows inserted one by one).

    Examples
    --------
    >>> len(new_public_id()), new_public_id() != new_public_id()
    (32, True)
    """
    return secrets.token_hex(PUBLIC_ID_BYTES)


def new_public_ids(n: int) -> pa.StringArray:
    """Return ``n`` new public ids at once, as an Arrow string array (the bulk ingest path).

    Notes
    -----
    One ``os.urandom`` read for all of them (the kernel CSPRNG, as :mod:`secrets` uses), written
    as hex in one C call and cut into 32-character values by an offsets buffer: no Python object
    per row. A pandas column of it (``pd.arrays.ArrowExtensionArray``) goes into PostgreSQL's
    ``COPY`` as it is (about 5 ms per 50,000 ids, against 0.1 s through per-row strings).

    Examples
    --------
    >>> ids = new_public_ids(3).to_pylist()
    >>> len(ids), all(is_public_id(i) for i in ids), len(set(ids))
    (3, True, 3)
    """
    data = os.urandom(PUBLIC_ID_BYTES * n).hex().encode("ascii")
    offsets = np.arange(0, PUBLIC_ID_LENGTH * n + 1, PUBLIC_ID_LENGTH, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def is_public_id(text: str) -> bool:
    """Return whether ``text`` has the shape of a public id (checked before any lookup).

    Examples
    --------
    >>> is_public_id("0" * 32), is_public_id("42"), is_public_id("G" * 32)
    (True, False, False)
    """
    return bool(_PUBLIC_ID.fullmatch(text))
