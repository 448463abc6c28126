"""Search: one query over messages, files, events and tasks, checked result by result."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import search
from resolvers.search import SearchKind as SearchKindValue
from resolvers.search import SearchResult as SearchResultValue
from schema.calendars import Event
from schema.context import request_context
from schema.drive import File
from schema.messages import Message
from schema.relay import Connection, connection_from_page, expect_id
from schema.tasks import Task

SearchKind = strawberry.enum(SearchKindValue, name="SearchKind")
SearchResult = Annotated[Message | File | Event | Task, strawberry.union("SearchResult")]


def _convert(result: SearchResultValue) -> Message | File | Event | Task:
    if result.kind is SearchKindValue.MESSAGE:
        return Message.from_view(result.view)
    if result.kind is SearchKindValue.FILE:
        return File.from_view(result.view)
    if result.kind is SearchKindValue.EVENT:
        return Event.from_view(result.view)
    return Task.from_view(result.view)


async def resolve_search(
    info: Info[Any, Any],
    *,
    workspace_id: strawberry.ID,
    query: str,
    kinds: list[SearchKind] | None = None,  # type: ignore[valid-type]
    channel_id: strawberry.ID | None = None,
    author_id: strawberry.ID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    first: int = 20,
    after: str | None = None,
) -> Connection[SearchResult]:
    page = await search.search(
        request_context(info),
        expect_id(workspace_id, "Workspace"),
        query,
        kinds=kinds,
        channel_id=None if channel_id is None else expect_id(channel_id, "Channel"),
        author_id=None if author_id is None else expect_id(author_id, "User"),
        since=since,
        until=until,
        first=first,
        after=after,
    )
    return connection_from_page(page, _convert)


@strawberry.type
class SearchQuery:
    search: Connection[SearchResult] = strawberry.field(
        resolver=resolve_search,
        description="Messages, files, events and tasks of a workspace matching every word's "
        'start ("rep" finds "report"), most words matched first, then newest; only what '
        "you may read. Query: up to 200 characters and 8 words.",
    )
