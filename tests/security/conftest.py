"""The red-team suite: each finding of issue #18 replayed through the real app, both backends.

The database fixtures are the integration tier's (a fresh migrated database per test on
SpatiaLite and PostGIS, or the demo kit per module): imported here so each file can use them.
"""

from __future__ import annotations

from tests.integration.conftest import (  # noqa: F401  (fixtures, registered by import)
    BACKENDS,
    db_url,
    demo_db,
    engine,
    postgis_demo_template,
    settings,
    spatialite_demo_template,
    spatialite_template,
)
