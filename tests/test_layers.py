"""Layers point down only, and only resolvers/authz.py can mint Grants."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["api", "schema", "resolvers", "persistence", "integrations", "crypto"]
# What each layer must never import (docs/architecture.md, "Layers").
FORBIDDEN = {
    "crypto": {"api", "schema", "resolvers", "persistence", "integrations"},
    "persistence": {"api", "schema", "resolvers", "integrations"},
    "integrations": {"api", "schema", "resolvers"},
    "resolvers": {"api", "schema"},
    "schema": {"api", "persistence"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def sources(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


def test_no_layer_imports_upward() -> None:
    violations = [
        f"{path.relative_to(ROOT)} imports {name}"
        for layer, banned in FORBIDDEN.items()
        for path in sources(layer)
        for name in imported_packages(path) & banned
    ]
    assert violations == []


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from persistence.store import Store\nimport api.app\n")
    assert imported_packages(bad) & FORBIDDEN["schema"] == {"persistence", "api"}


def test_cryptography_is_imported_only_in_crypto() -> None:
    for layer in LAYERS:
        if layer == "crypto":
            continue
        for path in sources(layer):
            assert not imported_packages(path) & {"cryptography", "argon2"}, path


def test_only_authz_takes_the_grant_minter() -> None:
    callers = [
        path.relative_to(ROOT).as_posix()
        for layer in LAYERS
        if layer != "crypto"
        for path in sources(layer)
        if "take_minter" in path.read_text() or ".mint(" in path.read_text()
    ]
    assert callers == ["resolvers/authz.py"]


def test_import_linter_contract_holds() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_time_codes_are_computed_only_in_crypto() -> None:
    for layer in LAYERS:
        if layer == "crypto":
            continue
        for path in sources(layer):
            assert "pyotp" not in imported_packages(path), path
