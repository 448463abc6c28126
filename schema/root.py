"""The root Query, Mutation and Subscription types, merged from the domain modules.

Each domain module holds its own root fields (`AccountsQuery`, `DriveMutation`, ...); the
order of the domain types below is the order of the fields in the printed schema.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.tools import merge_types
from strawberry.types import Info

from resolvers.errors import CoveError, ErrorCode, not_found
from schema import (
    accounts,
    apps,
    calendar_mutations,
    calendars,
    channels,
    data_export,
    drive,
    drive_mutations,
    messages,
    office,
    realtime,
    tasks,
    video,
    webhooks,
    workspace_keys,
    workspaces,
)
from schema import search as search_schema
from schema.relay import Node, from_global_id

NodeLoader = Callable[[Info[Any, Any], str], Awaitable[Node]]

# Which loader opens a global id of each type; a type missing here is simply NOT_FOUND.
NODE_LOADERS: dict[str, NodeLoader] = {
    "User": accounts.load_user,
    "Session": accounts.load_session,
    "Workspace": workspaces.load_workspace,
    "Invitation": workspaces.load_invitation,
    "Channel": channels.load_channel,
    "Message": messages.load_message,
    "Folder": drive.load_folder,
    "File": drive.load_file,
    "FileVersion": drive.load_file_version,
    "Calendar": calendars.load_calendar,
    "Event": calendars.load_event,
    "Board": tasks.load_board,
    "TaskList": tasks.load_list,
    "Task": tasks.load_task,
}


async def resolve_node(info: Info[Any, Any], id: strawberry.ID) -> Node | None:
    """Unknown, malformed and invisible ids all answer null with NOT_FOUND."""
    parsed = from_global_id(id)
    loader = NODE_LOADERS.get(parsed[0]) if parsed else None
    if parsed is None or loader is None:
        raise not_found()
    try:
        return await loader(info, parsed[1])
    except CoveError as exc:
        # Whatever the reason (no such row, not yours, not signed in), the answer is the same.
        if exc.code in (ErrorCode.NOT_FOUND, ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN):
            raise not_found() from None
        raise


@strawberry.type
class NodeQuery:
    node: Node | None = strawberry.field(
        resolver=resolve_node, description="Any object by its global id."
    )


Query = merge_types(
    "Query",
    (
        NodeQuery,
        accounts.AccountsQuery,
        search_schema.SearchQuery,
        apps.AppsQuery,
        webhooks.WebhooksQuery,
        data_export.ExportQuery,
        workspace_keys.KeyRotationQuery,
    ),
)

Mutation = merge_types(
    "Mutation",
    (
        accounts.AccountsMutation,
        workspaces.WorkspacesMutation,
        channels.ChannelsMutation,
        messages.MessagesMutation,
        drive_mutations.DriveMutation,
        office.OfficeMutation,
        calendar_mutations.CalendarsMutation,
        tasks.TasksMutation,
        realtime.RealtimeMutation,
        apps.AppsMutation,
        webhooks.WebhooksMutation,
        video.VideoMutation,
        data_export.ExportMutation,
        workspace_keys.KeyRotationMutation,
    ),
)

Subscription = merge_types("Subscription", (realtime.RealtimeSubscription,))
