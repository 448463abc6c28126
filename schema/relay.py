"""Relay conventions: the Node interface, opaque global ids, and cursor connections."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Generic, TypeVar

import strawberry

from resolvers.errors import not_found
from resolvers.pagination import Page

T = TypeVar("T")
N = TypeVar("N")


@strawberry.interface(description="An object with a globally unique, opaque id.")
class Node:
    id: strawberry.ID


def to_global_id(type_name: str, raw_id: str) -> strawberry.ID:
    encoded = base64.urlsafe_b64encode(f"{type_name}:{raw_id}".encode()).decode().rstrip("=")
    return strawberry.ID(encoded)


def from_global_id(global_id: str) -> tuple[str, str] | None:
    """Split a global id into (type name, raw id); None when it is not one of ours."""
    if not global_id or len(global_id) > 200:
        return None
    try:
        decoded = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    type_name, sep, raw_id = decoded.partition(":")
    if not sep or not type_name or not raw_id:
        return None
    return type_name, raw_id


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


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo


def connection_from_page(page: Page[N], convert: Callable[[N], T]) -> Connection[T]:
    """Build a connection from a resolver's page, converting each item to its GraphQL type."""
    edges = [Edge(cursor=cursor, node=convert(item)) for cursor, item in page.edges]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=False,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=page.end_cursor,
        ),
    )


def expect_id(global_id: str, type_name: str) -> str:
    """The raw id of an input id that must name a `type_name`; anything else is NOT_FOUND."""
    raw_id = raw_id_of(global_id, type_name)
    if raw_id is None:
        raise not_found(type_name.lower())
    return raw_id
