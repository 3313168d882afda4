"""The request edge: bodies over the size limit and text with NUL bytes are refused first.

Notes
-----
- ``Settings.request_limit_bytes`` (``WATCHFLOOR_REQUEST_MAX_BYTES``, by default the largest
  upload as base64 plus 1 MiB) is Flask's ``MAX_CONTENT_LENGTH``: a declared ``Content-Length``
  over it is refused before the gate or any view runs, and a body without one (chunked) is read
  no further than the limit and refused when it reaches it. Routes may set smaller limits of
  their own (the partner API does).
- JSON bodies nested deeper than Python's recursion limit are a 400 (malformed), not a crash.
- A NUL byte never enters: PostgreSQL cannot store or even compare text holding one (SQLite
  can), so a path, query parameter, form field, header or credential with one is a 400 on both
  backends. JSON bodies are checked where they are parsed (callback arguments, partner events).
"""

from __future__ import annotations

from typing import Any

import flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from settings import Settings


class _BoundedJSON(DefaultJSONProvider):
    """Flask's JSON, where a body too deeply nested to decode is malformed (400), not a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            raise ValueError("the JSON is nested too deeply") from exc


def too_large_message(limit: int) -> str:
    """Return what a caller reads when a request is over ``limit`` bytes."""
    return f"The request is larger than this server accepts ({limit / 2**20:,.1f} MB)."


def _has_nul(request: flask.Request) -> bool:
    texts: list[str] = [request.path, *request.headers.values()]
    texts += [t for k, v in request.args.items(multi=True) for t in (k, v)]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        texts += [t for k, v in request.form.items(multi=True) for t in (k, v)]
    auth = request.authorization
    if auth is not None:
        texts += [auth.username or "", auth.password or "", auth.token or ""]
    return any("\x00" in text for text in texts)


def install(server: flask.Flask, settings: Settings) -> None:
    """Give ``server`` the body limit, its 413 answer and the bounded JSON decoder."""
    limit = settings.request_limit_bytes
    server.config["MAX_CONTENT_LENGTH"] = limit
    server.json = _BoundedJSON(server)

    @server.before_request
    def _refuse_large() -> Any:
        request = flask.request
        length = request.content_length
        if length is not None and length > limit:
            raise RequestEntityTooLarge()
        if length is None and request.environ.get("wsgi.input_terminated"):
            # A streamed body: Werkzeug stops reading at the limit and would hand the views a
            # truncated body; read it here (kept for the view) and refuse one that reached it.
            request.get_data(cache=True, parse_form_data=True)
            if getattr(request.stream, "is_exhausted", False):
                raise RequestEntityTooLarge()
        return None

    @server.before_request
    def _refuse_nul() -> Any:
        if _has_nul(flask.request):
            raise BadRequest("text with a NUL byte is not accepted")
        return None

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> flask.Response:
        message = too_large_message(limit)
        if flask.request.is_json or flask.request.path.startswith(("/_dash", "/api/", "/ogc")):
            return flask.make_response(flask.jsonify({"error": message}), 413)
        return flask.make_response(message, 413, {"Content-Type": "text/plain; charset=utf-8"})
