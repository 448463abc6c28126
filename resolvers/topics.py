"""The realtime topic registry: which objects can be subscribed to, and who may read them.

A topic is the global id of an object. Each kind registers the check that decides whether a
principal may read it; the transport knows nothing of kinds, so later features (drive
folders, calendars, boards) add a line here and nothing else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from resolvers import calendars, channels, drive, tasks, workspaces
from resolvers.app_model import AppScope
from resolvers.authz import Principal
from resolvers.context import RequestContext
from resolvers.errors import CoveError, not_found
from resolvers.global_ids import from_global_id
from resolvers.services import Services

Check = Callable[[RequestContext, str], Awaitable[object]]


async def _own_user(ctx: RequestContext, user_id: str) -> None:
    if ctx.principal_now().user_id != user_id:
        raise not_found("user")


async def _folder(ctx: RequestContext, folder_id: str) -> None:
    await drive.get_item_of_kind(ctx, folder_id, "folder")


TOPIC_KINDS: dict[str, Check] = {
    "Channel": channels.channel_access,
    "Workspace": workspaces.access,
    "User": _own_user,  # personal notices, such as an invitation received
    "Folder": _folder,  # drive items added, renamed, moved, trashed, new versions
    "Calendar": calendars.calendar_access,  # events created, changed, deleted, answered
    "Board": tasks.board_access,  # tasks created, moved, changed, completed; lists
}


# What an app token needs, besides realtime:read and its bot's right to read the topic, to
# subscribe to a topic of each kind: the scopes that read every notice the topic carries.
# Kinds not named here (personal topics) are not open to apps.
APP_TOPIC_SCOPES: dict[str, frozenset[str]] = {
    "Channel": frozenset({AppScope.CHANNELS_READ, AppScope.MESSAGES_READ}),
    "Workspace": frozenset({AppScope.WORKSPACES_READ, AppScope.CHANNELS_READ}),
    "Folder": frozenset({AppScope.FILES_READ}),
    "Calendar": frozenset({AppScope.CALENDARS_READ}),
    "Board": frozenset({AppScope.TASKS_READ}),
}


def _app_may(principal: Principal, kind: str) -> bool:
    app = principal.app
    if app is None:
        return True
    needed = APP_TOPIC_SCOPES.get(kind)
    return needed is not None and AppScope.REALTIME_READ in app.scopes and needed <= app.scopes


def is_topic(topic: str) -> bool:
    parsed = from_global_id(topic)
    return parsed is not None and parsed[0] in TOPIC_KINDS


async def can_read(services: Services, principal: Principal, topic: str) -> bool:
    """Whether the principal may read the topic now (read fresh from the store, not cached)."""
    parsed = from_global_id(topic)
    check = TOPIC_KINDS.get(parsed[0]) if parsed else None
    if parsed is None or check is None or not _app_may(principal, parsed[0]):
        return False
    ctx = RequestContext.for_principal(services, principal, "realtime")
    try:
        await check(ctx, parsed[1])
    except CoveError:
        return False
    return True
