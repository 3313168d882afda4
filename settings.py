"""The one typed settings object, read from the environment (prefix ``WATCHFLOOR_``)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.detection import (
    DEFAULT_CATEGORY_WEIGHTS,
    DEFAULT_KIND_WEIGHTS,
    DEFAULT_RADIUS_M,
    DEFAULT_SECTOR_RADIUS_M,
    DEFAULT_TIER_FACTOR,
)

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_DB_PATH = PROJECT_ROOT / "var" / "watchfloor.sqlite"
PLACEHOLDER_SECRET = "dev-insecure-change-me"


class Settings(BaseSettings):
    """Watchfloor configuration; every field maps to ``WATCHFLOOR_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="WATCHFLOOR_", frozen=True, extra="ignore", populate_by_name=True
    )

    env: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DB_PATH}",
        validation_alias=AliasChoices("WATCHFLOOR_DATABASE_URL", "DATABASE_URL"),
    )
    spatialite_path: str = "mod_spatialite"
    secret_key: str = PLACEHOLDER_SECRET
    host: str = "127.0.0.1"
    port: int = 8050
    log_level: str = "INFO"
    # Map: offline by default. A site with a tile server sets tile_url (an XYZ template) or
    # map_style (a plotly/MapLibre style name or a style URL served on the closed network).
    map_style: str = "white-bg"
    tile_url: str | None = None
    tile_attribution: str = ""
    map_center_lat: float = 42.36
    map_center_lon: float = -71.06
    map_zoom: float = 10.0
    # The center's local time zone: time buckets and the window presets are in it.
    timezone: str = "America/New_York"
    # Finest H3 resolution stored per event; coarser cells derive from it by bit arithmetic.
    h3_store_res: int = 11
    h3_default_res: int = 8
    default_window_days: int = 30
    # Rows outside this area (a GeoJSON of polygons; empty for none) are quarantined on import.
    area_path: Path | None = PROJECT_ROOT / "data" / "areas" / "massachusetts.geojson"
    # Agency of the fusion center running this instance (its staff's home agency).
    host_agency: str = "MA-CFC"
    # Agencies that have delegated their imports to the center (security/write_rights.py): its
    # analysts and administrators may import files for them, chosen from a list in the upload
    # panel, and change only the records of theirs they may see, never lowering a caveat.
    # Comma-separated (or a JSON list), e.g. WATCHFLOOR_IMPORT_DELEGATIONS=BPD,MSP.
    import_delegations: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Load the shipped demo kit when the dashboard starts: unset means "on the embedded
    # SQLite default only", so a PostGIS deployment never gets demo rows by accident.
    seed_demo: bool | None = None
    # Most points sent to the browser per point layer; beyond that the hex layer tells the story.
    max_points: int = 5_000
    # Detection of significant clusters near infrastructure (analytics/hotspots.py, README
    # "Detection"): H3 resolution, window and trailing baseline, k-ring size, FDR level, the
    # fewest window events a neighbourhood needs, event weights and protection radii.
    # Run detection on the latest window after every import that changed events.
    detect_after_ingest: bool = True
    # Seconds between those runs in one process, in a background thread after the batches
    # (jobs/detection.py); 0 runs it inside every batch, before its answer (the command line).
    detect_debounce_s: float = Field(default=0.0, ge=0)
    detect_res: int = 9
    detect_window_days: float = 7.0
    detect_baseline_days: float = 56.0
    detect_k: int = 1
    detect_alpha: float = 0.05
    detect_min_events: int = 4
    detect_kind_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_KIND_WEIGHTS)
    )
    detect_category_weights: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_WEIGHTS)
    )
    detect_sector_radius_m: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_SECTOR_RADIUS_M)
    )
    detect_tier_factor: dict[int, float] = Field(default_factory=lambda: dict(DEFAULT_TIER_FACTOR))
    detect_default_radius_m: float = DEFAULT_RADIUS_M
    # Rows read, validated and written per step of an import: bounds memory whatever the file.
    ingest_chunk_rows: int = Field(default=50_000, ge=1)
    # Largest body the partner API accepts (bytes); larger requests get 413.
    api_max_body_bytes: int = Field(default=5_000_000, ge=1)
    # Request size limits (issue #18): the largest file the Import panel takes (decoded bytes,
    # the browser's limit too), and the largest request body of any route (bytes; larger get
    # 413 before anything parses them). None derives it from the upload limit: the file as
    # base64 in a Dash callback body (4/3 of it) plus 1 MiB for the rest of the request.
    upload_max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    request_max_bytes: int | None = Field(default=None, ge=1)
    # Sign-in and records (issue #6): idle minutes before a session ends, failed sign-ins before
    # an account locks and for how long, password checks per client address per minute (the
    # sign-in form, HTTP Basic and the password form share one count), years before a SAR is
    # due for review, and whether the session cookie is HTTPS-only.
    session_idle_minutes: int = 30
    # Absolute lifetime of a session (issue #18): it ends this many hours after sign-in however
    # active it is (CJIS Security Policy 5.5.5 / 5.6.2: re-authenticate at least every 12 h).
    session_max_hours: float = Field(default=12.0, gt=0)
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    signin_rate_per_minute: int = 10
    sar_review_years: int = 5
    cookie_secure: bool | None = None
    # Cost of a password hash: an argon2-cffi profile (argon2.profiles). The default is RFC 9106's
    # second recommendation (argon2id, t=3, 64 MiB, 4 lanes, ~0.2 s a hash). CHEAPEST exists for
    # the test suite only (each sign-in of a test would otherwise cost that 0.2 s of CPU) and is
    # refused in production. A stored hash names its own parameters, so changing the profile
    # never locks anyone out.
    # Password hashes one process computes at once (issue #18): each costs 64 MiB and ~0.2 s of
    # a core, so without a bound a burst of sign-in attempts starves every other request. A
    # check beyond the bound waits up to password_hash_wait_s for a slot, then answers 503.
    password_hash_slots: int = Field(default=1, ge=1)
    password_hash_wait_s: float = Field(default=2.0, gt=0)
    password_hash_profile: Literal["RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY", "CHEAPEST"] = (
        "RFC_9106_LOW_MEMORY"
    )
    # Shared state between processes (issue #8, #6): a Redis URL such as redis://127.0.0.1:6379/0
    # for the aggregate cache and the sign-in rate limit; unset means in-process only (one worker).
    redis_url: str | None = None
    # Optional OpenID Connect sign-in (issue #6) for agencies with their own identity provider:
    # the issuer URL (its /.well-known/openid-configuration is read), this client's id and
    # secret, and the claim naming the local user (who must exist: roles stay local).
    oidc_issuer: str | None = None
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_username_claim: str = "preferred_username"
    oidc_label: str = "Sign in with your agency"
    # Live watch desk (issue #8): seconds between checks of the data version (one indexed read),
    # and how many of the newest events the feed lists.
    live_poll_seconds: float = Field(default=5.0, gt=0)
    live_feed_items: int = Field(default=20, ge=1, le=500)
    # Production profile (issue #8): gunicorn worker processes and threads per worker (read by
    # gunicorn.conf.py), log lines as JSON objects or text, and the shared aggregate cache:
    # entries kept in-process (without Redis) and how long a Redis entry lives.
    # Two threads a worker: the same requests cost ~1.5x the CPU served 8 at a time by one
    # process; on 2 cores 4 x 2 answered the load bench with a p95 of 0.26-0.89 s, 2 x 8 with
    # 0.55-1.72 s (README, "Threads per worker").
    workers: int = Field(default=4, ge=1)
    threads: int = Field(default=2, ge=1)
    log_format: Literal["text", "json"] = "text"
    cache_max_entries: int = Field(default=256, ge=0)
    cache_ttl_s: int = Field(default=600, ge=1)
    # Writable state beside the database (issue #7): dashboard export files live in
    # VAR_DIR/exports/<job id>/. Several app hosts need it on a shared volume.
    var_dir: Path = PROJECT_ROOT / "var"
    # Dashboard export jobs: rows read and written per step, seconds without a heartbeat after
    # which a running job counts as dead (its process ended), and hours a finished file is kept.
    export_chunk_rows: int = Field(default=10_000, ge=1)
    export_stale_s: float = Field(default=60.0, gt=0)
    export_retention_hours: float = Field(default=24.0, gt=0)
    # How old (seconds) the dashboard's in-process snapshot of the events may be before the data
    # version is read again (store/columnar.py): under a stream of writes each worker refreshes
    # at most this often, and cached aggregates are shared per snapshot. 0: read it every time.
    snapshot_max_lag_s: float = Field(
        default=1.0,
        ge=0,
        validation_alias=AliasChoices("WATCHFLOOR_SNAPSHOT_MAX_LAG", "snapshot_max_lag_s"),
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        # Bare postgres:// (Heroku style) and psycopg2 URLs all mean the psycopg 3 driver here.
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("import_delegations", mode="before")
    @classmethod
    def _split_agencies(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("h3_store_res", "h3_default_res", "detect_res")
    @classmethod
    def _check_res(cls, value: int) -> int:
        if not 0 <= value <= 15:
            raise ValueError(f"H3 resolution must be in 0..15, got {value}")
        return value

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.env == "production" and self.secret_key in ("", PLACEHOLDER_SECRET):
            raise ValueError("WATCHFLOOR_SECRET_KEY must be set to a real secret in production")
        if self.env == "production" and self.password_hash_profile == "CHEAPEST":
            raise ValueError(
                "WATCHFLOOR_PASSWORD_HASH_PROFILE=CHEAPEST is for tests, not production"
            )
        if self.h3_default_res > self.h3_store_res:
            raise ValueError("h3_default_res must not be finer than h3_store_res")
        if self.detect_res > self.h3_store_res:
            raise ValueError("detect_res must not be finer than h3_store_res")
        return self

    @property
    def secret_key_is_placeholder(self) -> bool:
        """Whether no real secret key is configured."""
        return self.secret_key in ("", PLACEHOLDER_SECRET)

    @property
    def export_dir(self) -> Path:
        """Directory of the dashboard's export jobs (one sub-directory per job)."""
        return self.var_dir / "exports"

    @property
    def request_limit_bytes(self) -> int:
        """The largest request body any route accepts (``request_max_bytes`` or derived)."""
        if self.request_max_bytes is not None:
            return self.request_max_bytes
        return -(-self.upload_max_bytes * 4 // 3) + 1024 * 1024

    @property
    def is_sqlite(self) -> bool:
        """Whether the store is the embedded SQLite + SpatiaLite file."""
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment."""
    return Settings()
