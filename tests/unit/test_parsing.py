"""Property tests of the value parsers: times to UTC and coordinates, whatever the spelling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from data_loaders import parsing
from data_loaders.parsing import (
    parse_geometry_text,
    parse_numbers,
    parse_point_text,
    parse_times,
    strip_text,
    swapped_mask,
)

BOSTON = ZoneInfo("America/New_York")
# Whole seconds from 1973 (epoch seconds take 9+ digits) to 2200 (far future, inside pandas' range).
instants = st.datetimes(
    min_value=datetime(1973, 6, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))

LOCAL_FORMATS = [
    "%Y-%m-%d %H:%M:%S",  # ISO 8601, naive
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",  # US date, 12-hour clock
    "%m/%d/%Y %H:%M:%S",  # US date, 24-hour clock
    "%B %d, %Y %I:%M:%S %p",
]


def _parse_one(text: str, tz: str = "America/New_York") -> pd.Timestamp:
    return parse_times(pd.Series([text]), timezone=tz).iloc[0]


# pandas localises with pytz, whose rules stop at 2037 (no daylight time after): naive local
# times are tested up to then; far-future ones are refused as future_time on import anyway.
local_instants = st.datetimes(
    min_value=datetime(1973, 6, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


@settings(max_examples=60, deadline=None)
@given(local_instants, st.sampled_from(LOCAL_FORMATS))
def test_naive_times_are_local_to_the_source(when: datetime, fmt: str) -> None:
    local = when.astimezone(BOSTON)
    got = _parse_one(local.strftime(fmt))
    expected = pd.Timestamp(when)
    if (
        local.fold
        or (local + timedelta(hours=1)).astimezone(BOSTON).utcoffset() != local.utcoffset()
    ):
        # The repeated autumn hour reads as its first occurrence (one hour apart at most).
        assert abs(got - expected) <= pd.Timedelta(hours=1)
    else:
        assert got == expected


@settings(max_examples=60, deadline=None)
@given(instants, st.sampled_from(["+00:00", "-05:00", "+02:00", "Z"]))
def test_times_with_an_offset_ignore_the_source_zone(when: datetime, offset: str) -> None:
    zone = UTC if offset == "Z" else datetime.strptime(offset, "%z").tzinfo
    text = when.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S") + offset
    assert _parse_one(text, tz="Asia/Tokyo") == pd.Timestamp(when)


@settings(max_examples=60, deadline=None)
@given(instants, st.booleans())
def test_epoch_seconds_and_milliseconds(when: datetime, millis: bool) -> None:
    seconds = int(when.timestamp())
    text = str(seconds * 1000) if millis else str(seconds)
    assert _parse_one(text) == pd.Timestamp(when)


@given(st.text(alphabet="abcxyz!?-/: ", max_size=12))
def test_garbage_is_missing_never_an_error(text: str) -> None:
    got = parse_times(pd.Series([text, ""]))
    assert got.iloc[1] is pd.NaT
    assert got.dtype == "datetime64[ns, UTC]"


def test_mixed_formats_in_one_column_agree() -> None:
    values = pd.Series(
        ["2023-03-04 14:30", "03/04/2023 2:30 PM", "2023-03-04T19:30:00Z", "1677958200", ""]
    )
    got = parse_times(values)
    assert got.iloc[:4].nunique() == 1 and got.iloc[0] == pd.Timestamp("2023-03-04 19:30Z")
    assert pd.isna(got.iloc[4])


lats = st.floats(-90, 90, allow_nan=False)
lons = st.floats(-180, 180, allow_nan=False)


@given(lats, lons)
def test_coordinate_texts_round_trip(lat: float, lon: float) -> None:
    texts = pd.Series([f"({lat!r}, {lon!r})", f"{lat!r},{lon!r}", f"[{lat!r} {lon!r}]"])
    got_lat, got_lon = parse_point_text(texts)
    assert np.allclose(got_lat, lat) and np.allclose(got_lon, lon)
    wkt_lat, wkt_lon = parse_geometry_text(pd.Series([f"POINT ({lon!r} {lat!r})"]))
    assert wkt_lat[0] == lat and wkt_lon[0] == lon
    assert parse_numbers(pd.Series([repr(lat)]))[0] == lat


@given(st.text(alphabet="NSEW°'abc ", min_size=1, max_size=10))
def test_non_numeric_coordinates_are_nan(text: str) -> None:
    assert np.isnan(parse_numbers(pd.Series([text]))).all()
    lat, _ = parse_point_text(pd.Series([text]))
    assert np.isnan(lat).all()


def test_decimal_comma() -> None:
    assert parse_numbers(pd.Series(["42,35", "-71,05"])).tolist() == [42.35, -71.05]


@given(st.floats(-89, 89), st.floats(90.5, 180))
def test_impossible_latitudes_that_fit_as_longitudes_are_swaps(lat: float, lon: float) -> None:
    for west in (lon, -lon):
        # The file says (lat=west, lon=lat): a western longitude in the latitude column.
        assert swapped_mask(np.array([west]), np.array([lat]))[0]
        assert not swapped_mask(np.array([lat]), np.array([west]))[0]


def test_strip_text_strips_exactly_what_python_strips() -> None:
    # Every character str.strip() removes, at either end, alone and inside text it keeps.
    spaces = [chr(c) for c in range(0x110000) if chr(c).isspace()]
    values = [f"{sp}a{sp}b{sp}" for sp in spaces] + [sp * 2 for sp in spaces]
    values += ["plain", "", "\u200b zero-width space is not white space\u200b", "é ", "\x00 "]
    column = pd.Series(values, dtype=object)
    assert strip_text(column).tolist() == [v.strip() for v in values]
    # Not all text (a reader that kept a number or a None): the plain pandas path, as before.
    mixed = pd.Series([" 1 ", 2, None], dtype=object)
    assert strip_text(mixed).tolist() == ["1", "2", "None"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(instants, st.sampled_from(["+00:00", "-05:00", "Z", "+0530"])), min_size=1)
)
def test_a_whole_column_of_times_parses_as_each_value_alone(values: list[tuple]) -> None:
    # A column Arrow reads whole takes its C++ parser; one value it cannot read sends the
    # column to pandas' parsers: both give the same instants.
    texts = []
    for when, offset in values:
        zone = UTC if offset == "Z" else datetime.strptime(offset, "%z").tzinfo
        texts.append(when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") + offset)
    expected = [pd.Timestamp(when) for when, _ in values]
    assert parse_times(pd.Series(texts)).tolist() == expected
    with_us_date = parse_times(pd.Series(["03/04/2023 2:30 PM", *texts]))
    assert with_us_date.tolist() == [pd.Timestamp("2023-03-04 19:30Z"), *expected]
    naive = [when.astimezone(BOSTON).strftime("%Y-%m-%dT%H:%M:%S") for when, _ in values]
    if all(when.year < 2037 for when, _ in values):  # pytz's rules stop at 2037 (see above)
        by_pandas = parse_times(pd.Series([*naive, "03/04/2023 2:30 PM"])).tolist()[:-1]
        assert parse_times(pd.Series(naive)).tolist() == by_pandas


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1))
def test_a_whole_column_of_numbers_parses_exactly(values: list[float]) -> None:
    texts = pd.Series([repr(v) for v in values])
    assert parse_numbers(texts).tolist() == values
    # A value Arrow does not read (a decimal comma) or a non-finite one: the general path.
    assert parse_numbers(pd.Series([*texts, "4,5", "inf"])).tolist()[-2:] == [4.5, np.inf]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            instants,
            st.sampled_from(["+00:00", "-05:00", "Z", "+0530", "+01"]),
            st.sampled_from(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f"]),
            st.sampled_from(["", " ", "\t"]),
        ),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from([None, "2023-03-04 14:30:00", "1678604400", "", "not a time"]),
)
def test_a_column_of_zoned_times_reads_as_value_by_value(
    values: list[tuple], other: str | None
) -> None:
    # Every value with an offset: one Arrow cast (the API's usual batch). Its instants are
    # the ones the value-by-value path gives; one other value sends the column down that path.
    texts = [
        pad + when.astimezone(_zone(offset)).strftime(fmt) + offset + pad
        for when, offset, fmt, pad in values
    ]
    column = pd.Series(
        texts if other is None else [*texts, other],
        index=np.arange(len(texts) + (other is not None)) + 7,
    )
    stripped = strip_text(column).reset_index(drop=True)
    by_value = parsing._recognise_times(
        column, stripped, parsing.text_array(stripped), timezone="America/New_York", fmt=None
    )
    got = parse_times(column)
    pd.testing.assert_series_equal(got, by_value, check_names=False)
    assert got[: len(values)].tolist() == [pd.Timestamp(when) for when, *_ in values]


def _zone(offset: str) -> timezone:
    if offset == "Z":
        return UTC
    sign, hours, minutes = offset[0], int(offset[1:3]), int(offset[3:].lstrip(":") or 0)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(delta if sign == "+" else -delta)
