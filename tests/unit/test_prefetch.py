"""The helper thread that maps the next chunk: order, errors and early stops."""

from __future__ import annotations

import threading

import pytest

from data_loaders.prefetch import mapped_ahead


def test_results_come_in_order_with_their_items() -> None:
    assert list(mapped_ahead(range(50), lambda x: x * x)) == [(i, i * i) for i in range(50)]


def test_an_error_in_the_mapping_reaches_the_consumer() -> None:
    def fn(x: int) -> int:
        if x == 3:
            raise ValueError("bad chunk")
        return x

    got = []
    with pytest.raises(ValueError, match="bad chunk"):
        for item, _ in mapped_ahead(range(10), fn):
            got.append(item)
    assert got == [0, 1, 2]


def test_a_consumer_that_stops_early_stops_the_thread() -> None:
    produced: list[int] = []

    def fn(x: int) -> int:
        produced.append(x)
        return x

    gen = mapped_ahead(range(1000), fn)
    next(gen)
    gen.close()
    assert len(produced) <= 3  # at most the one yielded, one queued and one in hand
    assert not [t for t in threading.enumerate() if t.name == "ingest-prefetch"]
