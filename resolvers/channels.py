"""Channels: public, private and direct; who is in them, and how far each has read."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from persistence.channels import ChannelRecord, ChannelRef
from persistence.ids import new_id
from resolvers.accounts import UserView
from resolvers.authz import ChannelAccess, WorkspaceAccess, forbidden
from resolvers.context import RequestContext
from resolvers.errors import CoveError, bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import ChannelNotice
from resolvers.pagination import Page, check_first, decode_cursor, encode_cursor
from resolvers.roles import Role, Visibility
from resolvers.users import fellow
from resolvers.validation import clean_name
from resolvers.workspaces import WorkspaceView
from resolvers.workspaces import access as workspace_access
from resolvers.workspaces import view as workspace_view

MAX_CHANNEL_NAME = 80
MAX_TOPIC = 250
MAX_DIRECT_MEMBERS = 9
# Unread counts stop counting here; clients show "999+".
MAX_UNREAD_COUNTED = 999


def name_ref(channel_id: str, workspace_id: str) -> FieldRef:
    return FieldRef(entity="channel", field="name", row_id=channel_id, workspace_id=workspace_id)


def topic_ref(channel_id: str, workspace_id: str) -> FieldRef:
    return FieldRef(entity="channel", field="topic", row_id=channel_id, workspace_id=workspace_id)


class ChannelView:
    """A channel as one caller sees it; name and topic open with that caller's grant."""

    def __init__(self, ctx: RequestContext, access: ChannelAccess) -> None:
        self.access = access
        self.record = access.channel
        self._ctx = ctx
        self._grant: Grant = ctx.services.authz.channel_grant(access)

    @property
    def id(self) -> str:
        return self.record.channel_id

    @property
    def visibility(self) -> Visibility:
        return Visibility(self.record.visibility)

    async def name(self) -> str:
        keys = self._ctx.services.keys
        return await keys.open_text(
            self._grant, name_ref(self.id, self.record.workspace_id), self.record.name_sealed
        )

    async def topic(self) -> str | None:
        if self.record.topic_sealed is None:
            return None
        keys = self._ctx.services.keys
        return await keys.open_text(
            self._grant, topic_ref(self.id, self.record.workspace_id), self.record.topic_sealed
        )

    def workspace(self) -> WorkspaceView:
        return workspace_view(self._ctx, self.access.workspace)

    async def unread_count(self) -> int:
        if not self.access.member:
            return 0
        last_read = await self._ctx.loaders.my_last_reads.load(self.id)
        return await self._ctx.services.messages.count_newer(
            self.id, last_read, limit=MAX_UNREAD_COUNTED
        )

    async def last_read_message_id(self) -> str | None:
        return await self._ctx.loaders.my_last_reads.load(self.id) if self.access.member else None

    @property
    def created_at(self) -> datetime:
        return self.record.created_at


async def channel_access(ctx: RequestContext, channel_id: str) -> ChannelAccess:
    """The caller's access to a channel, or NOT_FOUND when it may not see it."""
    await ctx.require_user()
    loaders = ctx.loaders
    channel = await loaders.channels.load(channel_id)
    if channel is None:
        raise not_found("channel")
    # The reads of the checks below start together, so they reach the store in one trip.
    joined = loaders.my_channel_memberships.load(channel_id)
    loaders.my_memberships.load(channel.workspace_id)
    loaders.two_factor_required.load(channel.workspace_id)
    try:
        granted = await workspace_access(ctx, channel.workspace_id)
    except CoveError:
        await asyncio.gather(joined, return_exceptions=True)
        raise not_found("channel") from None
    return ctx.services.authz.channel(granted, channel, await joined)


async def my_channels_among(ctx: RequestContext, grantees: Iterable[str]) -> set[str]:
    """Of the channels named by share grantees (`channel:<id>`), those the caller is in."""
    channel_ids = sorted({g[8:] for g in grantees if g.startswith("channel:")})
    if not channel_ids:
        return set()
    found = await ctx.loaders.my_channel_memberships.load_many(channel_ids)
    return {c for c, m in zip(channel_ids, found, strict=True) if m is not None}


async def get_channel(ctx: RequestContext, channel_id: str) -> ChannelView:
    return ChannelView(ctx, await channel_access(ctx, channel_id))


def _refresh(ctx: RequestContext, channel_id: str) -> None:
    ctx.loaders.channels.clear(channel_id)
    ctx.loaders.my_channel_memberships.clear(channel_id)


