"""Relay conventions: the Node interface, opaque global ids, and cursor connections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

import strawberry

from resolvers import global_ids
from resolvers.errors import not_found
from resolvers.pagination import Cursor, Page

T = TypeVar("T")
N = TypeVar("N")


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    id: strawberry.ID


def to_global_id(type_name: str, raw_id: str) -> strawberry.ID:
    return strawberry.ID(global_ids.to_global_id(type_name, raw_id))


from_global_id = global_ids.from_global_id


def raw_id_of(global_id: str, type_name: str) -> str | None:
    """The raw id when `global_id` names an object of `type_name`, else None."""
    parsed = from_global_id(global_id)
    if parsed is None or parsed[0] != type_name:
        return None
    return parsed[1]


@strawberry.type(description="Where a page of a connection sits.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


def _cursor(root: Edge[Any]) -> str:
    return str(root.at)


@strawberry.type
class Edge(Generic[T]):
    at: strawberry.Private[str | Cursor]  # encoded only if `cursor` is asked for
    cursor: str = strawberry.field(resolver=_cursor)
    node: T | None = strawberry.field(
        description="Null only when this item could not be read (its error says why, "
        "e.g. DATA_DAMAGED); the other edges of the page are unaffected."
    )


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def connection_from_page(page: Page[N], convert: Callable[[N], T]) -> Connection[T]:
    """Build a connection from a resolver's page, converting each item to its GraphQL type."""
    edges = [Edge(at=cursor, node=convert(item)) for cursor, item in page.edges]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=False,
            start_cursor=str(edges[0].at) if edges else None,
            end_cursor=page.end_cursor,
        ),
    )


def expect_id(global_id: str, type_name: str) -> str:
    """The raw id of an input id that must name a `type_name`; anything else is NOT_FOUND."""
    raw_id = raw_id_of(global_id, type_name)
    if raw_id is None:
        raise not_found(type_name.lower())
    return raw_id


def user_or_channel(
    user_id: strawberry.ID | None, channel_id: strawberry.ID | None
) -> tuple[str | None, str | None]:
    """The raw ids of a share's grantee: a User, or a Channel (the resolver wants one)."""
    return (
        None if user_id is None else expect_id(user_id, "User"),
        None if channel_id is None else expect_id(channel_id, "Channel"),
    )
