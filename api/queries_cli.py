"""`cove queries register FILE...`: the documents a `persisted_queries = "only"` server runs.

A `.json` file is a persisted query manifest as Apollo's and Relay's tools write it
(`{"operations": [{"id": sha256, "body": text}, ...]}`, or a flat `{sha256: text}` map); any
other file is one document, registered under the SHA-256 of its exact text. Every document is
checked against the schema first; one that does not validate stops the command, and nothing
from that run is registered.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from graphql import GraphQLError, parse, validate

from api.settings import Settings
from api.stores import open_store
from persistence.persisted_queries import PersistedQueryRepository
from resolvers.persisted_queries import PersistedQueries, sha256_of
from schema.build import build_schema


class ManifestError(ValueError):
    """A file to register is unreadable, malformed, or holds an invalid document."""


def documents_in(path: Path) -> list[tuple[str, str]]:
    """(where, document) pairs from one file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read: {exc}") from None
    if path.suffix != ".json":
        return [(str(path), text)]
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise ManifestError(f"{path}: not JSON: {exc}") from None
    if isinstance(manifest, dict) and isinstance(manifest.get("operations"), list):
        entries = [
            (op.get("id"), op.get("body")) for op in manifest["operations"] if isinstance(op, dict)
        ]
    elif isinstance(manifest, dict):
        entries = list(manifest.items())
    else:
        raise ManifestError(f"{path}: expected a manifest object")
    found = []
    for position, (sha256, body) in enumerate(entries):
        where = f"{path} operation {position + 1}"
        if not isinstance(body, str):
            raise ManifestError(f"{where}: no document text")
        if sha256 is not None and sha256 != sha256_of(body):
            raise ManifestError(f"{where}: its id is not the SHA-256 of its text")
        found.append((where, body))
    return found


def check_documents(documents: list[tuple[str, str]]) -> None:
    schema = build_schema()._schema
    for where, document in documents:
        try:
            errors = validate(schema, parse(document))
        except GraphQLError as exc:
            raise ManifestError(f"{where}: {exc.message}") from None
        if errors:
            raise ManifestError(f"{where}: {errors[0].message}")


def cmd_queries_register(args: argparse.Namespace, settings: Settings) -> int:
    documents = [found for path in args.files for found in documents_in(path)]
    check_documents(documents)

    async def register() -> list[tuple[str, bool]]:
        store = await open_store(settings)
        try:
            registry = PersistedQueries(
                "only", PersistedQueryRepository(store), max_document_bytes=settings.max_query_bytes
            )
            return [await registry.register(document) for _, document in documents]
        finally:
            await store.close()

    for (where, _), (sha256, new) in zip(documents, asyncio.run(register()), strict=True):
        print(f"{sha256} {'registered' if new else 'already registered'} ({where})")
    return 0
