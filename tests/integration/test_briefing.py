"""The briefing as a person receives it: PDF pages rendered to PNG, text and marking checked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from analytics.timebuckets import TimeWindow
from domain.roles import Role, Viewer
from reports.briefing import build_briefing, write_pdf
from settings import Settings
from store.engine import session_scope
from store.queries import EventFilter
from store.queries.areas import events_in_area, find_area

COMMAND = Viewer("cmd", Role.COMMAND, "MA-CFC")
PARTNER = Viewer("pat", Role.PARTNER, "CAMBRIDGE-PD")
FEBRUARY = TimeWindow(pd.Timestamp("2023-02-01", tz="UTC"), pd.Timestamp("2023-03-01", tz="UTC"))


def test_briefing_pdf_has_title_counts_and_a_marking_on_every_page(
    demo_db: tuple[Engine, Settings], tmp_path: Path
) -> None:
    engine, settings = demo_db
    with session_scope(engine) as s:
        suffolk = find_area(session=s, viewer=COMMAND, name="Suffolk")
        assert suffolk is not None
        briefing = build_briefing(
            session=s, viewer=COMMAND, area_id=suffolk, window=FEBRUARY, tz=settings.timezone
        )
        inside = events_in_area(
            session=s, viewer=COMMAND, area_id=suffolk, filters=EventFilter(window=FEBRUARY)
        )
    pdf = write_pdf(briefing.html, tmp_path / "briefing.pdf")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2 and all(p.stat().st_size > 5_000 for p in pages)
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Regional picture: Suffolk" in text
    assert f"Events: {len(inside)}" in text
    assert f"Suspicious: {int((inside['kind'] == 'suspicious').sum())}" in text
    assert briefing.marking == "TLP:AMBER"
    assert text.count("TLP:AMBER — handle according to the marking") >= 2 * len(pages)


def test_partner_briefing_reveals_no_restricted_report(
    demo_db: tuple[Engine, Settings], tmp_path: Path
) -> None:
    engine, settings = demo_db
    with session_scope(engine) as s:
        suffolk = find_area(session=s, viewer=PARTNER, name="Suffolk")
        assert suffolk is not None
        briefing = build_briefing(
            session=s, viewer=PARTNER, area_id=suffolk, window=FEBRUARY, tz=settings.timezone
        )
    assert briefing.marking == "TLP:GREEN" and briefing.totals["suspicious_now"] == 0
    assert "SURVL" not in briefing.html and "TESTSEC" not in briefing.html
