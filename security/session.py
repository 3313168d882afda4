"""Who is asking, for the request being served.

Until sign-in exists (issue #6) every dashboard request is served as a watch officer of the host
agency; the command line runs as the system viewer. Callers only ever call :func:`current_viewer`,
so sign-in slots in here without touching them.
"""

from __future__ import annotations

from security.roles import Role, Viewer
from settings import Settings


def current_viewer(settings: Settings) -> Viewer:
    """Return the viewer of the current dashboard request."""
    return Viewer(username="watch-desk", role=Role.WATCH_OFFICER, agency=settings.host_agency)
