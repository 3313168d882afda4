"""Watchfloor's command line: one module per group of commands, wiring only.

Every command parses its arguments and calls one function of the project; ``manage.py`` is the
entry point (``python manage.py --help``). Known failures print a message and exit non-zero,
never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from cli import accounts, areas, data, db, detect, products, records

logger = logging.getLogger("watchfloor.cli")
# The order of the groups in --help.
GROUPS = (db, data, detect, products, areas, accounts, records)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="manage.py",
        description="Watchfloor command line (configuration from the environment).",
    )
    parser.add_argument("--log-level", default=None, help="override WATCHFLOOR_LOG_LEVEL")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; known failures print a message and exit non-zero, no traceback."""
    args = build_parser().parse_args(argv)
    try:
        from settings import get_settings

        level = args.log_level or get_settings().log_level
    except ValidationError as exc:
        sys.stderr.write(f"error: invalid configuration:\n{exc}\n")
        return 2
    from ops.logs import configure_logging

    configure_logging(level, get_settings().log_format)
    func: Callable[[argparse.Namespace], int] = args.func
    from jobs.detection import enable_detection_after_ingest

    enable_detection_after_ingest(get_settings())
    from data_loaders.errors import IngestError
    from reports.errors import BriefingError
    from security.users import AccountError
    from store.errors import StoreError

    try:
        return func(args)
    except (IngestError, StoreError, BriefingError, AccountError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: nothing of the running batch was kept\n")
        return 130
    except Exception as exc:  # last resort: a message, the traceback only in the debug log
        logger.debug("command failed", exc_info=True)
        sys.stderr.write(f"error: unexpected {type(exc).__name__}: {exc}\n")
        return 1
