"""Realtime: sessions and keys over HTTPS, and the sealed event stream over WebSocket."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from resolvers import realtime
from resolvers.realtime import Envelope, KeyView
from schema.context import request_context
from schema.relay import expect_id


@strawberry.type(description="A subscriber key: AES-256-GCM, 32 bytes, standard base64.")
class RealtimeKey:
    id: strawberry.ID
    secret: str
    expires_at: datetime = strawberry.field(description="When the stream moves to a new key.")

    @classmethod
    def from_view(cls, view: KeyView) -> RealtimeKey:
        return cls(id=strawberry.ID(view.id), secret=view.secret, expires_at=view.expires_at)


@strawberry.type(description="A realtime session: subscribe with its id, decrypt with its keys.")
class RealtimeSession:
    id: strawberry.ID
    key: RealtimeKey


@strawberry.type(
    description=(
        "One event, sealed for this subscriber: AES-256-GCM under key `keyId`, associated data "
        '"<sessionId>:<seq>"; `nonce` (12 bytes) and `ciphertext` (with its 16-byte tag) in '
        "standard base64. The plaintext is JSON {type, topic, data, position}: `position` is "
        "the notice's place in its topic (absent for typing); type `resync` means notices up "
        "to `position` may be missing: fetch the topic's state again."
    )
)
class RealtimeEvent:
    key_id: strawberry.ID
    seq: int
    nonce: str
    ciphertext: str

    @classmethod
    def from_envelope(cls, envelope: Envelope) -> RealtimeEvent:
        return cls(
            key_id=strawberry.ID(envelope.key_id),
            seq=envelope.seq,
            nonce=envelope.nonce,
            ciphertext=envelope.ciphertext,
        )


@strawberry.input(
    description="Where a stream left a topic: the `position` of the last event received."
)
class RealtimePositionInput:
    topic: strawberry.ID
    position: int


@strawberry.type
class OpenRealtimeSessionPayload:
    session: RealtimeSession


@strawberry.input
class RealtimeKeyInput:
    session_id: strawberry.ID
    key_id: strawberry.ID


@strawberry.type
class RealtimeKeyPayload:
    key: RealtimeKey


@strawberry.input
class CloseRealtimeSessionInput:
    session_id: strawberry.ID


@strawberry.type
class CloseRealtimeSessionPayload:
    closed_session_id: strawberry.ID


@strawberry.input
class TypingInput:
    channel_id: strawberry.ID


@strawberry.type
class TypingPayload:
    ok: bool


async def open_realtime_session(info: Info[Any, Any]) -> OpenRealtimeSessionPayload | None:
    session_id, key = await realtime.open_session(request_context(info))
    return OpenRealtimeSessionPayload(
        session=RealtimeSession(id=strawberry.ID(session_id), key=RealtimeKey.from_view(key))
    )


async def realtime_key(info: Info[Any, Any], input: RealtimeKeyInput) -> RealtimeKeyPayload | None:
    key = await realtime.realtime_key(request_context(info), input.session_id, input.key_id)
    return RealtimeKeyPayload(key=RealtimeKey.from_view(key))


async def close_realtime_session(
    info: Info[Any, Any],
    input: CloseRealtimeSessionInput,
) -> CloseRealtimeSessionPayload | None:
    await realtime.close_session(request_context(info), input.session_id)
    return CloseRealtimeSessionPayload(closed_session_id=input.session_id)


async def typing(info: Info[Any, Any], input: TypingInput) -> TypingPayload | None:
    await realtime.typing(request_context(info), expect_id(input.channel_id, "Channel"))
    return TypingPayload(ok=True)


async def events(
    info: Info[Any, Any],
    session_id: strawberry.ID,
    topics: list[strawberry.ID],
    since: list[RealtimePositionInput] | None = None,
) -> AsyncGenerator[RealtimeEvent, None]:
    """Events of the topics (channel, workspace or your own user ids), sealed for you."""
    positions = {str(p.topic): p.position for p in since or ()}
    stream = realtime.subscribe(
        request_context(info), session_id, [str(t) for t in topics], positions
    )
    async for envelope in stream:
        yield RealtimeEvent.from_envelope(envelope)


@strawberry.type
class RealtimeMutation:
    open_realtime_session: OpenRealtimeSessionPayload | None = strawberry.mutation(
        resolver=open_realtime_session,
        description="Open a realtime session; its first key comes with it.",
    )
    realtime_key: RealtimeKeyPayload | None = strawberry.mutation(
        resolver=realtime_key,
        description="Fetch a key of your realtime session (after a rotation), access permitting.",
    )
    close_realtime_session: CloseRealtimeSessionPayload | None = strawberry.mutation(
        resolver=close_realtime_session,
        description="End a realtime session: its keys are refused from then on.",
    )
    typing: TypingPayload | None = strawberry.mutation(
        resolver=typing, description="Tell a channel you are typing (never stored)."
    )


@strawberry.type
class RealtimeSubscription:
    @strawberry.subscription(
        description="Sealed events of the topics; see docs/realtime.md for the format."
    )
    async def events(
        self,
        info: Info[Any, Any],
        session_id: strawberry.ID,
        topics: list[strawberry.ID],
        since: Annotated[
            list[RealtimePositionInput] | None,
            strawberry.argument(
                description="Resume: per topic, the position of the last event received; "
                "the stream starts with the events after it, or a `resync` event."
            ),
        ] = None,
    ) -> AsyncGenerator[RealtimeEvent, None]:
        async for event in events(info, session_id, topics, since):
            yield event
