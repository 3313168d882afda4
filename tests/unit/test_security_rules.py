"""Pure security rules: the capability matrix matches the README, passwords, limits, CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from pydantic import ValidationError

from domain.roles import Role, Viewer
from rules.capabilities import MATRIX, Capability, can
from security.audit import to_csv
from security.passwords import hash_password, policy_problem, verify_password
from settings import PROJECT_ROOT, Settings
from store.models import AuditEntry

README_ROLES = ("watch officer", "command", "analyst", "administrator", "partner", "auditor")
README_CAPS = {
    "view map": Capability.VIEW_MAP,
    "view event details": Capability.VIEW_DETAILS,
    "manage flags": Capability.MANAGE_FLAGS,
    "import": Capability.IMPORT,
    "export": Capability.EXPORT,
    "administer": Capability.ADMINISTER,
    "read the audit log": Capability.READ_AUDIT,
    "audit log objects and details": Capability.AUDIT_DETAILS,
}


def test_readme_capability_table_is_what_the_server_enforces() -> None:
    text = (PROJECT_ROOT / "README.md").read_text()
    header = "| capability | " + " | ".join(README_ROLES) + " |"
    rows = text.split(header, 1)[1].split("\n\n", 1)[0].strip().splitlines()[1:]
    seen = set()
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = re.sub(r" \(.*\)$", "", cells[0])
        cap = README_CAPS[name]
        seen.add(cap)
        for role_label, mark in zip(README_ROLES, cells[1:], strict=True):
            role = Role(role_label.replace(" ", "_"))
            assert (mark == "✓") == can(Viewer("u", role, "A"), cap), (name, role_label)
    assert seen == set(Capability)
    assert MATRIX[Role.SYSTEM] == frozenset(Capability)


def test_passwords_hash_verify_and_policy() -> None:
    h = hash_password("a long passphrase")
    assert h.startswith("$argon2id$") and h != hash_password("a long passphrase")  # salted
    assert verify_password(h, "a long passphrase")
    assert not verify_password(h, "a long passphrasE")
    assert not verify_password(None, "anything")  # unknown user: checked against a dummy
    assert not verify_password("not a hash", "x")
    assert policy_problem("short", "bob")
    assert policy_problem("bob-is-my-password", "bob")
    assert policy_problem("twelve chars", "bob") is None


def test_password_hashes_cost_rfc_9106_by_default_and_cheap_only_outside_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from argon2 import extract_parameters, profiles

    from security import passwords
    from settings import get_settings

    cheap = hash_password("a passphrase")  # the suite's profile (tests/conftest.py)
    assert extract_parameters(cheap) == profiles.CHEAPEST
    # What a deployment gets when it sets nothing: hashed through the same function.
    monkeypatch.delenv("WATCHFLOOR_PASSWORD_HASH_PROFILE")
    assert Settings().password_hash_profile == "RFC_9106_LOW_MEMORY"
    get_settings.cache_clear()
    passwords._hasher.cache_clear()
    try:
        production = hash_password("a passphrase")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        passwords._hasher.cache_clear()
    assert production.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    # A stored hash names its own cost: changing the profile locks nobody out.
    assert verify_password(production, "a passphrase") and verify_password(cheap, "a passphrase")
    assert extract_parameters(hash_password("x" * 12)) == profiles.CHEAPEST  # restored
    monkeypatch.delenv("WATCHFLOOR_PASSWORD_HASH_PROFILE")
    with pytest.raises(ValidationError, match="CHEAPEST is for tests"):
        Settings(env="production", secret_key="s" * 32, password_hash_profile="CHEAPEST")
    assert Settings(env="production", secret_key="s" * 32).password_hash_profile == (
        "RFC_9106_LOW_MEMORY"
    )


def test_audit_csv_neutralises_formulas() -> None:
    row = AuditEntry(
        id=1,
        username="=HYPERLINK(1)",
        agency="A",
        action="signin",
        object="-x",
        outcome="denied",
        details=None,
    )
    row.at = None  # type: ignore[assignment]
    parsed = list(csv.DictReader(io.StringIO(to_csv([row]))))
    assert parsed[0]["username"] == "'=HYPERLINK(1)" and parsed[0]["object"] == "'-x"


def test_production_refuses_the_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHFLOOR_PASSWORD_HASH_PROFILE")  # the suite's: refused in production
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(env="production")
    assert Settings(env="production", secret_key="s" * 40).secret_key == "s" * 40
