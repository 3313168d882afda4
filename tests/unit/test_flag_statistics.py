"""The statistics rule (rules/statistics.py) and the run's input classes, without a database."""

from __future__ import annotations

import doctest

import pandas as pd
import pytest

import rules.statistics as st
from analytics.flags import input_classes
from analytics.hotspots import DetectionParams
from domain.roles import Role, Viewer
from rules.statistics import may_see_statistics

GREEN_A, RED_B, AMBER_B = ["TLP:GREEN", "A"], ["TLP:RED", "B"], ["TLP:AMBER", "B"]


def test_doctests_pass() -> None:
    result = doctest.testmod(st)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize(
    ("viewer", "inputs", "shown"),
    [
        (Viewer("p", Role.PARTNER, "A"), [GREEN_A], True),
        (Viewer("p", Role.PARTNER, "A"), [GREEN_A, AMBER_B], False),
        (Viewer("p", Role.PARTNER, "B"), [GREEN_A, RED_B], True),
        (Viewer("o", Role.WATCH_OFFICER, "MA-CFC"), [GREEN_A, AMBER_B], True),
        (Viewer("o", Role.WATCH_OFFICER, "MA-CFC"), [GREEN_A, RED_B], False),
        (Viewer("o", Role.WATCH_OFFICER, "MA-CFC"), [["NOT-A-CAVEAT", "B"]], False),
        (Viewer("o", Role.WATCH_OFFICER, "MA-CFC"), None, False),
        (Viewer("o", Role.WATCH_OFFICER, ""), [GREEN_A], False),
        (Viewer.system(), [RED_B], True),
    ],
)
def test_may_see_statistics_only_with_every_input(
    viewer: Viewer, inputs: list[list[str]] | None, shown: bool
) -> None:
    assert may_see_statistics(viewer, inputs) is shown


def test_input_classes_are_the_window_and_baseline_of_the_whole_area() -> None:
    params = DetectionParams(window_s=7 * 86_400, baseline_s=14 * 86_400)
    end = pd.Timestamp("2023-03-01", tz="UTC")
    events = pd.DataFrame(
        {
            "occurred_at": [end - pd.Timedelta(days=d) for d in (1, 20, 22, 0)],
            "handling": ["TLP:GREEN", "TLP:RED", "TLP:AMBER", "LES"],
            "source_agency": ["A", "B", "B", "C"],
        }
    )
    events.loc[3, "occurred_at"] = end  # the window's end is exclusive
    assert input_classes(events, window_end=end, params=params) == [GREEN_A, RED_B]
