"""Hover-text formatting: local times as ``strftime`` writes them, across DST changes; escaping."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from layers._format import category_label, category_text, local_time, text


@pytest.mark.parametrize("tz", ["America/New_York", "UTC", "Australia/Lord_Howe"])
def test_local_time_equals_strftime_across_dst(tz: str) -> None:
    rng = np.random.default_rng(3)
    # Seconds around both 2023 US changes (and Lord Howe's half-hour one), plus a spread year.
    edges = np.array([1678604400, 1699164000, 1680364800, 1696089600])
    seconds = np.concatenate(
        [
            edges[rng.integers(0, 4, 500)] + rng.integers(-7200, 7200, 500),
            rng.integers(1.6e9, 1.8e9, 500),
        ]
    )
    times = pd.Series(pd.to_datetime(seconds, unit="s", utc=True), index=np.arange(1000) + 5)
    expected = times.dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M %Z")
    got = local_time(times, tz)
    pd.testing.assert_series_equal(got, expected, check_dtype=False)
    assert local_time(times.iloc[:0], tz).tolist() == []


@given(
    st.lists(
        st.one_of(st.none(), st.sampled_from(["A & B", "<b>", "", 'O\'Hara "St"']), st.text()),
        max_size=40,
    )
)
def test_text_escapes_each_value_as_html_escape_does(values: list[str | None]) -> None:
    """Each distinct value is escaped once; the answer is the element-wise one, in order."""
    series = pd.Series(values, index=np.arange(len(values))[::-1] * 7, dtype=object)
    out = text(series)
    assert out.index.equals(series.index) and out.dtype == object
    assert out.tolist() == ["" if v is None else html.escape(v) for v in values]


@given(
    st.lists(
        st.one_of(
            st.sampled_from(["SURVL", "THREAT", "Larceny", "<b>x</b>", "", "A & B"]), st.text()
        ),
        max_size=40,
    )
)
def test_category_text_labels_and_escapes_as_one_value_at_a_time(values: list[str]) -> None:
    series = pd.Series(values, index=np.arange(len(values)) * 2, dtype=object)
    expected = text(category_label(series))
    pd.testing.assert_series_equal(category_text(series), expected, check_dtype=False)
