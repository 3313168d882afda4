"""Logging set up once per process: text or JSON lines, each with the request's id."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import TYPE_CHECKING

import flask
from pythonjsonlogger.json import JsonFormatter

if TYPE_CHECKING:
    from flask import Flask

logger = logging.getLogger("watchfloor.access")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s:%(lineno)d [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(lineno)d %(process)d %(request_id)s %(message)s"
# A caller's X-Request-ID is kept when it is a plain token (a proxy's id), never echoed raw.
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdFilter(logging.Filter):
    """Give every record the id of the request being served (``-`` outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = flask.g.get("request_id", "-") if flask.has_request_context() else "-"
        return True


def configure_logging(level: str, fmt: str = "text") -> None:
    """Send every log record to stderr, as text or as one JSON object per line.

    Parameters
    ----------
    level
        Logging level name (``settings.log_level``).
    fmt
        ``"json"`` for structured lines (``settings.log_format``), else text.
    """
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                JSON_FIELDS,
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def install_request_ids(server: Flask) -> None:
    """Give each request an id (``X-Request-ID``) and log one line per request when it ends.

    Install it before any other ``before_request`` hook so that even refused requests have one.
    """

    @server.before_request
    def _start() -> None:
        given = flask.request.headers.get("X-Request-ID", "")
        flask.g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        flask.g.request_started = time.perf_counter()

    @server.after_request
    def _finish(resp: flask.Response) -> flask.Response:
        request_id = flask.g.get("request_id")
        if request_id:
            resp.headers["X-Request-ID"] = request_id
        started = flask.g.get("request_started")
        if started is not None:
            # The path only: query strings may carry filter values (never logged above DEBUG).
            logger.info(
                "%s %s %d",
                flask.request.method,
                flask.request.path,
                resp.status_code,
                extra={
                    "method": flask.request.method,
                    "path": flask.request.path,
                    "status": resp.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        return resp
