"""Production messages for rejected documents: no suggestions, no schema names not written.

graphql-core's validation and coercion messages suggest names ("Did you mean 'email'?") and
name types and required arguments or fields the client never wrote; a probing client maps
the schema from them with introspection off. Outside dev each such message is rewritten to
name only what the request itself holds. The patterns follow graphql-core 3.3 (pinned by the
lock); a test probes the server the way schema-guessing tools do and fails on any leak.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import StreamExecutionResult

_NAME = r"'(?P<name>[^']*)'"
_TYPE = r"'[^']*'"

# (pattern, production message); a message may use the `name` the client wrote.
_REWRITES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), message)
    for pattern, message in (
        (rf"^Cannot query field {_NAME} on type {_TYPE}\.", "Cannot query field '{name}' here."),
        (
            rf"^Unknown argument {_NAME} on directive '(?P<d>@[^']*)'\.",
            "Unknown argument '{name}' on directive '{d}'.",
        ),
        (rf"^Unknown argument {_NAME} on ", "Unknown argument '{name}'."),
        (rf"^Unknown type {_NAME}\.", "Unknown type '{name}'."),
        (
            r"^Argument '@(?P<name>[^'(]*)\([^']*\)' of type .* is required",
            "Directive '@{name}' is missing a required argument.",
        ),
        (
            r"^Argument '(?:[^'.(]*\.)?(?P<name>[^'.(]*)\([^']*\)' of type .* is required",
            "Field '{name}' is missing a required argument.",
        ),
        (
            rf"^Fragment {_NAME} argument .* is required",
            "Fragment '{name}' is missing a required argument.",
        ),
        (
            rf"^Field {_NAME} of type .* must have a selection of subfields",
            "Field '{name}' must have a selection of subfields.",
        ),
        (
            rf"^Field {_NAME} must not have a selection since",
            "Field '{name}' must not have a selection.",
        ),
        (
            rf"^Expected value of type {_TYPE} to include required field",
            "An input object is missing a required field.",
        ),
        (
            rf"^Expected value of type {_TYPE} not to include unknown field {_NAME}",
            "Unknown input field '{name}'.",
        ),
        (rf"^Expected value of type {_TYPE} to be an object", "Expected an input object here."),
        (r"^Expected (?:a )?value of non-null type ", "A required value is missing or null."),
        (
            r"^Expected variable '\$(?P<name>[^']*)' provided to ",
            "Variable '${name}' must provide a value here.",
        ),
        (r"^Expected value of type ", "The value is not valid here."),
        (
            r"^Within OneOf Input Object type ",
            "Exactly one field of this input must be given, and not null.",
        ),
        (rf"^Value {_NAME} does not exist in {_TYPE} enum", "Value '{name}' is not valid here."),
        (r"^Enum '[^']*' cannot represent ", "The value is not valid here."),
        (r"^\w+ cannot represent ", "The value is not valid here."),
        (r"^Value cannot represent ", "The value is not valid here."),
        (
            r"^Variable '\$(?P<name>[^']*)' of type .* used in position expecting",
            "Variable '${name}' has a type not allowed here.",
        ),
        (
            r"^Variable '\$(?P<name>[^']*)' is of type .* but must be non-nullable",
            "Variable '${name}' must be non-null here.",
        ),
        (
            r"^Variable '\$(?P<name>[^']*)' (?:got|has) invalid (?:default )?value",
            "Variable '${name}' has a value not valid here.",
        ),
        (
            r"^Variable '\$(?P<name>[^']*)' of (?:required|non-null) type ",
            "Variable '${name}' is required.",
        ),
        (
            r"^Variable '\$(?P<name>[^']*)' cannot be non-input type ",
            "Variable '${name}' must have an input type.",
        ),
        (
            r"^Argument '(?P<name>[^']*)' (?:has invalid|of required type)",
            "Argument '{name}' has a value not valid here.",
        ),
        (
            r"^Fragment (?P<f>'[^']*' )?cannot be spread here as objects of type ",
            "Fragment cannot be spread here.",
        ),
        (
            r"^Fragment (?P<f>'[^']*' )?cannot condition on non composite type ",
            "Fragment cannot condition on this type.",
        ),
        (
            r"^Fields '(?P<name>[^']*)' conflict because .* (?:return conflicting types|subfields)",
            "Fields '{name}' conflict.",
        ),
    )
)
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def production_message(message: str) -> str:
    """The message a client sees outside dev: rewritten when graphql-core's would tell it
    about the schema, and never with a suggestion."""
    for pattern, replacement in _REWRITES:
        found = pattern.match(message)
        if found:
            return replacement.format(**found.groupdict(default=""))
    return _SUGGESTION.sub("", message)


def conceal(error: GraphQLError) -> GraphQLError:
    """The error with its production message; errors raised by resolvers are left alone."""
    original = error.original_error
    if isinstance(original, GraphQLError):
        error = original  # a scalar's coercion error, wrapped: its message is the one shown
    elif original is not None:
        return error
    message = production_message(error.message)
    if message == error.message and original is None:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=error.extensions,
    )


class ConcealSchema(SchemaExtension):
    """Rewrites the messages of rejected documents before the errors are coded."""

    def _conceal(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [conceal(e) for e in errors]  # type: ignore[attr-defined]

    def on_operation(self) -> Iterator[None]:
        yield
        self._conceal(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        self._conceal(result)
        yield None
