"""The aggregate cache's serialisation (no pickle) and signing, without any service."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from domain.roles import Role, Viewer
from rules.visibility import visibility_class
from store.cache import CacheValueError, SharedCache, cache_key, decode, encode


def test_encode_round_trips_frames_arrays_and_structures() -> None:
    frame = pd.DataFrame(
        {
            "cell": np.array([617700169958293503, 617700169958293504], dtype=np.int64),
            "total": np.array([3, 0], dtype=np.int64),
            "share": [0.5, 1.5],
            "bucket_start": pd.to_datetime(["2023-02-01", "2023-02-02"]).tz_localize("UTC"),
            "label": ["a", None],
        }
    )
    value = {
        "frame": frame,
        "cells": np.array([1, 2, 3], dtype=np.int64),
        "range": (datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 2, 1, tzinfo=UTC)),
        "caveats": ["TLP:AMBER", "TLP:GREEN"],
        "none": None,
    }
    back = decode(encode(value))
    pd.testing.assert_frame_equal(back["frame"], frame)
    np.testing.assert_array_equal(back["cells"], value["cells"])
    assert back["range"] == value["range"] and isinstance(back["range"], tuple)
    assert back["caveats"] == value["caveats"] and back["none"] is None


def test_encode_keeps_empty_frames_and_local_time_zones() -> None:
    empty = pd.DataFrame({"cell": pd.Series(dtype="int64"), "total": pd.Series(dtype="int64")})
    pd.testing.assert_frame_equal(decode(encode(empty)), empty)
    local = pd.DataFrame(
        {"at": pd.to_datetime(["2023-03-12 01:30"]).tz_localize("America/New_York")}
    )
    pd.testing.assert_frame_equal(decode(encode(local)), local)


def test_encode_refuses_objects_it_cannot_write_without_pickle() -> None:
    with pytest.raises(TypeError):
        encode(object())
    with pytest.raises(TypeError):
        encode(np.array([object()], dtype=object))


def test_decode_rejects_garbage() -> None:
    with pytest.raises(CacheValueError):
        decode(b"\x00\x00\x00\x05{not json")


def test_cache_key_changes_with_every_part() -> None:
    base = {"database": "db", "versions": (1,), "visibility": "center:X", "params": {"res": 8}}
    key = cache_key("hex_counts", **base)  # type: ignore[arg-type]
    assert key == cache_key("hex_counts", **base)  # type: ignore[arg-type]
    for change in (
        {"database": "other"},
        {"versions": (2,)},
        {"visibility": "partner:X"},
        {"params": {"res": 9}},
    ):
        assert cache_key("hex_counts", **{**base, **change}) != key  # type: ignore[arg-type]
    assert cache_key("timeline", **base) != key  # type: ignore[arg-type]


def test_visibility_class_separates_agencies_and_role_classes() -> None:
    a = visibility_class(Viewer("a1", Role.PARTNER, "A"))
    assert a == visibility_class(Viewer("a2", Role.PARTNER, "A"))  # same rows, same class
    assert a != visibility_class(Viewer("b1", Role.PARTNER, "B"))
    center = visibility_class(Viewer("o", Role.WATCH_OFFICER, "MA-CFC"))
    assert center == visibility_class(Viewer("c", Role.COMMAND, "MA-CFC"))
    assert center != visibility_class(Viewer("p", Role.PARTNER, "MA-CFC"))


def test_memory_cache_rejects_a_value_signed_with_another_key() -> None:
    ours = SharedCache(secret="ours", redis_url=None)
    ours.set("k", [1, 2])
    assert ours.get("k") == (True, [1, 2])
    theirs = SharedCache(secret="theirs", redis_url=None)
    theirs._local["k"] = ours._local["k"]  # the same bytes, another secret
    assert theirs.get("k") == (False, None) and theirs.rejected == 1
    ours._local["moved"] = ours._local["k"]  # a valid value under another key
    assert ours.get("moved") == (False, None)


def test_memory_cache_is_bounded() -> None:
    cache = SharedCache(secret="s", redis_url=None, max_entries=2)
    for k in "abc":
        cache.set(k, k)
    assert cache.get("a") == (False, None) and cache.get("c") == (True, "c")


def test_cache_key_follows_the_area_filter() -> None:
    """Two areas never share an entry; the same polygon (rebuilt) does."""
    from shapely.geometry import box

    from store.queries.filters import EventFilter

    def key(area: object) -> str:
        params = {"filters": EventFilter(area=area)}  # type: ignore[arg-type]
        return cache_key("hex_counts", database="db", versions=(1,), visibility="v", params=params)

    suffolk = box(-71.2, 42.2, -70.9, 42.45)
    assert key(suffolk) == key(box(-71.2, 42.2, -70.9, 42.45))
    assert key(suffolk) != key(box(-71.2, 42.2, -70.9, 42.46))
    assert key(suffolk) != key(None)
