"""One report for every benchmark: a printed table and var/bench/latest.json.

``latest.json`` is one JSON object ``{"figure name": {"value": ..., "unit": ...}}``; each run of
a benchmark replaces its own figures and keeps the others'.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LATEST = ROOT / "var" / "bench" / "latest.json"


class Report:
    """Collects figures, prints each as it comes, and saves them all at the end."""

    def __init__(self, path: Path = LATEST) -> None:
        self.path = path
        self.figures: dict[str, dict[str, Any]] = {}

    def record(self, name: str, value: float | int, unit: str, **extra: Any) -> None:
        """Record one figure (and print it)."""
        entry: dict[str, Any] = {
            "value": round(value, 6) if isinstance(value, float) else value,
            "unit": unit,
            **extra,
        }
        self.figures[name] = entry
        sys.stdout.write(f"  {name:<64} {entry['value']:>14} {unit}\n")
        sys.stdout.flush()

    def save(self) -> None:
        """Merge the figures into ``latest.json``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existing: dict[str, Any] = {}
        if self.path.exists():
            existing = json.loads(self.path.read_text())
        existing.update(self.figures)
        existing["_machine"] = {
            "value": f"{platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
            "unit": "",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
