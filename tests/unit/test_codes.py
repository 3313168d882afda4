"""analytics.codes.factorize: pd.factorize's answer, exact for text holding NUL characters."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from analytics.codes import factorize
from layers._format import text

# Few distinct characters, NUL among them: collisions such as "" / "\x00" come up at once.
VALUES = st.lists(st.one_of(st.none(), st.text(alphabet="\x00a<", max_size=3)), max_size=30)


def _reference(values: list[str | None], sort: bool) -> tuple[list[int], list[str]]:
    uniques = list(dict.fromkeys(v for v in values if v is not None))
    if sort:
        uniques.sort()
    where = {u: i for i, u in enumerate(uniques)}
    return [-1 if v is None else where[v] for v in values], uniques


@given(VALUES, st.booleans())
def test_factorize_matches_a_dictionary_walk(values: list[str | None], sort: bool) -> None:
    codes, uniques = factorize(np.array(values, dtype=object), sort=sort)
    assert (codes.tolist(), uniques.tolist()) == _reference(values, sort)


def test_pandas_alone_conflates_empty_and_nul() -> None:
    """The bug this module exists for (if pandas fixes it, the workaround can go)."""
    assert pd.factorize(np.array(["", "\x00"], dtype=object))[0].tolist() == [0, 0]
    assert factorize(np.array(["", "\x00"], dtype=object))[0].tolist() == [0, 1]


@given(VALUES)
def test_escaped_text_keeps_each_value(values: list[str | None]) -> None:
    got = text(pd.Series(values, dtype=object)).tolist()
    assert got == ["" if v is None else v.replace("<", "&lt;") for v in values]
