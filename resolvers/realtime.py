"""Realtime sessions: keys handed out over HTTPS after an access check, and the notice stream
each subscriber receives sealed under its own rotating key, in the format of docs/contract.md,
"Realtime wire format".

A stream delivers each topic's notices in position order: a notice ahead of the last one
delivered is preceded by those between, read from the topic's history in the store (after
checking again that the caller may read the topic, and the object a notice tells of), and
sealed like live ones; when the history no longer reaches back, by a `resync` notice instead.
A subscription given `since` positions starts with what came after them."""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from crypto.errors import SealError
from crypto.field_seal import FieldRef
from crypto.realtime import new_realtime_key, open_history, seal_notice
from persistence.ids import new_id
from persistence.realtime import RealtimeKeyRecord, RealtimeSessionRecord
from resolvers.app_auth import grant_until
from resolvers.authz import Principal
from resolvers.channels import channel_access
from resolvers.context import RequestContext
from resolvers.errors import bad_input, not_found
from resolvers.global_ids import is_raw_id, to_global_id
from resolvers.hub import SKIPPED, Delivery, Subscription
from resolvers.notice_types import ChannelNotice
from resolvers.services import Services
from resolvers.topics import can_read, is_topic

log = logging.getLogger("cove.realtime")

# The notice that tells a subscriber to fetch a topic's state again: notices up to its
# `position` may be missing from the stream (the history no longer reaches back).
RESYNC = "resync"
# Each key lives between (1 - this) and the whole of `rotate_seconds` and `rotate_events`,
# drawn anew for each: subscribers who joined together (a team opening the app at 9:00, a
# channel's hundred, counting the same events) must not all rotate in the same moment: a
# burst of a thousand key writes and reads at once.
ROTATION_SPREAD = 0.2


def _spread(limit: int) -> int:
    """`limit` less a random share of at most ROTATION_SPREAD of it; at least 1."""
    return max(1, limit - secrets.randbelow(int(limit * ROTATION_SPREAD) + 1))


@dataclass(frozen=True)
class KeyView:
    id: str
    secret: str  # standard base64
    expires_at: datetime


@dataclass(frozen=True)
class Envelope:
    key_id: str
    seq: int
    nonce: str
    ciphertext: str


