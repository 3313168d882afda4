"""Errors raised while reading, mapping or ingesting partner data."""

from __future__ import annotations


class IngestError(ValueError):
    """A file or profile cannot be used at all; the message says why and what to do."""


class ProfileError(IngestError):
    """A mapping profile is invalid or does not fit the file."""
