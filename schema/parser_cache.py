"""A parser cache that lets syntax errors take strawberry's normal error path."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import ParserCache


class SafeParserCache(ParserCache):
    """Strawberry's ParserCache raises syntax errors past the extensions, skipping error coding.

    Here a document that fails to parse is left unset, so the schema parses it again inside its
    own error handling and the error leaves with a code like any other.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(
                context.query, **context.parse_options
            )
        except GraphQLError:
            context.graphql_document = None
        yield
