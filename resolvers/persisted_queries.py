"""Persisted queries: clients send a document's SHA-256 instead of its text.

`automatic` speaks the automatic persisted query protocol of Apollo and urql clients: an
unknown hash is answered PERSISTED_QUERY_NOT_FOUND, the client sends the text with its hash
once, and this node remembers it (in memory, bounded in bytes). `only` runs nothing but the
documents registered with `cove queries register` (in the store, so every node knows them),
whether a client sends the hash or the text. `off` refuses the extension.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from persistence.persisted_queries import PersistedQueryRepository
from resolvers.errors import CoveError, ErrorCode, bad_input

Mode = Literal["off", "automatic", "only"]
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Memory for documents clients registered automatically, per node.
AUTOMATIC_BYTES = 16 * 1024 * 1024


def sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()


class _Texts:
    """Documents by hash, least recently used dropped first beyond `max_bytes` in all."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._items: OrderedDict[str, str] = OrderedDict()

    def get(self, sha256: str) -> str | None:
        found = self._items.get(sha256)
        if found is not None:
            self._items.move_to_end(sha256)
        return found

    def put(self, sha256: str, document: str) -> None:
        if sha256 in self._items or len(document) > self._max_bytes:
            return
        self._items[sha256] = document
        self._bytes += len(document)
        while self._bytes > self._max_bytes:
            _, dropped = self._items.popitem(last=False)
            self._bytes -= len(dropped)


def not_found() -> CoveError:
    # The exact message Apollo and urql clients look for before sending the text.
    return CoveError(ErrorCode.PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")


def not_in_list() -> CoveError:
    return CoveError(
        ErrorCode.PERSISTED_QUERY_NOT_IN_LIST,
        "This server runs only registered documents, and this one is not registered.",
    )


def not_supported() -> CoveError:
    return CoveError(ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED, "PersistedQueryNotSupported")


class PersistedQueries:
    def __init__(
        self,
        mode: Mode,
        repository: PersistedQueryRepository,
        *,
        max_document_bytes: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.mode = mode
        self._repository = repository
        self._max_document_bytes = max_document_bytes
        self._clock = clock
        self._automatic = _Texts(AUTOMATIC_BYTES)
        self._registered = _Texts(AUTOMATIC_BYTES)  # registered documents seen lately

    async def document(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The document to run for a request, or a coded refusal. None: no document at all
        (the transport answers that as it always has)."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            registered = self.mode != "only" or query is None
            if not registered and await self._registered_text(sha256_of(query or "")) is None:
                raise not_in_list()
            return query
        if self.mode == "off":
            raise not_supported()
        sha256 = _requested_hash(persisted)
        if query is None:
            found = await self._registered_text(sha256)
            if found is None and self.mode == "automatic":
                found = self._automatic.get(sha256)
            if found is None:
                raise not_found() if self.mode == "automatic" else not_in_list()
            return found
        if sha256_of(query) != sha256:
            raise bad_input("`sha256Hash` is not the SHA-256 of the document sent.")
        if self.mode == "only":
            if await self._registered_text(sha256) is None:
                raise not_in_list()
        elif len(query) <= self._max_document_bytes:
            self._automatic.put(sha256, query)
        return query

    async def _registered_text(self, sha256: str) -> str | None:
        found = self._registered.get(sha256)
        if found is None:
            found = await self._repository.get(sha256)
            if found is not None:
                self._registered.put(sha256, found)
        return found

    async def register(self, document: str) -> tuple[str, bool]:
        """Register a document for `only` mode: (its hash, whether it was new)."""
        sha256 = sha256_of(document)
        return sha256, await self._repository.register(sha256, document, self._clock())


def _requested_hash(persisted: object) -> str:
    if not isinstance(persisted, dict):
        raise bad_input("`extensions.persistedQuery` must be an object.")
    if persisted.get("version", 1) != 1:
        raise bad_input("Only version 1 of `persistedQuery` is supported.")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or _SHA256.fullmatch(sha256) is None:
        raise bad_input("`persistedQuery.sha256Hash` must be 64 lowercase hexadecimal digits.")
    return sha256
