"""Mapping profiles: how one partner's columns and codes become Watchfloor's canonical fields.

A profile is a small YAML file (see ``data_loaders/profiles/``). Values that depend on a row
(severity, sector, tier, subtype) are rule sets: the first rule whose condition holds gives the
value, else the default. Rules are evaluated on whole columns at once, never row by row.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from data_loaders.errors import ProfileError
from domain.vocab import HANDLING_CAVEATS, SAR_CATEGORIES, SECTORS

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"

ProfileKind = Literal["suspicious", "incident", "mixed", "site"]
Scalar = str | int | float


class Condition(BaseModel):
    """A test on one source column; exactly one of the comparisons is given."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    column: str
    equals: str | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    matches: str | None = None  # a regular expression, case-insensitive, anchored at the start
    gte: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        given = [v is not None for v in (self.equals, self.in_, self.matches, self.gte)]
        if sum(given) != 1:
            raise ValueError("a condition needs exactly one of: equals, in, matches, gte")
        if self.matches is not None:
            re.compile(self.matches)
        return self

    def evaluate(self, frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
        """Return a boolean array: where the condition holds."""
        if self.column not in frame.columns:
            raise ProfileError(f"profile refers to column {self.column!r}, not in the file")
        col = frame[self.column].astype("string").fillna("").str.strip()
        holds: npt.NDArray[np.bool_]
        if self.equals is not None:
            holds = (col.str.upper() == self.equals.upper()).to_numpy(dtype=bool)
        elif self.in_ is not None:
            wanted = {v.upper() for v in self.in_}
            holds = col.str.upper().isin(wanted).to_numpy(dtype=bool)
        elif self.matches is not None:
            holds = col.str.match(self.matches, case=False).fillna(False).to_numpy(dtype=bool)
        else:
            numbers = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
            holds = np.nan_to_num(numbers, nan=-np.inf) >= float(self.gte or 0.0)
        return holds


class Rule(BaseModel):
    """``when`` the condition holds, the value is ``value``."""

    model_config = ConfigDict(extra="forbid")

    when: Condition
    value: Scalar


class RuleSet(BaseModel):
    """A value per row: first matching rule, else the ``column``'s own value, else ``default``."""

    model_config = ConfigDict(extra="forbid")

    default: Scalar | None = None
    column: str | None = None
    rules: list[Rule] = []

    def evaluate(self, frame: pd.DataFrame) -> pd.Series:
        """Return one value per row of ``frame`` (object dtype, ``None`` where nothing applies)."""
        if self.column is not None:
            if self.column not in frame.columns:
                raise ProfileError(f"profile refers to column {self.column!r}, not in the file")
            base = frame[self.column].astype("string").str.strip().replace("", pd.NA)
            values = base.astype(object).where(base.notna(), self.default)
        else:
            values = pd.Series([self.default] * len(frame), index=frame.index, dtype=object)
        # Apply rules last to first so the first matching rule wins.
        for rule in reversed(self.rules):
            values = values.mask(rule.when.evaluate(frame), rule.value)
        return values


class Exclusion(BaseModel):
    """Rows matching ``when`` cannot be used; they are quarantined with ``reason``."""

    model_config = ConfigDict(extra="forbid")

    when: Condition
    reason: str


class Profile(BaseModel):
    """One partner feed: its columns, time zone, code crosswalks, caveat and value rules."""

    model_config = ConfigDict(extra="forbid")

    name: str
    source: str
    kind: ProfileKind
    description: str = ""
    timezone: str = "America/New_York"
    time_format: str | None = None
    # canonical field -> source column, or several columns joined (ids) / combined (date + time).
    # Fields: external_id, occurred_at, reported_at, category, description, location_text,
    # name, address, and the position as lat + lon, or location ("(42.3, -71.1)"), or geometry
    # (WKT or GeoJSON text); spatial files need none of the three.
    columns: dict[str, str | list[str]]
    suspicious_categories: dict[str, str] = {}
    category_map: dict[str, str] = {}
    handling: str | dict[str, str] = "TLP:AMBER"
    severity: RuleSet = RuleSet(default=1)
    sector: RuleSet | None = None
    tier: RuleSet | None = None
    subtype: RuleSet | None = None
    exclude: list[Exclusion] = []
    # Suspected swapped latitude/longitude: swap them back (counted in the summary's notes),
    # or quarantine the row.
    swapped_coordinates: Literal["fix", "quarantine"] = "fix"

    @model_validator(mode="after")
    def _check(self) -> Profile:
        bad_codes = set(self.suspicious_categories.values()) - set(SAR_CATEGORIES)
        if bad_codes:
            raise ValueError(f"unknown ISE-SAR codes {sorted(bad_codes)}")
        caveats = [self.handling] if isinstance(self.handling, str) else self.handling.values()
        bad = set(caveats) - set(HANDLING_CAVEATS)
        if bad:
            raise ValueError(f"unknown handling caveats {sorted(bad)}; use {HANDLING_CAVEATS}")
        if self.kind == "site":
            if self.sector is None or self.tier is None:
                raise ValueError("a site profile needs 'sector' and 'tier' rules")
            sectors = {r.value for r in self.sector.rules} | {self.sector.default}
            unknown = {s for s in sectors if s is not None} - set(SECTORS)
            if unknown:
                raise ValueError(f"unknown DHS sectors {sorted(map(str, unknown))}")
        return self

    def handling_for(self, kind: str) -> str:
        """Return the handling caveat given to rows of ``kind``."""
        if isinstance(self.handling, str):
            return self.handling
        return self.handling.get(kind, self.handling.get("default", "TLP:AMBER"))


def load_profile(path: str | Path) -> Profile:
    """Read and validate a mapping profile; a bad one raises :class:`ProfileError` saying why."""
    p = Path(path)
    if not p.exists() and not p.suffix:
        p = PROFILE_DIR / f"{path}.yaml"
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ProfileError(f"no mapping profile at {p}") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"mapping profile {p} is not valid YAML: {exc}") from exc
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(f"mapping profile {p} is invalid:\n{exc}") from exc


def shipped_profiles() -> list[Profile]:
    """Return every profile shipped in ``data_loaders/profiles/``."""
    return [load_profile(p) for p in sorted(PROFILE_DIR.glob("*.yaml"))]


def matching_profile(source: str, kind: str, columns: list[str]) -> Profile | None:
    """Return the shipped profile for ``source`` whose columns the file has, if exactly one fits.

    ``kind`` must be the profile's kind (a ``mixed`` profile fits ``suspicious`` and ``incident``).
    """
    have = set(columns)
    fits = []
    for profile in shipped_profiles():
        kinds = {"suspicious", "incident"} if profile.kind == "mixed" else {profile.kind}
        if profile.source.upper() != source.upper() or kind not in kinds:
            continue
        wanted = {
            c
            for spec in profile.columns.values()
            for c in ([spec] if isinstance(spec, str) else spec)
        }
        if wanted <= have:
            fits.append(profile)
    return fits[0] if len(fits) == 1 else None
