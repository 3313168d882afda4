"""Roles and the viewer (who is asking) that every query takes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The roles of Watchfloor users; ``SYSTEM`` is the command line and maintenance jobs."""

    WATCH_OFFICER = "watch_officer"
    COMMAND = "command"
    ANALYST = "analyst"
    ADMINISTRATOR = "administrator"
    PARTNER = "partner"
    # Reviews the whole audit trail (the center's privacy officer); not center staff, so on the
    # map it sees what a partner of its agency sees.
    AUDITOR = "auditor"
    SYSTEM = "system"


# Staff of the fusion center itself, as opposed to users from outside partner agencies.
CENTER_ROLES = frozenset({Role.WATCH_OFFICER, Role.COMMAND, Role.ANALYST, Role.ADMINISTRATOR})


@dataclass(frozen=True)
class Viewer:
    """Who is asking: every query, count and export is computed for one viewer."""

    username: str
    role: Role
    agency: str

    @classmethod
    def system(cls) -> Viewer:
        """The viewer of maintenance jobs (migrations, seeding, health counts)."""
        return cls(username="system", role=Role.SYSTEM, agency="*")

    @property
    def is_center_staff(self) -> bool:
        """Whether the viewer works for the fusion center (not a partner agency)."""
        return self.role in CENTER_ROLES
