"""The committed lock covers what pyproject.toml asks for: change one without the other and
this fails (run `make lock`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s\\;]+)")


def pins(lock: Path) -> dict[str, Version]:
    """Name -> pinned version, checking that every pin carries at least one hash."""
    found: dict[str, Version] = {}
    text = lock.read_text()
    for block in re.split(r"\n(?=\S)", text):
        match = PIN.match(block)
        if match is None:
            continue
        assert "--hash=sha256:" in block, f"{lock.name}: {match[1]} has no hash"
        found[canonicalize_name(match[1])] = Version(match[3])
    return found


def declared() -> tuple[list[Requirement], list[Requirement]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = [Requirement(r) for r in project["dependencies"]]
    build = [
        Requirement(line)
        for line in (ROOT / "requirements" / "build.in").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return runtime + build, dev


def unmet(requirements: list[Requirement], locked: dict[str, Version]) -> list[str]:
    problems = []
    for req in requirements:
        version = locked.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} is not in the lock")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}: locked {version} is outside {req.specifier}")
    return problems


def test_dev_lock_satisfies_every_declared_dependency() -> None:
    runtime, dev = declared()
    assert unmet(runtime + dev, pins(ROOT / "requirements" / "dev.lock")) == [], "run make lock"


def test_runtime_lock_satisfies_the_runtime_dependencies_with_the_dev_lock_versions() -> None:
    runtime, _ = declared()
    runtime_pins = pins(ROOT / "requirements" / "runtime.lock")
    assert unmet(runtime, runtime_pins) == [], "run make lock"
    dev_pins = pins(ROOT / "requirements" / "dev.lock")
    differ = {n: (v, dev_pins.get(n)) for n, v in runtime_pins.items() if dev_pins.get(n) != v}
    assert differ == {}, "the two locks disagree: run make lock"


def test_the_check_notices_a_dependency_added_without_locking() -> None:
    locked = pins(ROOT / "requirements" / "dev.lock")
    assert unmet([Requirement("left-pad-for-python>=1")], locked) == [
        "left-pad-for-python is not in the lock"
    ]
    strawberry = locked[canonicalize_name("strawberry-graphql")]
    newer = Requirement(f"strawberry-graphql>{strawberry}")
    assert unmet([newer], locked) != []


@pytest.mark.parametrize("lock", ["dev.lock", "runtime.lock"])
def test_the_lock_has_no_unpinned_line(lock: str) -> None:
    for line in (ROOT / "requirements" / lock).read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "--hash")):
            continue
        assert PIN.match(stripped), f"{lock}: not an exact pin: {stripped!r}"
