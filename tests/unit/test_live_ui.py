"""Live desk view helpers and the shipped alert sound."""

from __future__ import annotations

import wave
from datetime import UTC, datetime
from pathlib import Path

from scripts.make_alert_wav import RATE_HZ, write_wav
from store.queries.feed import FeedItem, FlagAlert
from ui.live import alert_children, feed_children, unseen_text

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2023, 3, 8, 2, 30, tzinfo=UTC)


def _item(id_: int, place: str = "12 Main St") -> FeedItem:
    return FeedItem(id_, AT, "suspicious", "SURVL", place, "MSP", "TLP:GREEN")


def test_feed_children_mark_unseen_items_and_show_local_time() -> None:
    rows = feed_children([_item(7, "<b>x</b>"), _item(5)], seen_id=5, tz="America/New_York")
    assert [r.className.split() for r in rows] == [
        ["wf-feed-item", "wf-kind-suspicious", "wf-unseen"],
        ["wf-feed-item", "wf-kind-suspicious"],
    ]
    time_span, category, place, source = rows[0].children
    assert time_span.children == "03-07 21:30"  # 02:30 UTC is the evening before in Boston
    assert (category.children, place.children) == ("SURVL", "<b>x</b>")  # text, never HTML
    assert source.children == "MSP · TLP:GREEN"


def test_unseen_text_and_alert_children() -> None:
    assert unseen_text(0) == "Nothing new since you last looked"
    assert unseen_text(1234) == "1,234 new since you last looked"
    assert unseen_text(10_000) == "10,000 new since you last looked"
    assert unseen_text(10_001) == "More than 10,000 new since you last looked"
    assert alert_children([]) == []
    title, listing = alert_children(
        [
            FlagAlert(3, True, 4.25, 12, "South Station", AT, "c" * 32),
            FlagAlert(4, False, 2.0, 5, "", AT, "d" * 32),
        ]
    )
    assert title.children == "2 flag alerts"
    assert [li.children for li in listing.children] == [
        f"Flag {'c' * 32} escalated: 12 events near South Station (priority 4.2)",
        f"Flag {'d' * 32} new: 5 events (priority 2.0)",
    ]


def test_alert_wav_is_the_scripts_output(tmp_path: Path) -> None:
    made = tmp_path / "alert.wav"
    write_wav(made)
    assert made.read_bytes() == (ROOT / "assets" / "alert.wav").read_bytes()
    with wave.open(str(made)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, RATE_HZ)
        assert 0.3 < wav.getnframes() / RATE_HZ < 1.0
