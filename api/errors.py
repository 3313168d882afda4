"""The one exception the read APIs raise to answer with an HTTP status and a JSON message."""

from __future__ import annotations

import flask


class ApiError(Exception):
    """A request the API answers with ``status`` and ``{"error": message}``.

    Parameters
    ----------
    status
        HTTP status (400 bad parameter, 401 no or bad credentials, 403 no capability, 404 unknown).
    message
        What is wrong, for the caller.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# What a client should send, per scheme; both are accepted on every read route.
CHALLENGE = 'Bearer realm="watchfloor", Basic realm="watchfloor", charset="UTF-8"'


def error_response(exc: ApiError) -> flask.Response:
    """Return the JSON answer for ``exc``; a 401 carries the ``WWW-Authenticate`` challenge."""
    resp = flask.make_response(flask.jsonify(error=exc.message, code=exc.status), exc.status)
    if exc.status == 401:
        resp.headers["WWW-Authenticate"] = CHALLENGE
    return resp
