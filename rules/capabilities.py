"""What each role may do, and the ``require`` check every callback and route calls."""

from __future__ import annotations

from enum import StrEnum

from werkzeug.exceptions import Forbidden

from domain.roles import Role, Viewer


class Capability(StrEnum):
    """The things a user can be allowed to do."""

    VIEW_MAP = "view_map"
    VIEW_DETAILS = "view_details"
    MANAGE_FLAGS = "manage_flags"
    IMPORT = "import"
    EXPORT = "export"
    ADMINISTER = "administer"
    # The audit log pages: who did what, when, with what outcome.
    READ_AUDIT = "read_audit"
    # The audit log's objects and details too (file names, categories, filters, extents: they
    # describe other agencies' restricted material), kept to the auditor (separation of duties).
    AUDIT_DETAILS = "audit_details"


C = Capability
# The capability matrix (README "Roles and capabilities"). What a capability shows is still cut
# down to the viewer's visible events by rules.visibility.
MATRIX: dict[Role, frozenset[Capability]] = {
    Role.WATCH_OFFICER: frozenset({C.VIEW_MAP, C.VIEW_DETAILS, C.MANAGE_FLAGS}),
    Role.COMMAND: frozenset({C.VIEW_MAP, C.VIEW_DETAILS, C.MANAGE_FLAGS, C.EXPORT}),
    Role.ANALYST: frozenset({C.VIEW_MAP, C.VIEW_DETAILS, C.MANAGE_FLAGS, C.IMPORT, C.EXPORT}),
    Role.ADMINISTRATOR: frozenset({C.VIEW_MAP, C.IMPORT, C.ADMINISTER, C.READ_AUDIT}),
    Role.PARTNER: frozenset({C.VIEW_MAP, C.VIEW_DETAILS}),
    Role.AUDITOR: frozenset({C.VIEW_MAP, C.READ_AUDIT, C.AUDIT_DETAILS}),
    Role.SYSTEM: frozenset(Capability),
}


def can(viewer: Viewer, capability: Capability) -> bool:
    """Return whether ``viewer``'s role grants ``capability``."""
    return capability in MATRIX.get(viewer.role, frozenset())


def require(capability: Capability, viewer: Viewer) -> Viewer:
    """Return ``viewer`` or raise 403 Forbidden when its role lacks ``capability``.

    Callbacks and routes call this first (with the request's viewer,
    :func:`security.session.current_viewer`), so a hidden button is never the only guard.
    """
    if not can(viewer, capability):
        raise Forbidden(f"{viewer.role} may not {capability}")
    return viewer
