"""Video rooms on Jitsi: one room per channel and per calendar event.

Who: whoever may read the channel or the event joins its room (anyone else gets NOT_FOUND,
as for the channel or event itself); its moderators (the channel's managers, the event's
organisers: `Authorizer.video_moderator`) join as Jitsi moderators and alone replace the
room's name.

The name: 256 bits from the CSPRNG (`crypto/jitsi.py`), never derived from an id, made at
the first join and kept, sealed, until `rotateVideoRoom` replaces it. Whoever knows it joins
the room on a Jitsi without token authentication, so it is shown only to those who may read
the channel or the event: when they join, and as an event's `videoRoomUrl`.

The token: with `jitsi_app_id` and `jitsi_app_secret`, an HS256 JWT admitting the caller to
this room alone for `jitsi_token_seconds`; without them, null (a public Jitsi).

Calls: Cove does not see inside Jitsi, so a call counts as started at a join through Cove
after `CALL_IDLE_SECONDS` without one; that join publishes `call.started`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from crypto.jitsi import JitsiUser, jitsi_token, new_room_name
from persistence.video_rooms import NEVER, VideoRoomRecord
from resolvers.authz import ChannelAccess, EventAccess
from resolvers.calendars import event_access
from resolvers.channels import channel_access
from resolvers.context import RequestContext
from resolvers.errors import FEATURE_DISABLED, CoveError, ErrorCode, bad_input
from resolvers.global_ids import to_global_id as gid
from resolvers.notice_types import CallNotice
from resolvers.users import fellow
from resolvers.video_policy import VideoPolicy

# A join after this long without one starts a new call (Cove cannot see who is still in).
CALL_IDLE_SECONDS = 15 * 60
# How often a write that lost a compare-and-set to another node is tried again.
ATTEMPTS = 5


@dataclass(frozen=True)
class VideoRoom:
    name: str
    url: str


@dataclass(frozen=True)
class VideoRoomPass:
    """What `joinVideoRoom` answers: the room, and the caller's token into it (or none)."""

    room: VideoRoom
    token: str | None
    expires_at: datetime | None


@dataclass(frozen=True)
class _Target:
    """The channel or event a room belongs to, as the caller reached it."""

    access: ChannelAccess | EventAccess
    kind: str
    target_id: str
    grant: Grant

    @property
    def workspace_id(self) -> str:
        return self.access.workspace.workspace_id

    @property
    def ref(self) -> FieldRef:
        return room_ref(self.kind, self.target_id, self.workspace_id)


def room_ref(kind: str, target_id: str, workspace_id: str) -> FieldRef:
    """Where a channel's or event's room name is sealed (`kind` "channel" or "event")."""
    return FieldRef(f"{kind}_video_room", "name", target_id, workspace_id)


def _policy(ctx: RequestContext) -> VideoPolicy:
    policy = ctx.services.policy.video
    if not policy.enabled:
        raise CoveError(
            ErrorCode.UNAVAILABLE,
            "Video rooms are turned off on this server (setting jitsi_enabled).",
            reason=FEATURE_DISABLED,
        )
    return policy


async def _target(ctx: RequestContext, channel_id: str | None, event_id: str | None) -> _Target:
    """The one target named: a channel or an event, never both, never neither."""
    if (channel_id is None) == (event_id is None):
        raise bad_input(
            "Give either a channelId or an eventId.",
            field="eventId" if channel_id is not None else "channelId",
        )
    authz = ctx.services.authz
    if channel_id is not None:
        channel = await channel_access(ctx, channel_id)
        return _Target(channel, "channel", channel_id, authz.channel_grant(channel))
    event_id = event_id or ""
    event = await event_access(ctx, event_id)
    return _Target(event, "event", event_id, authz.event_grant(event))


async def _room_record(ctx: RequestContext, target: _Target) -> tuple[VideoRoomRecord, bool]:
    """The target's room, made now if it has none; True when this call made it."""
    services = ctx.services
    repository = services.video_rooms
    for _ in range(ATTEMPTS):
        record = await repository.get(target.workspace_id, target.kind, target.target_id)
        if record is not None:
            return record, False
        made = VideoRoomRecord(
            workspace_id=target.workspace_id,
            kind=target.kind,
            target_id=target.target_id,
            room_sealed=await services.keys.seal_text(target.ref, new_room_name()),
            created_at=services.clock(),
            last_join_at=NEVER,
        )
        if await repository.create(made):
            return made, True
    raise CoveError(ErrorCode.INTERNAL, "The video room could not be made.")


