"""Fixed vocabularies stored in the database: event kinds, handling caveats, sectors."""

from __future__ import annotations

from typing import Final, Literal

EventKind = Literal["suspicious", "incident"]
EVENT_KINDS: Final[tuple[EventKind, ...]] = ("suspicious", "incident")

# Traffic Light Protocol 2.0 plus the US "law enforcement sensitive" caveat, least to most
# restrictive. The visibility rules live in rules/visibility.py.
HANDLING_CAVEATS: Final[tuple[str, ...]] = (
    "TLP:CLEAR",
    "TLP:GREEN",
    "TLP:AMBER",
    "LES",
    "TLP:AMBER+STRICT",
    "TLP:RED",
)

# ISE-SAR Functional Standard behaviour categories (NIEM sar codes), see docs/domain.md.
SAR_CATEGORIES: Final[dict[str, str]] = {
    "INTRSN": "Breach / Attempted Intrusion",
    "MISREP": "Misrepresentation",
    "THEFT": "Theft / Loss / Diversion",
    "SABOT": "Sabotage / Tampering / Vandalism",
    "CYBER": "Cyberattack",
    "THREAT": "Expressed or Implied Threat",
    "AVIATION": "Aviation Activity",
    "ELICIT": "Eliciting Information",
    "TESTSEC": "Testing or Probing of Security",
    "RECRUT": "Recruiting / Financing",
    "PHOTO": "Photography",
    "SURVL": "Observation / Surveillance",
    "MATRLS": "Materials Acquisition / Storage",
    "EXPERT": "Acquisition of Expertise",
    "WPNS": "Weapons Collection / Discovery",
    "SECTOR": "Sector-Specific Incident",
}

# PPD-21 critical-infrastructure sectors.
SECTORS: Final[tuple[str, ...]] = (
    "Chemical",
    "Commercial Facilities",
    "Communications",
    "Critical Manufacturing",
    "Dams",
    "Defense Industrial Base",
    "Emergency Services",
    "Energy",
    "Financial Services",
    "Food and Agriculture",
    "Government Facilities",
    "Healthcare and Public Health",
    "Information Technology",
    "Nuclear Reactors, Materials and Waste",
    "Transportation Systems",
    "Water and Wastewater Systems",
)
