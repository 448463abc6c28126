"""No module of the packages grows past 600 lines: split it along its sections first."""

from __future__ import annotations

from pathlib import Path

PACKAGES = ("api", "schema", "resolvers", "persistence", "crypto", "integrations")
MOST_LINES = 600
ROOT = Path(__file__).resolve().parent.parent


def test_no_module_passes_600_lines() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
    }
    assert sizes, "no modules found"
    too_long = {name: lines for name, lines in sizes.items() if lines > MOST_LINES}
    assert too_long == {}, f"split these along their sections: {too_long}"
