"""Watchfloor: build the Dash app, register callbacks, expose ``server`` for gunicorn.

``python app.py`` migrates the database, loads the demo kit on first run of the embedded default,
and serves the dashboard on http://127.0.0.1:8050.
"""

from __future__ import annotations

import logging
import threading
from functools import lru_cache
from typing import Any

import flask
import flask_login
from dash import Dash

from api.export import register_export_api
from api.ogc import register_ogc
from callbacks._context import SETTINGS_KEY
from callbacks._guard import guard_callbacks
from data_loaders.api import register_api
from jobs.detection import enable_detection_after_ingest
from ops.health import register_probes
from ops.logs import configure_logging as _configure_logging
from ops.logs import install_request_ids
from rules.capabilities import Capability, can
from security import limits, web
from settings import PROJECT_ROOT, Settings, get_settings
from store.columnar import warm_cache
from store.engine import backend_name, get_engine, session_scope
from store.migrate import schema_version
from store.queries import table_counts
from ui import shell
from web.downloads import register_downloads

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Dash:
    """Return the Dash app for ``settings`` (the environment's when omitted)."""
    settings = settings or get_settings()
    app = Dash(
        __name__,
        title="Watchfloor",
        update_title="",  # falsy: the tab title stays while callbacks run (dash's own doc)
        assets_folder=str(PROJECT_ROOT / "assets"),
        serve_locally=True,  # air-gapped: every script and style comes from this server
    )
    app.server.config[SETTINGS_KEY] = settings
    install_request_ids(app.server)  # first: even refused requests get an id and a log line
    limits.install(app.server, settings)  # then: a body over the limit is refused unread
    app.layout = lambda: shell.layout(settings, viewer=_signed_in_viewer())
    app.server.add_url_rule("/healthz", "healthz", _healthz)
    register_probes(
        app.server, get_engine(settings.database_url, settings.spatialite_path), settings
    )
    register_api(app.server, settings)
    register_downloads(app.server, settings)
    register_export_api(app.server, settings)  # GET /api/v1/export
    register_ogc(app.server, settings)  # OGC API - Features under /ogc
    enable_detection_after_ingest(settings)
    _attach_callbacks(app)
    web.install(app, settings)  # sign-in, the gate in front of every route, security headers

    return app


_CALLBACKS: list[tuple[dict[str, Any], list[dict[str, Any]], list[str]]] = []


def _attach_callbacks(app: Dash) -> None:
    """Give ``app`` every ``dash.callback`` of the package.

    Dash moves module-level callbacks into the first app that serves a request and clears them,
    so a second app in the same process (tests on both backends) would have none; they are
    taken once here and copied into every app.
    """
    from dash import _callback

    import callbacks  # noqa: F401  (module-level dash.callback registrations)

    if not _CALLBACKS:
        _CALLBACKS.append(
            (
                dict(_callback.GLOBAL_CALLBACK_MAP),
                list(_callback.GLOBAL_CALLBACK_LIST),
                list(_callback.GLOBAL_INLINE_SCRIPTS),  # clientside callbacks' code
            )
        )
        _callback.GLOBAL_CALLBACK_MAP.clear()
        _callback.GLOBAL_CALLBACK_LIST.clear()
        _callback.GLOBAL_INLINE_SCRIPTS.clear()
    callback_map, callback_list, inline_scripts = _CALLBACKS[0]
    app.callback_map.update(callback_map)
    guard_callbacks(app.callback_map)  # arguments of the declared types only (issue #18)
    app._callback_list.extend(callback_list)
    app._inline_scripts.extend(inline_scripts)


def _signed_in_viewer() -> Any:
    user = flask_login.current_user if flask.has_request_context() else None
    return user.viewer if user is not None and user.is_authenticated else None


def _healthz() -> flask.Response:
    # Liveness for load balancers without sign-in; row counts are volume information (how many
    # reports exist, restricted ones included), so only a signed-in administrator gets them.
    settings: Settings = flask.current_app.config[SETTINGS_KEY]
    engine = get_engine(settings.database_url, settings.spatialite_path)
    body: dict[str, Any] = {"status": "ok", "backend": backend_name(engine)}
    viewer = _signed_in_viewer()
    try:
        body["schema_version"] = schema_version(engine)
        if viewer is not None and can(viewer, Capability.ADMINISTER):
            with session_scope(engine) as session:
                body["counts"] = table_counts(session=session)
    except Exception as exc:  # report, don't crash: this is what monitoring reads
        logger.exception("health check failed")
        body.update(status="error", error=type(exc).__name__)
        return flask.make_response(flask.jsonify(body), 503)
    return flask.jsonify(body)


def configure_logging(level: str, fmt: str = "text") -> None:
    """Configure logging once (``ops.logs``): text or JSON lines with the request id."""
    _configure_logging(level, fmt)


@lru_cache(maxsize=1)
def _default_app() -> Dash:
    return create_app()


def __getattr__(name: str) -> Any:
    # `gunicorn app:server` and `app.app` build the default app on first use, not at import.
    if name == "server":
        return _default_app().server
    if name == "app":
        return _default_app()
    raise AttributeError(name)


def main() -> None:
    """Prepare the database and serve the dashboard with the development server."""
    from jobs.bootstrap import prepare_database

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    engine = get_engine(settings.database_url, settings.spatialite_path)
    prepare_database(engine, settings)
    threading.Thread(target=warm_cache, args=(engine,), name="warm-cache", daemon=True).start()
    dash_app = _default_app()
    logger.info("Watchfloor on http://%s:%d", settings.host, settings.port)
    dash_app.run(host=settings.host, port=settings.port, debug=False)


if __name__ == "__main__":
    main()
