"""Detection defaults: how much each kind and category of report weighs, and protection radii.

Plain data, read by ``settings`` (each is a setting) and by the detector in ``analytics`` when a
caller gives none (README "Detection", docs/domain.md).
"""

from __future__ import annotations

from collections.abc import Mapping

# Defaults: suspicious reports count five times an ordinary incident; categories that point at
# pre-operational planning (surveillance, photography, probing, breach, eliciting) three times.
DEFAULT_KIND_WEIGHTS: Mapping[str, float] = {"suspicious": 1.0, "incident": 0.2}
DEFAULT_CATEGORY_WEIGHTS: Mapping[str, float] = {
    "SURVL": 3.0,
    "PHOTO": 3.0,
    "TESTSEC": 3.0,
    "INTRSN": 3.0,
    "ELICIT": 2.5,
    "AVIATION": 2.0,
    "SABOT": 2.0,
    "THREAT": 1.5,
    "WPNS": 1.5,
}

# Protection radius by PPD-21 sector (metres) for a tier-2 site. Larger where an attack would have
# regional consequences (nuclear, energy, chemical, dams), small for ordinary commercial sites.
DEFAULT_SECTOR_RADIUS_M: Mapping[str, float] = {
    "Nuclear Reactors, Materials and Waste": 5000.0,
    "Energy": 2000.0,
    "Chemical": 2000.0,
    "Dams": 2000.0,
    "Water and Wastewater Systems": 1500.0,
    "Defense Industrial Base": 1500.0,
    "Transportation Systems": 1000.0,
    "Government Facilities": 800.0,
    "Healthcare and Public Health": 800.0,
    "Communications": 800.0,
    "Emergency Services": 500.0,
    "Financial Services": 500.0,
    "Commercial Facilities": 300.0,
}
DEFAULT_RADIUS_M = 500.0  # any sector not listed
# Tier 1 (most critical) sites are watched over a wider area.
DEFAULT_TIER_FACTOR: Mapping[int, float] = {1: 1.5, 2: 1.0, 3: 0.75}
