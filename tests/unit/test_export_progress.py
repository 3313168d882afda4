"""The export panel's words and link for a job's state."""

from __future__ import annotations

from datetime import UTC, datetime

from store.export_jobs import JobStatus
from ui.filters import export_progress_view

AT = datetime(2026, 12, 2, tzinfo=UTC)


def _status(**kw: object) -> JobStatus:
    values: dict[str, object] = {
        "id": "abc",
        "status": "running",
        "layer": "all",
        "format": "gpkg",
        "rows_done": 12_000,
        "rows_total": 200_000,
        "message": None,
        "filename": None,
        "size_bytes": None,
        "created_at": AT,
        "finished_at": None,
    }
    values.update(kw)
    return JobStatus(**values)  # type: ignore[arg-type]


def test_export_progress_view_running_says_rows_of_total_and_keeps_polling() -> None:
    view = export_progress_view(_status())
    assert view.text == "12,000 of 200,000 rows written…"
    assert (view.value, view.maximum, view.polling, view.link_hidden) == (
        12_000,
        200_000,
        True,
        True,
    )


def test_export_progress_view_counting_before_the_total_is_known() -> None:
    view = export_progress_view(_status(rows_done=0, rows_total=None))
    assert view.polling and "Counting" in view.text


def test_export_progress_view_done_offers_the_file_and_stops_polling() -> None:
    view = export_progress_view(
        _status(
            status="done",
            rows_done=200_000,
            filename="watchfloor-all.gpkg",
            size_bytes=3 * 2**20,
        )
    )
    assert view.href == "/export/jobs/abc/file" and not view.link_hidden and not view.polling
    assert view.text == "Ready: 200,000 of 200,000 rows, 3.0 MiB."
    assert view.link_text == "Download watchfloor-all.gpkg"


def test_export_progress_view_failed_and_unknown_jobs_say_why_in_words() -> None:
    failed = export_progress_view(_status(status="failed", message="The export failed: disk full"))
    assert failed.text == "The export failed: disk full" and not failed.polling
    assert failed.link_hidden
    gone = export_progress_view(None)
    assert "no longer available" in gone.text and not gone.polling
    refused = export_progress_view(None, "unknown format 'docx'")
    assert refused.text == "unknown format 'docx'"


def test_export_progress_view_empty_export_is_ready_with_zero_rows() -> None:
    view = export_progress_view(
        _status(status="done", rows_done=0, rows_total=0, filename="f.gpkg", size_bytes=10)
    )
    assert view.text.startswith("Ready: 0 of 0 rows") and view.maximum == 1 == view.value