async def _create(
    ctx: RequestContext,
    granted: WorkspaceAccess,
    *,
    visibility: Visibility,
    name: str,
    topic: str | None,
    member_ids: list[str],
) -> ChannelView:
    services = ctx.services
    channel_id = new_id()
    now = services.clock()
    ws = granted.workspace_id
    record = ChannelRecord(
        channel_id=channel_id,
        workspace_id=ws,
        name_sealed=await services.keys.seal_text(name_ref(channel_id, ws), name),
        topic_sealed=None
        if topic is None
        else await services.keys.seal_text(topic_ref(channel_id, ws), topic),
        visibility=visibility.value,
        archived=False,
        created_by=granted.principal.user_id,
        created_at=now,
        updated_at=now,
    )
    await services.channels.create(record, member_ids, now)
    ctx.loaders.channels.prime(channel_id, record)
    data = {"id": gid("Channel", channel_id), "name": name, "visibility": visibility.value}
    if visibility is Visibility.PUBLIC:
        await services.notices.publish(
            gid("Workspace", ws), ChannelNotice.CREATED, data, about=gid("Channel", channel_id)
        )
    else:
        # Only its members learn that a private or direct channel exists.
        for user_id in member_ids:
            await services.notices.publish(gid("User", user_id), ChannelNotice.CREATED, data)
    return await get_channel(ctx, channel_id)


def _clean_topic(topic: str | None) -> str | None:
    if topic is None:
        return None
    cleaned = topic.strip()
    if len(cleaned) > MAX_TOPIC:
        raise bad_input(f"The topic must be at most {MAX_TOPIC} characters long.", field="topic")
    if any(ch in cleaned for ch in "\x00\r"):
        raise bad_input("The topic must not contain control characters.", field="topic")
    return cleaned or None


async def create_channel(
    ctx: RequestContext,
    workspace_id: str,
    name: str,
    visibility: Visibility,
    topic: str | None,
) -> ChannelView:
    granted = await workspace_access(ctx, workspace_id)
    if granted.role is Role.GUEST:
        raise forbidden("Guests cannot create channels.")
    if visibility is Visibility.DIRECT:
        raise bad_input("Use createDirectChannel for direct channels.", field="visibility")
    clean = clean_name(name, field="name", max_length=MAX_CHANNEL_NAME)
    return await _create(
        ctx,
        granted,
        visibility=visibility,
        name=clean,
        topic=_clean_topic(topic),
        member_ids=[granted.principal.user_id],
    )


async def create_direct_channel(
    ctx: RequestContext, workspace_id: str, user_ids: list[str]
) -> ChannelView:
    """The direct channel of the caller and these people; the existing one if there is one."""
    services = ctx.services
    granted = await workspace_access(ctx, workspace_id)
    me = granted.principal.user_id
    people = sorted({*user_ids, me})
    if len(people) < 2:
        raise bad_input("A direct channel needs at least one other person.", field="userIds")
    if len(people) > MAX_DIRECT_MEMBERS + 1:
        raise bad_input(
            f"A direct channel holds at most {MAX_DIRECT_MEMBERS + 1} people.", field="userIds"
        )
    memberships = await services.workspaces.memberships(workspace_id, people)
    if any(m is None for m in memberships):
        raise not_found("user")
    members_key = " ".join(people)
    existing = await services.channels.direct(workspace_id, members_key)
    if existing is not None:
        return await _rejoin_direct(ctx, existing, people)
    view = await _create(
        ctx, granted, visibility=Visibility.DIRECT, name="", topic=None, member_ids=people
    )
    won = await services.channels.claim_direct(workspace_id, members_key, view.id)
    # Another request made the same channel at the same moment: use the one that won.
    return view if won == view.id else await _rejoin_direct(ctx, won, people)


async def _rejoin_direct(ctx: RequestContext, channel_id: str, people: list[str]) -> ChannelView:
    """The existing direct channel of these people, with anyone who left a workspace and
    came back added again: all of them are members of the workspace now."""
    services = ctx.services
    channel = await services.channels.get(channel_id)
    if channel is None:
        raise not_found("channel")
    found = await services.channels.members_many([(channel_id, person) for person in people])
    for person, membership in zip(people, found, strict=True):
        if membership is None:
            await services.channels.add_member(channel, person, services.clock())
    _refresh(ctx, channel_id)
    return await get_channel(ctx, channel_id)


async def rename_channel(ctx: RequestContext, channel_id: str, name: str) -> ChannelView:
    services = ctx.services
    granted = await channel_access(ctx, channel_id)
    services.authz.manage_channel(granted)
    _not_direct(granted, "renamed")
    _not_archived(granted)
    clean = clean_name(name, field="name", max_length=MAX_CHANNEL_NAME)
    sealed = await services.keys.seal_text(
        name_ref(channel_id, granted.channel.workspace_id), clean
    )
    await services.channels.update(
        channel_id, {"name_sealed": sealed, "updated_at": services.clock()}
    )
    _refresh(ctx, channel_id)
    await _announce(ctx, granted, ChannelNotice.RENAMED, {"name": clean})
    return await get_channel(ctx, channel_id)


