"""What a callback needs from the running app: its settings, engine, viewer and map config."""

from __future__ import annotations

import dash
import flask
from sqlalchemy import Engine

from domain.roles import Viewer
from layers.view import MapConfig
from security.session import current_viewer
from settings import Settings
from store.cache import SharedCache, shared_cache
from store.columnar import with_snapshot_lag
from store.engine import get_engine

SETTINGS_KEY = "WATCHFLOOR_SETTINGS"


def app_settings() -> Settings:
    """Return the settings the running app was created with."""
    return flask.current_app.config[SETTINGS_KEY]  # type: ignore[no-any-return]


def engine() -> Engine:
    """Return the engine of the app's database; its snapshot may lag ``snapshot_max_lag_s``."""
    s = app_settings()
    return with_snapshot_lag(get_engine(s.database_url, s.spatialite_path), s.snapshot_max_lag_s)


def viewer() -> Viewer:
    """Return who is asking."""
    return current_viewer(app_settings())


def asset_url(path: str) -> str:
    """Return the URL of ``path`` under ``assets/`` (with the app's path prefix)."""
    url: str = dash.get_asset_url(path)  # type: ignore[no-untyped-call]  # dash: unannotated
    return url


def map_config() -> MapConfig:
    """Return the static map configuration, with the offline basemap served from assets."""
    s = app_settings()
    return MapConfig(
        center_lat=s.map_center_lat,
        center_lon=s.map_center_lon,
        zoom=s.map_zoom,
        style=s.map_style,
        basemap_url=asset_url("basemap/counties.geojson"),
        tile_url=s.tile_url,
        tile_attribution=s.tile_attribution,
    )


def cache() -> SharedCache | None:
    """Return the shared aggregate cache (Redis when configured), or ``None`` when it is off."""
    s = app_settings()
    if not s.redis_url and s.cache_max_entries == 0:
        return None
    return shared_cache(
        secret=s.secret_key,
        redis_url=s.redis_url,
        max_entries=s.cache_max_entries,
        ttl_s=s.cache_ttl_s,
    )
