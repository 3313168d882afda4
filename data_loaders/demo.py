"""The shipped demo kit: which file goes in with which profile."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Engine

from data_loaders.areas import load_area
from data_loaders.ingest import BatchSummary, ingest_path
from data_loaders.profiles import load_profile
from settings import PROJECT_ROOT, Settings
from store.engine import session_scope

logger = logging.getLogger(__name__)

DEMO_DIR = PROJECT_ROOT / "data" / "demo"
# (file, profile) in load order: sites first, so the map has its context when events arrive.
DEMO_KIT: tuple[tuple[str, str], ...] = (
    ("new_england_hospitals_hifld.csv", "hifld_hospitals"),
    ("new_england_power_plants_eia.csv", "eia_power_plants"),
    ("new_england_airports.csv", "faa_airports"),
    ("mbta_rapid_transit_stations.geojson", "mbta_stations"),
    ("boston_police_stations.geojson", "bpd_stations"),
    ("boston_crime_incidents_2023q1.csv", "bpd_incidents"),
)


def seed_demo_areas(engine: Engine) -> int:
    """Load the Massachusetts counties as regions and the demo storms as hazards (idempotent)."""
    from data_loaders.hazards import import_hurdat2, import_regions

    regions = import_regions(
        engine,
        PROJECT_ROOT / "data" / "areas" / "massachusetts.geojson",
        subtype="county",
        name_field="NAME",
        id_field="GEO_ID",
        source="CENSUS",
    )
    hazards = import_hurdat2(engine, DEMO_DIR / "hurdat2_selected_storms.txt")
    return len(regions) + len(hazards)


def seed_demo(engine: Engine, settings: Settings, demo_dir: Path = DEMO_DIR) -> list[BatchSummary]:
    """Load every demo file once (a re-run adds nothing) and create the missing demo users."""
    area = load_area(str(settings.area_path)) if settings.area_path else None
    summaries = []
    for filename, profile_name in DEMO_KIT:
        summaries.append(
            ingest_path(
                engine,
                demo_dir / filename,
                load_profile(profile_name),
                area=area,
                store_res=settings.h3_store_res,
                skip_if_loaded=True,
            )
        )
    logger.info("demo areas: %d regions and hazards", seed_demo_areas(engine))
    from security.users import ensure_demo_users

    if settings.env == "production":  # a published password has no place in production
        logger.warning("demo data loaded in production: demo users NOT created")
        return summaries
    with session_scope(engine) as session:
        made = ensure_demo_users(session=session, host_agency=settings.host_agency)
    if made:
        logger.info("demo users created (password in README): %s", ", ".join(made))
    return summaries
