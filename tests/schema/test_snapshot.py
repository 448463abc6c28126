"""The committed schema/schema.graphql is exactly what the code builds."""

from __future__ import annotations

from pathlib import Path

from schema.build import build_schema
from schema.export import schema_sdl

SNAPSHOT = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"


def test_committed_schema_matches_the_code() -> None:
    assert SNAPSHOT.read_text() == schema_sdl(), "schema changed: run `make schema` and review"


def test_each_request_gets_its_own_extension_instances() -> None:
    # An extension keeps its request's execution context on itself: one shared instance would
    # let concurrent requests overwrite each other's results (codes, masking, metrics).

    for factory in build_schema().extensions:
        assert callable(factory)
        assert factory() is not factory()  # type: ignore[operator]
