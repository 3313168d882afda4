"""Errors raised while reading, mapping or ingesting partner data."""

from __future__ import annotations

from pathlib import Path


class IngestError(ValueError):
    """A file or profile cannot be used at all; the message says why and what to do."""


class ProfileError(IngestError):
    """A mapping profile is invalid or does not fit the file."""


def named_only(text: str, path: Path) -> str:
    """Return ``text`` (a library's message about ``path``) naming the file, not its folder.

    An upload is read from a server temporary folder; its path is nothing the analyst needs
    and something an attacker would like (issue #18).
    """
    return text.replace(str(path), path.name).replace(str(path.parent), "")
