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

# Other names partners' files give a sector (lower case, "&" written "and"), mapped to the
# PPD-21 name. Exact PPD-21 names match whatever their case; any other text is not a sector.
SECTOR_SYNONYMS: Final[dict[str, str]] = {
    "chemical sector": "Chemical",
    "chemicals": "Chemical",
    "commercial": "Commercial Facilities",
    "communication": "Communications",
    "critical manufacturing sector": "Critical Manufacturing",
    "manufacturing": "Critical Manufacturing",
    "dam": "Dams",
    "defense": "Defense Industrial Base",
    "defense industrial base sector": "Defense Industrial Base",
    "dib": "Defense Industrial Base",
    "emergency": "Emergency Services",
    "emergency services sector": "Emergency Services",
    "energy sector": "Energy",
    "financial": "Financial Services",
    "financial services sector": "Financial Services",
    "food and agriculture sector": "Food and Agriculture",
    "agriculture": "Food and Agriculture",
    "government": "Government Facilities",
    "government facilities sector": "Government Facilities",
    "government services and facilities": "Government Facilities",  # NSM-22 (2024) name
    "health": "Healthcare and Public Health",
    "healthcare": "Healthcare and Public Health",
    "health care": "Healthcare and Public Health",
    "health care and public health": "Healthcare and Public Health",
    "healthcare and public health sector": "Healthcare and Public Health",
    "public health": "Healthcare and Public Health",
    "it": "Information Technology",
    "information technology sector": "Information Technology",
    "nuclear": "Nuclear Reactors, Materials and Waste",
    "nuclear reactors materials and waste": "Nuclear Reactors, Materials and Waste",
    "nuclear reactors, materials, and waste": "Nuclear Reactors, Materials and Waste",
    "transportation": "Transportation Systems",
    "transportation systems sector": "Transportation Systems",
    "transport": "Transportation Systems",
    "water": "Water and Wastewater Systems",
    "water and wastewater": "Water and Wastewater Systems",
    "water and wastewater systems sector": "Water and Wastewater Systems",
    "water sector": "Water and Wastewater Systems",
}
