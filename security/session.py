"""Who is asking, for the request being served: the signed-in user, as a :class:`Viewer`.

Flask-Login keeps the user id in Flask's signed session cookie; :mod:`security.web` loads the
user on each request. Callers only ever call :func:`current_viewer`; the command line runs as
``Viewer.system()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import flask_login
from werkzeug.exceptions import Unauthorized

from domain.roles import Viewer
from settings import Settings


@dataclass(frozen=True)
class SignedInUser(flask_login.UserMixin):  # type: ignore[misc]  # untyped base
    """The signed-in user of one request, detached from the database session.

    ``token`` is ``"<user id>.<auth epoch>"``: a password change, reset or disable bumps the
    epoch, so sessions issued before it no longer load.
    """

    token: str
    viewer: Viewer
    must_change_password: bool

    def get_id(self) -> str:
        """Return what Flask-Login stores in the session."""
        return self.token


def current_viewer(settings: Settings | None = None) -> Viewer:
    """Return the viewer of the current request; raise 401 when nobody is signed in."""
    user = flask_login.current_user
    if user is None or not user.is_authenticated:
        raise Unauthorized("sign-in required")
    return user.viewer  # type: ignore[no-any-return]
