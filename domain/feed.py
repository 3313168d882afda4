"""The live feed's words: how far the "since you last looked" count goes."""

from __future__ import annotations

from typing import Final

# The "since you last looked" count stops here: past it the line says "more than" (an
# unacknowledged page counted every report since on each refresh).
UNSEEN_COUNTED: Final[int] = 10_000
