"""The shared cache of expensive aggregates: Redis when configured, else an in-process LRU.

Notes
-----
Keys name everything an answer depends on: the database, the data-version token of the events
snapshot the answer is computed from (``bind_cache``), the viewer's visibility class
(``rules.visibility.visibility_class``) and every filter parameter, hashed. A write
replaces the token, so a refreshed snapshot misses and recomputes: nothing is ever invalidated
by hand. Values are serialised without pickle (JSON for the
structure, raw numpy bytes for arrays and frame columns) and signed with an HMAC of the secret
key over key and value, so a value written by anyone without the key, or moved from another
key (another agency's), is rejected and recomputed. Redis entries expire after
``cache_ttl_s``. A cache that fails (Redis down) is skipped, never fatal.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
import orjson
import pandas as pd
import redis
import shapely
from shapely.geometry.base import BaseGeometry

logger = logging.getLogger(__name__)

T = TypeVar("T")
_MAGIC = b"WF1"
_SIG_BYTES = 32
_KEY_PREFIX = "watchfloor:agg:"


class CacheValueError(ValueError):
    """A cached value whose signature or encoding is wrong (tampered, foreign or corrupt)."""


# --- serialisation: JSON structure + raw buffers, never pickle --------------------------------


def _pack(obj: Any, bufs: list[bytes]) -> Any:
    if obj is None or isinstance(obj, bool | str):
        return {"j": obj}
    if isinstance(obj, int | float | np.integer | np.floating):
        return {"j": obj.item() if isinstance(obj, np.generic) else obj}
    if isinstance(obj, datetime | pd.Timestamp):
        return {"dt": obj.isoformat()}
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise TypeError(f"cannot cache an array of dtype {obj.dtype}")
        bufs.append(np.ascontiguousarray(obj).tobytes())
        return {"a": obj.dtype.str, "s": list(obj.shape), "b": len(bufs) - 1}
    if isinstance(obj, pd.DataFrame):
        return {"df": [[str(name), _pack_series(obj[name], bufs)] for name in obj.columns]}
    if isinstance(obj, tuple | list):
        return {"l": [_pack(v, bufs) for v in obj], "t": isinstance(obj, tuple)}
    if isinstance(obj, dict) and all(isinstance(k, str) for k in obj):
        return {"d": {k: _pack(v, bufs) for k, v in obj.items()}}
    raise TypeError(f"cannot cache a {type(obj).__name__}")


def _pack_series(series: pd.Series, bufs: list[bytes]) -> Any:
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        values = series.array.asi8
        return {"ts": str(dtype.tz), "unit": dtype.unit, "v": _pack(np.asarray(values), bufs)}
    if dtype.kind in "biuf":
        return {"v": _pack(series.to_numpy(), bufs)}
    if dtype.kind == "M":
        unit = np.datetime_data(dtype)[0]
        return {"ts": None, "unit": unit, "v": _pack(series.to_numpy().view("i8"), bufs)}
    values = series.tolist()
    if not all(v is None or isinstance(v, str) for v in values):
        raise TypeError(f"cannot cache column {series.name!r} of dtype {dtype}")
    return {"o": values}


def _unpack(node: Any, bufs: list[memoryview]) -> Any:
    if "j" in node:
        return node["j"]
    if "dt" in node:
        return datetime.fromisoformat(node["dt"])
    if "a" in node:
        return np.frombuffer(bufs[node["b"]], dtype=np.dtype(node["a"])).reshape(node["s"]).copy()
    if "df" in node:
        return pd.DataFrame({name: _unpack_series(col, bufs) for name, col in node["df"]})
    if "l" in node:
        items = [_unpack(v, bufs) for v in node["l"]]
        return tuple(items) if node["t"] else items
    if "d" in node:
        return {k: _unpack(v, bufs) for k, v in node["d"].items()}
    raise CacheValueError("unknown node in cached value")


def _unpack_series(node: Any, bufs: list[memoryview]) -> Any:
    if "o" in node:
        return pd.Series(node["o"], dtype=object)
    values = _unpack(node["v"], bufs)
    if "ts" in node:
        # Datetime columns travel as int64 since the epoch (UTC when the column had a zone).
        index = pd.DatetimeIndex(values.view(f"M8[{node['unit']}]"))
        if node["ts"]:
            index = index.tz_localize("UTC").tz_convert(node["ts"])
        return pd.Series(index)
    return values


def encode(obj: Any) -> bytes:
    """Serialise ``obj`` (frames, numeric arrays, datetimes, str, numbers, lists, dicts).

    Layout: 4-byte length of a JSON header, the header (structure, dtypes and buffer lengths),
    then the raw buffers.
    """
    bufs: list[bytes] = []
    tree = _pack(obj, bufs)
    header = orjson.dumps({"tree": tree, "sizes": [len(b) for b in bufs]})
    return b"".join([struct.pack(">I", len(header)), header, *bufs])


def decode(data: bytes) -> Any:
    """Rebuild the object :func:`encode` serialised."""
    try:
        (size,) = struct.unpack(">I", data[:4])
        header = orjson.loads(data[4 : 4 + size])
        view, at, bufs = memoryview(data), 4 + size, []
        for n in header["sizes"]:
            bufs.append(view[at : at + n])
            at += n
        if at != len(data):
            raise CacheValueError("cached value has trailing bytes")
        return _unpack(header["tree"], bufs)
    except (struct.error, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CacheValueError(f"undecodable cached value: {exc}") from exc


# --- keys ---------------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, tuple | list | set | frozenset):
        items = [_canonical(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if hasattr(value, "__dataclass_fields__"):
        return {f: _canonical(getattr(value, f)) for f in value.__dataclass_fields__}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, BaseGeometry):  # an area filter: keyed on its exact WKB
        return {"wkb_sha256": hashlib.sha256(shapely.to_wkb(value)).hexdigest()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot key on a {type(value).__name__}")


def cache_key(
    namespace: str,
    *,
    database: str,
    versions: Sequence[int],
    visibility: str,
    params: Mapping[str, Any],
) -> str:
    """Return the cache key of one aggregate.

    Parameters
    ----------
    namespace
        What is cached (``"hex_counts"``, ``"timeline"``, ...).
    database
        The database's identity (its URL without password).
    versions
        The data-version token(s) the answer depends on.
    visibility
        ``rules.visibility.visibility_class`` of the viewer.
    params
        Every other parameter of the answer (filters, window, resolution, ...); dataclasses,
        datetimes and collections are written out field by field.
    """
    body = orjson.dumps(
        [namespace, database, list(versions), visibility, _canonical(params)],
        option=orjson.OPT_SORT_KEYS,
    )
    return f"{_KEY_PREFIX}{namespace}:{hashlib.sha256(body).hexdigest()}"


# --- the cache ----------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def redis_client(url: str) -> redis.Redis:
    """Return the process-wide Redis client of ``url`` (short timeouts: a cache must not hang)."""
    return redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)


class SharedCache:
    """Signed aggregate values in Redis (``redis_url``) or in this process (LRU)."""

    def __init__(
        self, *, secret: str, redis_url: str | None, max_entries: int = 512, ttl_s: int = 600
    ) -> None:
        # A key of its own, derived from the secret: a cache value can never pass as a session.
        self._key = hmac.new(secret.encode(), b"watchfloor-aggregate-cache", "sha256").digest()
        self._redis = redis_client(redis_url) if redis_url else None
        self._local: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self.hits = self.misses = self.rejected = 0

    @property
    def backend(self) -> str:
        """``"redis"`` or ``"memory"``."""
        return "redis" if self._redis is not None else "memory"

    def _sign(self, key: str, payload: bytes) -> bytes:
        mac = hmac.new(self._key, key.encode() + b"\0" + payload, "sha256").digest()
        return _MAGIC + mac + payload

    def _verify(self, key: str, blob: bytes) -> bytes:
        head = len(_MAGIC) + _SIG_BYTES
        if len(blob) < head or not blob.startswith(_MAGIC):
            raise CacheValueError("cached value without a signature")
        payload = blob[head:]
        expected = hmac.new(self._key, key.encode() + b"\0" + payload, "sha256").digest()
        if not hmac.compare_digest(expected, blob[len(_MAGIC) : head]):
            raise CacheValueError("cached value with a wrong signature")
        return payload

    def _read(self, key: str) -> bytes | None:
        if self._redis is None:
            with self._lock:
                blob = self._local.get(key)
                if blob is not None:
                    self._local.move_to_end(key)
                return blob
        return self._redis.get(key)  # type: ignore[return-value]

    def _write(self, key: str, blob: bytes) -> None:
        if self._redis is None:
            with self._lock:
                self._local[key] = blob
                self._local.move_to_end(key)
                while len(self._local) > self.max_entries:
                    self._local.popitem(last=False)
            return
        self._redis.set(key, blob, ex=self.ttl_s)

    def get(self, key: str) -> tuple[bool, Any]:
        """Return ``(found, value)``; a tampered or undecodable value counts as not found."""
        try:
            blob = self._read(key)
        except redis.RedisError as exc:
            logger.warning("aggregate cache unavailable (%s): computing", type(exc).__name__)
            return False, None
        if blob is None:
            return False, None
        try:
            return True, decode(self._verify(key, bytes(blob)))
        except CacheValueError as exc:
            self.rejected += 1
            logger.warning("aggregate cache: rejected the value of %s (%s)", key, exc)
            return False, None

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` signed under ``key`` (errors are logged, never raised)."""
        try:
            self._write(key, self._sign(key, encode(value)))
        except redis.RedisError as exc:
            logger.warning("aggregate cache unavailable (%s): not stored", type(exc).__name__)

    def get_or_compute(self, key: str, compute: Callable[[], T]) -> T:
        """Return the cached value of ``key``, computing and storing it on a miss."""
        found, value = self.get(key)
        if found:
            self.hits += 1
            return value  # type: ignore[no-any-return]
        self.misses += 1
        value = compute()
        self.set(key, value)
        return value

    def clear(self) -> None:
        """Forget this process's entries (Redis entries expire on their own)."""
        with self._lock:
            self._local.clear()