async def set_topic(ctx: RequestContext, channel_id: str, topic: str | None) -> ChannelView:
    services = ctx.services
    granted = await channel_access(ctx, channel_id)
    services.authz.manage_channel(granted)
    _not_archived(granted)
    clean = _clean_topic(topic)
    sealed = (
        None
        if clean is None
        else await services.keys.seal_text(
            topic_ref(channel_id, granted.channel.workspace_id), clean
        )
    )
    await services.channels.update(
        channel_id, {"topic_sealed": sealed, "updated_at": services.clock()}
    )
    _refresh(ctx, channel_id)
    await _announce(ctx, granted, ChannelNotice.TOPIC_CHANGED, {"topic": clean}, workspace=False)
    return await get_channel(ctx, channel_id)


async def set_archived(ctx: RequestContext, channel_id: str, archived: bool) -> ChannelView:
    services = ctx.services
    granted = await channel_access(ctx, channel_id)
    services.authz.administer_channel(granted)
    _not_direct(granted, "archived")
    if granted.channel.archived == archived:
        return await get_channel(ctx, channel_id)  # nothing changes, so nothing is told
    await services.channels.update(
        channel_id, {"archived": archived, "updated_at": services.clock()}
    )
    _refresh(ctx, channel_id)
    await _announce(ctx, granted, ChannelNotice.ARCHIVED, {"archived": archived})
    return await get_channel(ctx, channel_id)


async def _announce(
    ctx: RequestContext,
    granted: ChannelAccess,
    type_: ChannelNotice,
    data: dict[str, object],
    *,
    workspace: bool = True,
) -> None:
    """Tell the channel's subscribers, and the workspace's when the channel is public (those
    of them who may read the channel: not guests outside it)."""
    channel_gid = gid("Channel", granted.channel_id)
    payload = {"id": channel_gid, **data}
    await ctx.services.notices.publish(channel_gid, type_, payload)
    if workspace and granted.channel.visibility == Visibility.PUBLIC:
        workspace_gid = gid("Workspace", granted.workspace.workspace_id)
        await ctx.services.notices.publish(workspace_gid, type_, payload, about=channel_gid)


async def _member_notice(
    ctx: RequestContext, channel_id: str, type_: ChannelNotice, user_id: str
) -> None:
    data = {"channelId": gid("Channel", channel_id), "userId": gid("User", user_id)}
    await ctx.services.notices.publish(gid("Channel", channel_id), type_, data)


async def _left(ctx: RequestContext, channel_id: str, user_id: str) -> None:
    """Access first: the leaver's subscriptions are checked before anything else arrives."""
    await ctx.services.notices.access_changed(user_id)
    await _member_notice(ctx, channel_id, ChannelNotice.MEMBER_LEFT, user_id)


def _not_direct(granted: ChannelAccess, what: str) -> None:
    if granted.channel.visibility == Visibility.DIRECT:
        raise bad_input(f"A direct channel cannot be {what}.", field="channelId")


def _not_archived(granted: ChannelAccess) -> None:
    if granted.channel.archived:
        raise bad_input("The channel is archived.", field="channelId")


async def join_channel(ctx: RequestContext, channel_id: str) -> ChannelView:
    services = ctx.services
    granted = await channel_access(ctx, channel_id)  # a private channel is NOT_FOUND here
    _not_archived(granted)
    if not granted.member:
        me = granted.workspace.principal.user_id
        await services.channels.add_member(granted.channel, me, services.clock())
        _refresh(ctx, channel_id)
        await _member_notice(ctx, channel_id, ChannelNotice.MEMBER_JOINED, me)
    return await get_channel(ctx, channel_id)


async def leave_channel(ctx: RequestContext, channel_id: str) -> None:
    services = ctx.services
    granted = await channel_access(ctx, channel_id)
    _not_direct(granted, "left")
    if not granted.member:
        raise bad_input("You are not in this channel.", field="channelId")
    me = granted.workspace.principal.user_id
    await services.channels.remove_member(granted.workspace.workspace_id, channel_id, me)
    _refresh(ctx, channel_id)
    await _left(ctx, channel_id, me)


async def add_channel_member(ctx: RequestContext, channel_id: str, user_id: str) -> ChannelView:
    services = ctx.services
    granted = await channel_access(ctx, channel_id)
    services.authz.manage_channel(granted)
    _not_direct(granted, "joined by others")
    _not_archived(granted)
    if await services.workspaces.membership(granted.workspace.workspace_id, user_id) is None:
        raise not_found("user")
    if await services.channels.member(channel_id, user_id) is None:
        await services.channels.add_member(granted.channel, user_id, services.clock())
        await _member_notice(ctx, channel_id, ChannelNotice.MEMBER_JOINED, user_id)
    _refresh(ctx, channel_id)
    return await get_channel(ctx, channel_id)


