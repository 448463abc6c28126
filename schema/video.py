"""Video rooms on Jitsi: joining a channel's or an event's room, and renaming it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import video_rooms
from schema.context import request_context
from schema.relay import expect_id


@strawberry.type(description="A Jitsi room: its random name and where it opens.")
class VideoRoom:
    name: str = strawberry.field(
        description="256 random bits in lowercase base32 (52 characters); a secret: whoever "
        "knows it may join on a server without token authentication."
    )
    url: str = strawberry.field(description="The room on the configured Jitsi server.")


@strawberry.input(description="One of the two: the channel's room, or the event's.")
class VideoRoomInput:
    channel_id: strawberry.ID | None = None
    event_id: strawberry.ID | None = None


@strawberry.type
class JoinVideoRoomPayload:
    room: VideoRoom
    token: str | None = strawberry.field(
        description="A Jitsi JWT admitting you to this room (open it as `url?jwt=token`); "
        "null when the server has no Jitsi app secret (a public Jitsi)."
    )
    expires_at: datetime | None = strawberry.field(
        description="When `token` stops admitting you; null without a token."
    )


@strawberry.type
class RotateVideoRoomPayload:
    room: VideoRoom = strawberry.field(description="The room under its new name.")


def _ids(input: VideoRoomInput) -> tuple[str | None, str | None]:
    return (
        None if input.channel_id is None else expect_id(input.channel_id, "Channel"),
        None if input.event_id is None else expect_id(input.event_id, "Event"),
    )


def _room(room: video_rooms.VideoRoom) -> VideoRoom:
    return VideoRoom(name=room.name, url=room.url)


async def join_video_room(
    info: Info[Any, Any], input: VideoRoomInput
) -> JoinVideoRoomPayload | None:
    granted = await video_rooms.join_video_room(request_context(info), *_ids(input))
    return JoinVideoRoomPayload(
        room=_room(granted.room), token=granted.token, expires_at=granted.expires_at
    )


async def rotate_video_room(
    info: Info[Any, Any], input: VideoRoomInput
) -> RotateVideoRoomPayload | None:
    room = await video_rooms.rotate_video_room(request_context(info), *_ids(input))
    return RotateVideoRoomPayload(room=_room(room))


@strawberry.type
class VideoMutation:
    join_video_room: JoinVideoRoomPayload | None = strawberry.mutation(
        resolver=join_video_room,
        description="The video room of a channel or an event you may read, and your token "
        "into it; the first join after a quiet spell publishes `call.started`.",
    )
    rotate_video_room: RotateVideoRoomPayload | None = strawberry.mutation(
        resolver=rotate_video_room,
        description="Give the room a new random name (the channel's managers, the event's "
        "organisers); the old URL is no longer handed out.",
    )
