"""The committed schema/schema.graphql is exactly what the code builds."""

from __future__ import annotations

from pathlib import Path

from schema.export import schema_sdl

SNAPSHOT = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SNAPSHOT.read_text() == schema_sdl(), "schema changed: run `make schema` and review"