async def remove_channel_member(ctx: RequestContext, channel_id: str, user_id: str) -> ChannelView:
    services = ctx.services
    granted = await channel_access(ctx, channel_id)
    if user_id == granted.workspace.principal.user_id:
        raise bad_input("Use leaveChannel to leave.", field="userId")
    services.authz.administer_channel(granted)
    _not_direct(granted, "left")
    if await services.channels.member(channel_id, user_id) is None:
        raise not_found("member")
    await services.channels.remove_member(granted.workspace.workspace_id, channel_id, user_id)
    await _left(ctx, channel_id, user_id)
    return await get_channel(ctx, channel_id)


async def mark_read(ctx: RequestContext, channel_id: str, message_id: str | None) -> ChannelView:
    """Move the caller's read position to a message of the channel, or to its newest."""
    services = ctx.services
    granted = await channel_access(ctx, channel_id)
    if not granted.member:
        raise bad_input("Join the channel first.", field="channelId")
    if message_id is None:
        newest = await services.messages.list_channel(
            channel_id, granted.workspace.workspace_id, limit=1
        )
        if not newest:
            return await get_channel(ctx, channel_id)
        message_id = newest[0].message_id
    else:
        location = await services.messages.location(message_id)
        if location is None or location.channel_id != channel_id or location.thread_id:
            raise not_found("message")
    await services.channels.set_last_read(
        granted.workspace.principal.user_id, channel_id, message_id, services.clock()
    )
    ctx.loaders.my_last_reads.clear(channel_id)
    await services.presence.active(granted.workspace.principal.user_id)
    return await get_channel(ctx, channel_id)


async def members(
    ctx: RequestContext, channel_id: str, first: int, after: str | None
) -> Page[UserView]:
    check_first(first)
    granted = await channel_access(ctx, channel_id)
    start = decode_cursor(after, 1)
    rows = await ctx.services.channels.list_members(
        channel_id, limit=first + 1, after_user_id=str(start[0]) if start else None
    )
    edges = [
        (encode_cursor([row.user_id]), fellow(ctx, granted.workspace, row.user_id))
        for row in rows[:first]
    ]
    return Page(edges=edges, has_next_page=len(rows) > first)


async def workspace_channels(
    ctx: RequestContext, workspace_id: str, first: int, after: str | None
) -> Page[ChannelView]:
    """The channels the caller may see, in creation order: public ones (not for guests) and
    the ones it belongs to, merged from two listings by channel id."""
    check_first(first)
    services = ctx.services
    granted = await workspace_access(ctx, workspace_id)
    start = decode_cursor(after, 1)
    cursor = str(start[0]) if start else None
    me = granted.principal.user_id
    merged: dict[str, ChannelRef] = {}
    batch = first + 1
    # Each listing is read past the cursor until the merged page is full or both run out.
    mine_cursor, all_cursor = cursor, cursor
    mine_done = False
    all_done = granted.role.joined_only
    while True:
        if not mine_done:
            mine = await services.channels.list_for_member(
                workspace_id, me, limit=batch, after_channel_id=mine_cursor
            )
            merged.update((ref.channel_id, ref) for ref in mine)
            mine_done = len(mine) < batch
            mine_cursor = mine[-1].channel_id if mine else mine_cursor
        if not all_done:
            listed = await services.channels.list_in_workspace(
                workspace_id, limit=batch, after_channel_id=all_cursor
            )
            merged.update(
                (ref.channel_id, ref) for ref in listed if ref.visibility == Visibility.PUBLIC
            )
            all_done = len(listed) < batch
            all_cursor = listed[-1].channel_id if listed else all_cursor
        # Ids below both listings' positions are complete; stop once the page is within them.
        horizon = min(
            (c for c, done in ((mine_cursor, mine_done), (all_cursor, all_done)) if not done and c),
            default=None,
        )
        settled = sorted(c for c in merged if horizon is None or c <= horizon)
        if len(settled) > first or (mine_done and all_done):
            break
    ids = settled[: first + 1]
    page_ids = ids[:first]
    records = await ctx.loaders.channels.load_many(page_ids)
    memberships = await ctx.loaders.my_channel_memberships.load_many(page_ids)
    edges = []
    for channel_id, record, membership in zip(page_ids, records, memberships, strict=True):
        if record is None:
            continue
        channel = ChannelView(ctx, services.authz.channel(granted, record, membership))
        edges.append((encode_cursor([channel_id]), channel))
    return Page(edges=edges, has_next_page=len(ids) > first)