_SHARED: dict[tuple[str, str | None, int, int], SharedCache] = {}
_SHARED_LOCK = threading.Lock()


def shared_cache(
    *, secret: str, redis_url: str | None, max_entries: int = 512, ttl_s: int = 600
) -> SharedCache:
    """Return the process-wide cache for these settings (one per configuration)."""
    key = (secret, redis_url, max_entries, ttl_s)
    with _SHARED_LOCK:
        found = _SHARED.get(key)
        if found is None:
            found = _SHARED[key] = SharedCache(
                secret=secret, redis_url=redis_url, max_entries=max_entries, ttl_s=ttl_s
            )
        return found


class BoundCache:
    """The shared cache seen from one database state and one visibility class.

    Built once per request (:func:`bind_cache`): the snapshot's token is taken once, so every
    aggregate of one map build keys on the same state.
    """

    def __init__(self, cache: SharedCache, *, database: str, token: int, visibility: str) -> None:
        self.cache = cache
        self.database = database
        self.token = token
        self.visibility = visibility

    def get(self, namespace: str, params: Mapping[str, Any], compute: Callable[[], T]) -> T:
        """Return the aggregate ``namespace`` for ``params``, computing it on a miss."""
        key = cache_key(
            namespace,
            database=self.database,
            versions=(self.token,),
            visibility=self.visibility,
            params=params,
        )
        return self.cache.get_or_compute(key, compute)


def bind_cache(cache: SharedCache | None, *, session: Any, visibility: str) -> BoundCache | None:
    """Return ``cache`` bound to the session's database and events snapshot (or ``None``).

    Parameters
    ----------
    cache
        The process's shared cache, or ``None`` for no caching.
    session
        Open session: its bind names the database; the key's version is the token of the
        columnar snapshot the session reads (``store.columnar``), so every worker and session
        looking at the same snapshot version shares the answers, even while writes stream in.
    visibility
        ``rules.visibility.visibility_class`` of the viewer.
    """
    if cache is None:
        return None
    from store.columnar import event_columns

    return BoundCache(
        cache,
        database=session.get_bind().url.render_as_string(hide_password=True),
        token=event_columns(session=session).token,
        visibility=visibility,
    )


def cached(
    bound: BoundCache | None, namespace: str, params: Mapping[str, Any], compute: Callable[[], T]
) -> T:
    """Return ``compute()`` through ``bound`` when caching is on, else computed directly."""
    return compute() if bound is None else bound.get(namespace, params, compute)
