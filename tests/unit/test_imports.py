"""The house's walls: the import contract and the types hold; settings loads no heavy library."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

from settings import PROJECT_ROOT

HEAVY = ("numpy", "pandas", "scipy", "shapely", "sqlalchemy", "geoalchemy2", "dash", "flask")


def _loaded_by(statement: str) -> set[str]:
    code = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    return {m.split(".")[0] for m in json.loads(out.stdout)}


def test_settings_loads_no_data_or_web_library() -> None:
    assert not _loaded_by("import settings") & set(HEAVY)


def test_the_flag_rules_load_no_database_or_web_framework() -> None:
    loaded = _loaded_by("import settings, analytics.flags")
    assert not loaded & {"sqlalchemy", "geoalchemy2", "dash", "flask", "store", "security"}


def test_the_import_contract_holds() -> None:
    """pyproject.toml [tool.importlinter]: a new backwards import fails here (and make lint)."""
    linter = PROJECT_ROOT / ".venv" / "bin" / "lint-imports"
    command = [str(linter)] if linter.exists() else [sys.executable, "-m", "importlinter.cli"]
    out = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def _typed() -> list[str]:
    """The Makefile's ``TYPED``: what ``make typecheck`` checks (one list for both)."""
    text = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(x for x in text.splitlines() if x.startswith("TYPED :="))
    return line.removeprefix("TYPED :=").split()


def test_every_room_is_type_checked() -> None:
    """``TYPED`` is every room of the import contract plus the top-level modules: a new room
    cannot be left out of the type check."""
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    rooms = set(config["tool"]["importlinter"]["root_packages"])
    assert set(_typed()) == rooms | {"settings.py", "app.py", "manage.py"}


def test_the_code_type_checks() -> None:
    """mypy on the whole application, strict on domain/, rules/, analytics/ (pyproject.toml)."""
    mypy = PROJECT_ROOT / ".venv" / "bin" / "mypy"
    command = [str(mypy)] if mypy.exists() else [sys.executable, "-m", "mypy"]
    out = subprocess.run([*command, *_typed()], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
