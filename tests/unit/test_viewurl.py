"""The view URL: encode and decode are inverse on valid views and drop invalid values."""

from __future__ import annotations

import doctest
from datetime import date

import pytest

import ui.viewurl
from ui.viewurl import UrlView, decode_view, encode_view


def test_doctests_pass() -> None:
    assert doctest.testmod(ui.viewurl).failed == 0


@pytest.mark.parametrize(
    "view",
    [
        UrlView(lat=42.36012, lon=-71.05891, zoom=12.25, preset="7d", auto=True),
        UrlView(
            lat=-33.5,
            lon=151.0,
            zoom=3.0,
            preset="custom",
            start=date(2023, 1, 1),
            end=date(2023, 1, 31),
            layers=("hexes", "suspicious"),
            res=9,
            auto=False,
            colour="change",
        ),
        UrlView(preset="all", layers=()),
        UrlView(
            categories=("Larceny, From Vehicle", "SURVL"),  # a comma inside a value survives
            agencies=("MA-CFC",),
            caveats=("TLP:AMBER+STRICT", "LES"),
            area=("hazard", 4),
        ),
        UrlView(),
    ],
)
def test_decode_encode_round_trip(view: UrlView) -> None:
    assert decode_view(encode_view(view)) == view


def test_encode_view_is_short_and_readable() -> None:
    query = encode_view(
        UrlView(lat=42.36, lon=-71.06, zoom=11.5, preset="30d", layers=("hexes", "sites"), res=8)
    )
    assert query == "?lat=42.36&lon=-71.06&z=11.5&w=30d&layers=hexes,sites&res=8"
    assert encode_view(UrlView()) == ""


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?lat=95&lon=-71&z=11", UrlView(zoom=11.0)),  # latitude out of range: no position
        ("?lat=42&z=abc", UrlView()),  # a position needs both; the zoom is not a number
        ("?w=2023-02-01..2023-01-01", UrlView()),  # end before start
        ("?w=2023-13-01..2023-14-01", UrlView()),
        ("?w=custom&res=42&colour=<script>", UrlView()),
        ("?layers=hexes,nope,hexes,sites", UrlView(layers=("hexes", "sites"))),
        ("?res=7", UrlView(res=7, auto=False)),
        ("?area=county:3&cat=", UrlView()),  # unknown area kind; an empty value is no filter
        ("?area=region:x1", UrlView()),
        ("?cat=A&cat=A&cav=LES", UrlView(categories=("A",), caveats=("LES",))),
        ("?res=auto&z=25", UrlView(auto=True)),
        ("lat=nan&lon=inf", UrlView()),
        ("", UrlView()),
    ],
)
def test_decode_view_keeps_only_valid_values(query: str, expected: UrlView) -> None:
    assert decode_view(query) == expected
