"""The realtime `type` strings are declared once (resolvers/notice_types.py), used by name, and
listed truly in docs/realtime.md."""

from __future__ import annotations

import re
from pathlib import Path

from resolvers.notice_types import DOMAINS

ROOT = Path(__file__).resolve().parents[2]
DECLARED = {
    member.value: f"{domain.__name__}.{member.name}" for domain in DOMAINS for member in domain
}


def _documented_types() -> set[str]:
    """The backquoted names in the `type` column of docs/realtime.md's table of events."""
    lines = (ROOT / "docs" / "realtime.md").read_text().splitlines()
    start = lines.index("| topic | type | data |") + 2
    names: set[str] = set()
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        names.update(re.findall(r"`([^`]+)`", line.split("|")[2]))
    return names


def _resolver_sources() -> dict[str, str]:
    return {
        path.name: path.read_text()
        for path in sorted((ROOT / "resolvers").glob("*.py"))
        if path.name != "notice_types.py"
    }


def test_no_type_is_declared_twice() -> None:
    assert len(DECLARED) == sum(len(domain) for domain in DOMAINS)


def test_the_documented_table_lists_every_declared_type_and_no_other() -> None:
    assert _documented_types() == set(DECLARED)


def test_every_declared_type_is_published_by_name() -> None:
    code = "\n".join(_resolver_sources().values())
    unused = [name for name in DECLARED.values() if not re.search(rf"\b{name}\b", code)]
    assert unused == []


def test_no_resolver_spells_a_type_out() -> None:
    spelled = [
        f"{file}: {value}"
        for file, text in _resolver_sources().items()
        for value in DECLARED
        if f'"{value}"' in text
    ]
    assert spelled == []
