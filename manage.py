"""Watchfloor's command line: ``python manage.py --help``. The commands live in ``cli/``."""

from __future__ import annotations

import sys

from cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
