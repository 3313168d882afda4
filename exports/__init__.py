"""Exports: filtered layers written to analysts' formats with their handling metadata."""