async def _open(ctx: RequestContext, target: _Target, record: VideoRoomRecord) -> VideoRoom:
    name = await ctx.services.keys.open_text(target.grant, target.ref, record.room_sealed)
    return VideoRoom(name=name, url=ctx.services.policy.video.room_url(name))


async def _mark_join(ctx: RequestContext, target: _Target, record: VideoRoomRecord) -> bool:
    """Note the join; True when it starts a call (no join for `CALL_IDLE_SECONDS`)."""
    repository = ctx.services.video_rooms
    for _ in range(ATTEMPTS):
        now = ctx.services.clock()
        starts = (now - record.last_join_at).total_seconds() >= CALL_IDLE_SECONDS
        if await repository.joined(record, now):
            return starts
        again = await repository.get(target.workspace_id, target.kind, target.target_id)
        if again is None:
            return False
        record = again
        if (now - record.last_join_at).total_seconds() < CALL_IDLE_SECONDS:
            return False  # another join just marked it (and started the call if one was due)
    return False


async def _publish_start(ctx: RequestContext, target: _Target) -> None:
    user = gid("User", target.access.workspace.principal.user_id)
    if isinstance(target.access, ChannelAccess):
        channel = gid("Channel", target.target_id)
        data: dict[str, object] = {"channelId": channel, "startedBy": user}
        await ctx.services.notices.publish(channel, CallNotice.STARTED, data)
        return
    calendar = gid("Calendar", target.access.event.calendar_id)
    data = {"eventId": gid("Event", target.target_id), "calendarId": calendar, "startedBy": user}
    await ctx.services.notices.publish(calendar, CallNotice.STARTED, data)


async def _token(
    ctx: RequestContext, policy: VideoPolicy, target: _Target, room: VideoRoom
) -> tuple[str | None, datetime | None]:
    if not (policy.app_id and policy.app_secret):
        return None, None
    access = target.access
    me = access.workspace.principal.user_id
    now = ctx.services.clock().replace(microsecond=0)  # JWT times are whole seconds
    expires_at = now + policy.token_ttl
    token = jitsi_token(
        app_id=policy.app_id,
        app_secret=policy.app_secret,
        domain=policy.domain,
        room=room.name,
        user=JitsiUser(
            id=gid("User", me),
            name=await fellow(ctx, access.workspace, me).display_name(),
            moderator=ctx.services.authz.video_moderator(access),
        ),
        issued_at=now,
        expires_at=expires_at,
    )
    return token, expires_at


async def event_room_url(ctx: RequestContext, access: EventAccess) -> str | None:
    """The URL of an event's room once someone joined it, for whoever reads the event; None
    before, or with video rooms off. Read through a loader: a page of events, one batch."""
    if not ctx.services.policy.video.enabled:
        return None
    event_id = access.event.event_id
    target = _Target(access, "event", event_id, ctx.services.authz.event_grant(access))
    record = await ctx.loaders.video_rooms.load((target.workspace_id, "event", event_id))
    return None if record is None else (await _open(ctx, target, record)).url


async def join_video_room(
    ctx: RequestContext, channel_id: str | None, event_id: str | None
) -> VideoRoomPass:
    """The room of the channel or event the caller may read, made at the first join, and the
    caller's token into it; the first join after a quiet spell publishes `call.started`."""
    await ctx.require_user()
    policy = _policy(ctx)
    target = await _target(ctx, channel_id, event_id)
    record, _ = await _room_record(ctx, target)
    room = await _open(ctx, target, record)
    if await _mark_join(ctx, target, record):
        await _publish_start(ctx, target)
    token, expires_at = await _token(ctx, policy, target, room)
    return VideoRoomPass(room=room, token=token, expires_at=expires_at)


async def rotate_video_room(
    ctx: RequestContext, channel_id: str | None, event_id: str | None
) -> VideoRoom:
    """A new random name for the room (its moderators only): the old URL leads nowhere Cove
    sends anyone again. Those still in the old room stay there until they leave."""
    await ctx.require_user()
    _policy(ctx)
    target = await _target(ctx, channel_id, event_id)
    ctx.services.authz.rotate_video_room(target.access)
    repository = ctx.services.video_rooms
    for _ in range(ATTEMPTS):
        record, made = await _room_record(ctx, target)
        if made:
            return await _open(ctx, target, record)
        sealed = await ctx.services.keys.seal_text(target.ref, new_room_name())
        if await repository.rotate(record, sealed):
            return await _open(ctx, target, replace(record, room_sealed=sealed))
    raise CoveError(ErrorCode.INTERNAL, "The video room could not be renamed.")
