"""Documents: size and token limits that count comments, and parse and validation caches that
a stranger cannot fill.

A document's size is checked before anything reads it; its tokens are counted with comments
(graphql-core's lexer counts them), so comments cannot pad a document past the limits. Only
small documents are cached, keyed by a digest of their text, so the cache's memory is bounded
by `entries x CACHEABLE_BYTES` whatever clients send.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from resolvers.errors import ErrorCode

# Documents up to this size are cached once parsed and validated; larger ones (rare: machine
# generated) are parsed every time, within the size and token limits.
CACHEABLE_BYTES = 8 * 1024
CACHE_ENTRIES = 1024


def document_digest(query: str) -> bytes:
    """The cache key of a document: its text never stays in memory as a key."""
    return hashlib.blake2b(query.encode("utf-8", "surrogatepass"), digest_size=20).digest()


def too_large(size: int, limit: int) -> GraphQLError:
    return GraphQLError(
        f"The document is {size} bytes long; the limit is {limit}.",
        extensions={"code": ErrorCode.BAD_USER_INPUT.value},
    )


class Lru:
    """A small LRU map; entries are bounded in number, and their values in size by the caller."""

    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> Any:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: Any, value: Any) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._entries:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class DocumentCache:
    """Parsed and validated small documents, shared by every request of one schema."""

    def __init__(self, *, max_bytes: int, max_tokens: int, entries: int = CACHE_ENTRIES) -> None:
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens
        self.parsed = Lru(entries)
        self.validated = Lru(entries)

    def parse(self, query: str) -> tuple[bytes, DocumentNode]:
        """The document of `query`, within the limits; raises a coded GraphQLError otherwise."""
        size = len(query)  # characters first: it is free, and never less than bytes / 4
        if size > self.max_bytes or len(query.encode("utf-8", "surrogatepass")) > self.max_bytes:
            raise too_large(len(query.encode("utf-8", "surrogatepass")), self.max_bytes)
        digest = document_digest(query)
        cached: DocumentNode | None = self.parsed.get(digest)
        if cached is not None:
            return digest, cached
        # graphql-core's lexer counts comments among the tokens (checked by a test).
        document = parse(query, max_tokens=self.max_tokens)
        if size <= CACHEABLE_BYTES:
            self.parsed.put(digest, document)
        return digest, document

    def validate(
        self,
        schema: GraphQLSchema,
        digest: bytes,
        document: DocumentNode,
        rules: Sequence[Any],
    ) -> list[GraphQLError]:
        key = (digest, tuple(rules))
        cached: list[GraphQLError] | None = self.validated.get(key)
        if cached is not None:
            return list(cached)
        errors = validate_document(schema, document, tuple(rules))
        if self.parsed.get(digest) is document:  # only documents small enough to be cached
            self.validated.put(key, list(errors))
        return list(errors)


class Documents(SchemaExtension):
    """Parses and validates through the shared cache; refuses documents over the limits."""

    def __init__(self, cache: DocumentCache) -> None:
        super().__init__()
        self._cache = cache
        self._digest: bytes | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        # Also for strawberry's own parse of a document that failed here (for its error).
        context.parse_options["max_tokens"] = self._cache.max_tokens
        if context.graphql_document is None and query is not None:
            try:
                self._digest, context.graphql_document = self._cache.parse(query)
            except GraphQLError as error:
                if error.extensions and "code" in error.extensions:
                    raise  # a limit: refused before anything else reads the document
                # A syntax error: strawberry parses again inside its own error handling, so
                # the error leaves coded like any other (the document is within the limits).
                context.graphql_document = None
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if self._digest is not None and context.graphql_document is not None:
            context.pre_execution_errors = self._cache.validate(
                context.schema._schema,
                self._digest,
                context.graphql_document,
                context.validation_rules,
            )
        yield