def secret_ref(session_id: str, key_id: str) -> FieldRef:
    return FieldRef(
        entity="realtime_key", field="secret", row_id=f"{session_id}/{key_id}", workspace_id=""
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def _new_key(
    ctx: RequestContext, session_id: str, now: datetime
) -> tuple[RealtimeKeyRecord, bytes]:
    policy = ctx.services.policy.realtime
    key_id = new_id()
    secret = new_realtime_key()
    sealed = await ctx.services.keys.seal_text(secret_ref(session_id, key_id), _b64(secret))
    record = RealtimeKeyRecord(
        session_id=session_id,
        key_id=key_id,
        secret_sealed=sealed,
        created_at=now,
        expires_at=now + timedelta(seconds=_spread(policy.rotate_seconds)),
    )
    return record, secret


async def open_session(ctx: RequestContext) -> tuple[str, KeyView]:
    """A new realtime session with its first key, for any signed-in user."""
    services = ctx.services
    caller = await ctx.require_user()
    limit = services.policy.realtime.max_sessions_per_user
    if await services.realtime.count_for_user(caller.user_id, limit=limit) >= limit:
        raise bad_input(
            f"At most {limit} realtime sessions per user; close one with closeRealtimeSession."
        )
    until = await login_until(services, caller, caller.session_id)
    if until is None:
        raise not_found("session")
    now = services.clock()
    session_id = new_id()
    key, secret = await _new_key(ctx, session_id, now)
    session = RealtimeSessionRecord(
        session_id=session_id,
        user_id=caller.user_id,
        login_session_id=caller.session_id,
        topics="",
        created_at=now,
        expires_at=until,
    )
    await services.realtime.create(session, key)
    return session_id, KeyView(key.key_id, _b64(secret), key.expires_at)


async def _live_session(ctx: RequestContext, session_id: str) -> RealtimeSessionRecord:
    """The caller's own session while its login lives; any other answer is NOT_FOUND."""
    services = ctx.services
    caller = await ctx.require_user()
    session = await services.realtime.get(session_id) if is_raw_id(session_id) else None
    if session is None or session.user_id != caller.user_id:
        raise not_found("realtime session")
    until = await login_until(services, caller, session.login_session_id)
    if until is None or until <= services.clock():
        raise not_found("realtime session")
    return session


async def login_until(
    services: Services, caller: Principal, login_session_id: str
) -> datetime | None:
    """When the login behind a realtime session ends: a person's sign-in session, or an
    app's token family (resolvers/app_auth.py); None when it has ended."""
    if caller.app is not None:
        return await grant_until(services, caller, login_session_id)
    login = await services.accounts.get_session(caller.user_id, login_session_id)
    return None if login is None else login.expires_at


async def realtime_key(ctx: RequestContext, session_id: str, key_id: str) -> KeyView:
    """A key of the caller's session, while it may still read every one of the session's
    topics: a key that sealed a topic's notices is never handed to someone who lost it."""
    services = ctx.services
    session = await _live_session(ctx, session_id)
    caller = ctx.principal_now()
    topics = session.topics.split()
    if not await _reads_all(services, caller, topics):
        raise not_found("realtime key")
    key = await services.realtime.get_key(session_id, key_id) if is_raw_id(key_id) else None
    if key is None:
        raise not_found("realtime key")
    grant = services.authz.own_realtime_key(caller, session.user_id, secret_ref(session_id, key_id))
    secret = await services.keys.open_text(grant, secret_ref(session_id, key_id), key.secret_sealed)
    return KeyView(key.key_id, secret, key.expires_at)


async def _reads_all(services: Services, caller: Principal, topics: list[str]) -> bool:
    """Whether the caller may still read every topic; stops at the first that it may not
    (each check reads memberships from the store)."""
    for topic in topics:
        if not await can_read(services, caller, topic):
            return False
    return True


async def close_session(ctx: RequestContext, session_id: str) -> None:
    """End a realtime session: its keys are deleted and its subscription completes."""
    session = await _live_session(ctx, session_id)
    await ctx.services.realtime.delete(session)
    await ctx.services.notices.session_ended(session_id)


async def subscribe(
    ctx: RequestContext,
    session_id: str,
    topics: list[str],
    since: Mapping[str, int] | None = None,
) -> AsyncIterator[Envelope]:
    """The session's stream: each notice sealed under the session's current key, numbered;
    with `since`, a topic's notices after that position first (or a `resync`)."""
    services = ctx.services
    policy = services.policy.realtime
    session = await _live_session(ctx, session_id)
    caller = ctx.principal_now()
    wanted = list(dict.fromkeys(topics))
    if not 1 <= len(wanted) <= policy.max_topics:
        raise bad_input(f"Subscribe to 1 to {policy.max_topics} topics.", field="topics")
    since = dict(since or {})
    if any(topic not in wanted or position < 0 for topic, position in since.items()):
        raise bad_input(
            "Give `since` positions (0 or more) of subscribed topics only.", field="since"
        )
    for topic in wanted:
        if not is_topic(topic) or not await can_read(services, caller, topic):
            raise not_found("topic")
    subscription = Subscription(
        session_id=session_id,
        login_session_id=session.login_session_id,
        principal=caller,
        topics=set(wanted),
        queue_limit=policy.queue_limit,
    )
    if not services.hub.add(subscription):
        raise bad_input("This session already has a subscription; open another session.")
    try:
        await services.realtime.set_topics(session_id, " ".join(wanted))
        await services.presence.seen(caller.user_id)
        await services.presence.active(caller.user_id)
        await _start_positions(services, subscription, wanted, since)
        async for envelope in _sealed(ctx, caller, session, subscription):
            yield envelope
    finally:
        services.hub.remove(subscription)


async def _sealed(
    ctx: RequestContext,
    caller: Principal,
    session: RealtimeSessionRecord,
    subscription: Subscription,
) -> AsyncIterator[Envelope]:
    services = ctx.services
    policy = services.policy.realtime
    # The first stream uses the key handed out with the session; a later one (after a
    # reconnect) starts a fresh key, so no (key, seq) pair is ever used twice.
    first = await services.realtime.latest_key(session.session_id) if not session.topics else None
    if first is not None:
        ref = secret_ref(session.session_id, first.key_id)
        grant = services.authz.own_realtime_key(caller, session.user_id, ref)
        secret = base64.b64decode(await services.keys.open_text(grant, ref, first.secret_sealed))
        key = first
    else:
        key, secret = await _new_key(ctx, session.session_id, services.clock())
        await services.realtime.add_key(key)
    used = 0
    budget = _spread(policy.rotate_events)
    seq = 0
    async for plaintext in _in_order(ctx, caller, subscription):
        now = services.clock()
        if used >= budget or now >= key.expires_at:
            # A rotation is also when a stream notices its login has ended or expired.
            until = await login_until(services, caller, session.login_session_id)
            if until is None or until <= now:
                return
            key, secret = await _new_key(ctx, session.session_id, now)
            await services.realtime.add_key(key)
            used = 0
            budget = _spread(policy.rotate_events)
        seq += 1
        used += 1
        nonce, ciphertext = seal_notice(secret, session.session_id, seq, plaintext)
        yield Envelope(key.key_id, seq, _b64(nonce), _b64(ciphertext))


async def typing(ctx: RequestContext, channel_id: str) -> None:
    """Tell the channel that the caller is typing; nothing is stored."""
    access = await channel_access(ctx, channel_id)
    ctx.services.authz.post(access)
    await ctx.services.presence.active(access.workspace.principal.user_id)
    await ctx.services.notices.publish(
        to_global_id("Channel", channel_id),
        ChannelNotice.TYPING,
        {"userId": to_global_id("User", access.workspace.principal.user_id)},
    )


def _resync(topic: str, position: int) -> bytes:
    body = {"type": RESYNC, "topic": topic, "data": {}, "position": position}
    return json.dumps(body, separators=(",", ":")).encode()


async def _start_positions(
    services: Services, subscription: Subscription, topics: list[str], since: dict[str, int]
) -> None:
    """Each topic starts at its newest position (read after the subscription joined the hub,
    so nothing newer is missed), or at `since`, caught up from the history."""
    history = services.notices.history
    if history is None:
        return
    heads = await history.repository.heads(topics)
    for topic in topics:
        head = heads[topic]
        start = since.get(topic, head)
        if start > head:  # a position this topic never had (its history was lost)
            subscription.positions[topic] = head
            subscription.offer(_resync(topic, head))
            continue
        subscription.positions[topic] = start
        if start < head:
            subscription.catch_up(topic, head)


async def _in_order(
    ctx: RequestContext, caller: Principal, subscription: Subscription
) -> AsyncIterator[bytes]:
    """The plaintexts to deliver, each topic's in position order, without repeats."""
    async for delivery in subscription.deliveries():
        async for plaintext in _deliver(ctx, caller, subscription, delivery):
            yield plaintext


async def _deliver(
    ctx: RequestContext, caller: Principal, subscription: Subscription, delivery: Delivery
) -> AsyncIterator[bytes]:
    topic, position = delivery.topic, delivery.position
    if topic is None or position is None:  # never numbered (typing, a resync)
        if delivery.plaintext:
            yield delivery.plaintext
        return
    if delivery.plaintext is None:
        subscription.caught_up(topic)
    if topic not in subscription.topics or topic not in subscription.positions:
        return
    # A live notice needs those before it first; a catch-up request needs all up to its own.
    target = position if delivery.plaintext is None else position - 1
    if target > subscription.positions[topic]:
        async for plaintext in _from_history(ctx, caller, subscription, topic, target):
            yield plaintext
    if (
        delivery.plaintext is not None
        and topic in subscription.topics
        and position > subscription.positions[topic]
    ):
        subscription.positions[topic] = position
        if delivery.plaintext != SKIPPED:
            yield delivery.plaintext


async def _from_history(
    ctx: RequestContext, caller: Principal, subscription: Subscription, topic: str, target: int
) -> AsyncIterator[bytes]:
    """The topic's notices after the last delivered, up to `target`, from the store; or a
    resync when they are not all there. Access is checked again first: the broker that
    would have carried an `access` change may be the thing that failed."""
    services = ctx.services
    history = services.notices.history
    if history is None:
        return
    if not await _still_open(services, caller, subscription):
        # The login or the session ended (its news may have been lost too): every topic
        # stops, so nothing numbered is delivered from here, and the stream completes.
        for each in list(subscription.topics):
            services.hub.drop_topic(subscription, each)
        return
    if not await can_read(services, caller, topic):
        services.hub.drop_topic(subscription, topic)
        return
    last = subscription.positions[topic]
    # Further back than the history keeps, nothing is read: it cannot all be there.
    wanted = target - last
    rows = (
        await history.repository.after(topic, last, limit=wanted) if wanted <= history.limit else []
    )
    readable: dict[str, bool] = {}
    for row in rows:
        if row.position != subscription.positions[topic] + 1:
            break  # a hole: older rows were deleted while newer ones stayed
        try:
            record = json.loads(open_history(history.key, topic, row.position, row.sealed))
        except (SealError, ValueError):
            log.warning("a realtime history row does not open: resync sent", exc_info=True)
            break
        about = record.get("about")
        if about is not None and about not in readable:
            readable[about] = await can_read(services, caller, about)
        subscription.positions[topic] = row.position
        if about is None or readable[about]:
            body = {"type": record["type"], "topic": topic, "data": record["data"]}
            body["position"] = row.position
            yield json.dumps(body, separators=(",", ":")).encode()
    if subscription.positions[topic] < target:
        subscription.positions[topic] = target
        yield _resync(topic, target)


async def _still_open(services: Services, caller: Principal, subscription: Subscription) -> bool:
    """Whether the realtime session and the login it was opened with both still live."""
    session = await services.realtime.get(subscription.session_id)
    if session is None:
        return False
    until = await login_until(services, caller, subscription.login_session_id)
    return until is not None and until > services.clock()
