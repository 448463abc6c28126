"""Messages: posting, editing, erasing, threads, reactions, pins and mentions."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from crypto.field_seal import FieldRef
from crypto.grants import Grant
from persistence.drive_records import FILE
from persistence.ids import new_id
from persistence.messages import MessageLocation, MessageRecord, PinRecord, ReactionRecord
from persistence.space import writes_when_full
from resolvers.accounts import UserView
from resolvers.authz import ChannelAccess, DriveAccess
from resolvers.channels import ChannelView, channel_access
from resolvers.context import RequestContext
from resolvers.drive_access import ItemView, item_access
from resolvers.errors import CoveError, bad_input, not_found
from resolvers.global_ids import to_global_id as gid
from resolvers.keys import ACCOUNT_SCOPE
from resolvers.notice_types import MessageNotice
from resolvers.pagination import Cursor, Page, check_first, decode_cursor
from resolvers.users import fellow

MAX_MENTIONS = 50
MAX_ATTACHMENTS = 10
MAX_EMOJI = 32
EMOJI_INDEX = "emoji"
_MENTIONS_SCAN_ROUNDS = 10


def text_ref(message_id: str, workspace_id: str) -> FieldRef:
    return FieldRef(entity="message", field="text", row_id=message_id, workspace_id=workspace_id)


def emoji_ref(message_id: str, workspace_id: str) -> FieldRef:
    return FieldRef(entity="reaction", field="emoji", row_id=message_id, workspace_id=workspace_id)


@dataclass(frozen=True)
class ReactionGroup:
    emoji: str
    count: int
    viewer_reacted: bool


class MessageView:
    """A message as one caller sees it; text and emoji open with that caller's grant."""

    def __init__(
        self,
        ctx: RequestContext,
        access: ChannelAccess,
        record: MessageRecord,
        people: Mapping[str, UserView] | None = None,
    ) -> None:
        self.access = access
        self.record = record
        self._ctx = ctx
        self._grant: Grant = ctx.services.authz.message_grant(access, record.message_id)
        self._people = people or {}

    @property
    def id(self) -> str:
        return self.record.message_id

    @property
    def created_at(self) -> datetime:
        return self.record.created_at

    @property
    def edited_at(self) -> datetime | None:
        return self.record.edited_at

    @property
    def reply_count(self) -> int:
        return self.record.reply_count

    @property
    def thread_id(self) -> str | None:
        return self.record.thread_id or None

    def text_ready(self) -> str | None:
        """The text when it opens without waiting (its key loaded); else None."""
        ref = text_ref(self.id, self.record.workspace_id)
        return self._ctx.services.keys.open_text_now(self._grant, ref, self.record.text_sealed)

    async def text(self) -> str:
        ref = text_ref(self.id, self.record.workspace_id)
        return await self._ctx.services.keys.open_text(self._grant, ref, self.record.text_sealed)

    def _user(self, user_id: str) -> UserView:
        known = self._people.get(user_id)
        if known is not None:
            return known
        return fellow(self._ctx, self.access.workspace, user_id)

    def author(self) -> UserView:
        return self._user(self.record.author_id)

    def mentions(self) -> list[UserView]:
        return [self._user(user_id) for user_id in self.record.mentions]

    def channel(self) -> ChannelView:
        return ChannelView(self._ctx, self.access)

    async def reactions(self) -> list[ReactionGroup]:
        rows = await self._ctx.loaders.reactions.load(self.id)
        me = self.access.workspace.principal.user_id
        groups: dict[bytes, list[ReactionRecord]] = {}
        for row in rows:
            groups.setdefault(row.emoji_index, []).append(row)
        keys = self._ctx.services.keys
        ref = emoji_ref(self.id, self.record.workspace_id)
        result = []
        for members in groups.values():
            emoji = await keys.open_text(self._grant, ref, members[0].emoji_sealed)
            mine = any(r.user_id == me for r in members)
            result.append(ReactionGroup(emoji=emoji, count=len(members), viewer_reacted=mine))
        result.sort(key=lambda g: (-g.count, g.emoji))
        return result

    async def attachments(self) -> list[ItemView]:
        """The files attached, at the version attached; readable by whoever reads the message.
        A file deleted for good since is left out."""
        pairs = await self._ctx.loaders.attachments.load(self.id)
        if not pairs:
            return []
        records = await self._ctx.loaders.drive_items.load_many([f for f, _ in pairs])
        views = []
        authz = self._ctx.services.authz
        for (_, version_id), item in zip(pairs, records, strict=True):
            if item is not None:
                access = authz.attachment(self.access, self.id, item, attached=True)
                views.append(ItemView(self._ctx, access, pinned_version_id=version_id))
        return views

    async def pinned(self) -> bool:
        if self.record.thread_id:
            return False
        return await self._ctx.loaders.pins.load((self.record.channel_id, self.id)) is not None

    async def parent(self) -> MessageView | None:
        if not self.record.thread_id:
            return None
        return await _view_at(self._ctx, self.access, self.record.thread_id)


async def page_views(
    ctx: RequestContext, access: ChannelAccess, records: Sequence[MessageRecord]
) -> list[MessageView]:
    """Views of a page of messages with everything their plain fields need loaded at once:
    the keys of their texts, their authors' rows and the keys of the authors' names."""
    keys = ctx.services.keys
    await keys.preload(access.workspace.workspace_id, (r.text_sealed for r in records))
    author_ids = list(dict.fromkeys(r.author_id for r in records))
    found = await ctx.loaders.users.load_many(author_ids)
    authors = [user for user in found if user is not None]
    await keys.preload(ACCOUNT_SCOPE, (user.display_name_sealed for user in authors))
    # One view per author for the whole page, so each name is opened once.
    people = {user.user_id: fellow(ctx, access.workspace, user.user_id, user) for user in authors}
    return [MessageView(ctx, access, record, people) for record in records]


async def _view_at(ctx: RequestContext, access: ChannelAccess, message_id: str) -> MessageView:
    location = await ctx.loaders.locations.load(message_id)
    if location is None or location.channel_id != access.channel_id:
        raise not_found("message")
    record = await ctx.loaders.messages.load(location)
    if record is None:
        raise not_found("message")
    return MessageView(ctx, access, record)


async def get_message(ctx: RequestContext, message_id: str) -> MessageView:
    """A message the caller may read (through its channel), or NOT_FOUND."""
    await ctx.require_user()
    location = await ctx.loaders.locations.load(message_id)
    if location is None:
        raise not_found("message")
    try:
        access = await channel_access(ctx, location.channel_id)
    except CoveError:
        raise not_found("message") from None
    return await _view_at(ctx, access, message_id)


def _message_data(record: MessageRecord, text: str) -> dict[str, object]:
    return {
        "id": gid("Message", record.message_id),
        "text": text,
        "authorId": gid("User", record.author_id),
        "createdAt": record.created_at.isoformat(),
        "editedAt": record.edited_at.isoformat() if record.edited_at else None,
        "threadId": gid("Message", record.thread_id) if record.thread_id else None,
        "mentionIds": [gid("User", u) for u in record.mentions],
    }


async def _publish(
    ctx: RequestContext, record: MessageRecord, type_: MessageNotice, data: dict[str, object]
) -> None:
    """Tell the channel's subscribers; its readers are exactly those who may read the data."""
    await ctx.services.notices.publish(gid("Channel", record.channel_id), type_, data)


async def _publish_reaction(
    ctx: RequestContext, message: MessageView, emoji: str, *, reacted: bool
) -> None:
    data = {
        "messageId": gid("Message", message.id),
        "emoji": emoji,
        "userId": gid("User", message.access.workspace.principal.user_id),
        "reacted": reacted,
    }
    await _publish(ctx, message.record, MessageNotice.REACTION_CHANGED, data)


def _clean_text(ctx: RequestContext, text: str) -> str:
    limit = ctx.services.policy.max_message_length
    if not text.strip():
        raise bad_input("The message must not be empty.", field="text")
    if len(text) > limit:
        raise bad_input(f"The message must be at most {limit:,} characters long.", field="text")
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text):
        raise bad_input("The message must not contain control characters.", field="text")
    return text


async def _check_mentions(
    ctx: RequestContext, access: ChannelAccess, user_ids: list[str]
) -> tuple[str, ...]:
    unique = tuple(dict.fromkeys(user_ids))
    if len(unique) > MAX_MENTIONS:
        raise bad_input(f"A message mentions at most {MAX_MENTIONS} people.", field="mentionIds")
    if unique:
        found = await ctx.services.workspaces.memberships(
            access.workspace.workspace_id, list(unique)
        )
        if any(m is None for m in found):
            raise bad_input("Only members of the workspace can be mentioned.", field="mentionIds")
    return unique


async def post_message(
    ctx: RequestContext,
    channel_id: str,
    text: str,
    reply_to_id: str | None,
    mention_ids: list[str],
    *,
    attachment_ids: Sequence[str] = (),
) -> MessageView:
    services = ctx.services
    access = await channel_access(ctx, channel_id)
    services.authz.post(access)
    clean = _clean_text(ctx, text)
    mentions = await _check_mentions(ctx, access, mention_ids)
    attached = await _check_attachments(ctx, access, attachment_ids)
    thread_id = ""
    parent: MessageRecord | None = None
    if reply_to_id is not None:
        parent_view = await _view_at(ctx, access, reply_to_id)
        # A reply to a reply joins the same thread: threads are one level deep.
        thread_id = parent_view.record.thread_id or parent_view.id
        parent = parent_view.record if not parent_view.record.thread_id else None
        if parent is None:
            parent = (await _view_at(ctx, access, thread_id)).record
    message_id = new_id()
    workspace_id = access.workspace.workspace_id
    now = services.clock()
    record = MessageRecord(
        message_id=message_id,
        channel_id=channel_id,
        workspace_id=workspace_id,
        thread_id=thread_id,
        author_id=access.workspace.principal.user_id,
        text_sealed=await services.keys.seal_text(text_ref(message_id, workspace_id), clean),
        mentions=mentions,
        created_at=now,
        edited_at=None,
    )
    # Attachments first: without their message they are never read.
    await services.drive.put_attachments(message_id, attached)
    await _store(ctx, record)
    await services.presence.active(record.author_id)
    if parent is not None:
        await services.messages.refresh_thread(parent.location, now)
    await _announce(ctx, record, clean, attached)
    return MessageView(ctx, access, record)


async def _store(ctx: RequestContext, record: MessageRecord) -> None:
    services = ctx.services
    # The search outbox entry goes in the message's batch: nothing is posted unindexed.
    entry = services.indexer.entry(record.workspace_id, "message", record.message_id)
    await services.messages.post(record, [entry])
    services.indexer.queued()


async def _announce(
    ctx: RequestContext,
    record: MessageRecord,
    clean: str,
    attached: Sequence[tuple[str, str]] = (),
) -> None:
    data = _message_data(record, clean)
    data["attachmentIds"] = [gid("File", f) for f, _ in attached]
    await _publish(ctx, record, MessageNotice.CREATED, data)


async def post_as(
    ctx: RequestContext, access: ChannelAccess, author_id: str, text: str
) -> MessageRecord:
    """Post `text` through the caller's `access` (who must be allowed to post there) shown
    as `author_id` (an incoming webhook's bot): sealed, indexed and announced as any post."""
    ctx.services.authz.post(access)
    clean = _clean_text(ctx, text)
    message_id = new_id()
    workspace_id = access.workspace.workspace_id
    record = MessageRecord(
        message_id=message_id,
        channel_id=access.channel_id,
        workspace_id=workspace_id,
        thread_id="",
        author_id=author_id,
        text_sealed=await ctx.services.keys.seal_text(text_ref(message_id, workspace_id), clean),
        mentions=(),
        created_at=ctx.services.clock(),
        edited_at=None,
    )
    await _store(ctx, record)
    await _announce(ctx, record, clean)
    return record


async def edit_message(
    ctx: RequestContext, message_id: str, text: str, mention_ids: list[str] | None
) -> MessageView:
    services = ctx.services
    current = await get_message(ctx, message_id)
    services.authz.edit_message(current.access, current.record.author_id)
    clean = _clean_text(ctx, text)
    mentions = (
        current.record.mentions
        if mention_ids is None
        else await _check_mentions(ctx, current.access, mention_ids)
    )
    now = services.clock()
    ref = text_ref(message_id, current.record.workspace_id)
    sealed = await services.keys.seal_text(ref, clean)
    entry = services.indexer.entry(current.record.workspace_id, "message", message_id)
    await services.messages.edit(current.record, sealed, mentions, now, [entry])
    services.indexer.queued()
    record = replace(current.record, text_sealed=sealed, mentions=mentions, edited_at=now)
    await _publish(ctx, record, MessageNotice.EDITED, _message_data(record, clean))
    return MessageView(ctx, current.access, record)


async def delete_message(ctx: RequestContext, message_id: str) -> None:
    """Erase a message: its text leaves storage, with its reactions, pin and mentions. It
    frees space, so it goes through on a full volume (persistence/space.py)."""
    services = ctx.services
    current = await get_message(ctx, message_id)
    services.authz.delete_message(current.access, current.record.author_id)
    indexer = services.indexer
    with writes_when_full():
        await services.messages.delete(
            current.record, lambda m: [indexer.entry(m.workspace_id, "message", m.message_id)]
        )
        indexer.queued()
        await services.drive.delete_attachments(message_id)
        ctx.loaders.locations.clear(message_id)
        if current.record.thread_id:
            parent = MessageLocation(
                current.record.thread_id, current.record.channel_id, current.record.workspace_id, ""
            )
            await services.messages.refresh_thread(parent, services.clock())
        await _publish(
            ctx, current.record, MessageNotice.DELETED, {"id": gid("Message", message_id)}
        )


async def _check_attachments(
    ctx: RequestContext, access: ChannelAccess, file_ids: Sequence[str]
) -> list[tuple[str, str]]:
    """(file id, current version id) of each file; the poster must be able to read each."""
    unique = list(dict.fromkeys(file_ids))
    if len(unique) > MAX_ATTACHMENTS:
        raise bad_input(
            f"A message carries at most {MAX_ATTACHMENTS} attachments.", field="attachmentIds"
        )
    attached = []
    for file_id in unique:
        try:
            file = await item_access(ctx, file_id)
        except CoveError:
            raise not_found("file") from None
        if file.item.kind != FILE or file.item.current_version_id is None:
            raise not_found("file")
        if file.item.workspace_id != access.workspace.workspace_id:
            raise bad_input("Attach files of this workspace only.", field="attachmentIds")
        if file.in_trash:
            raise bad_input("An attached file is in the trash.", field="attachmentIds")
        attached.append((file_id, file.item.current_version_id))
    return attached


async def attachment_access(
    ctx: RequestContext, message_id: str, file_id: str, version_id: str | None = None
) -> DriveAccess:
    """Access to a file through a message it is attached to: reading the message suffices.
    With `version_id`, that version must be the one attached."""
    message = await get_message(ctx, message_id)
    pairs = await ctx.services.drive.attachments(message_id)
    item = await ctx.loaders.drive_items.load(file_id)
    if item is None:
        raise not_found("file")
    attached = any(f == file_id and version_id in (None, v) for f, v in pairs)
    return ctx.services.authz.attachment(message.access, message_id, item, attached)


def _clean_emoji(emoji: str) -> str:
    clean = unicodedata.normalize("NFC", emoji.strip())
    if not clean or len(clean) > MAX_EMOJI:
        raise bad_input(f"An emoji is 1 to {MAX_EMOJI} characters.", field="emoji")
    if any(ch.isspace() or unicodedata.category(ch) in {"Cc", "Zl", "Zp"} for ch in clean):
        raise bad_input("An emoji has no spaces or control characters.", field="emoji")
    return clean


def _emoji_index(ctx: RequestContext, workspace_id: str, emoji: str) -> bytes:
    # One keyed hash over (workspace, emoji): equal emoji group, nothing readable is stored.
    return ctx.services.keyring.blind_index(EMOJI_INDEX, f"{workspace_id}\x00{emoji}")


async def add_reaction(ctx: RequestContext, message_id: str, emoji: str) -> MessageView:
    services = ctx.services
    current = await get_message(ctx, message_id)
    services.authz.post(current.access)
    clean = _clean_emoji(emoji)
    workspace_id = current.record.workspace_id
    reaction = ReactionRecord(
        message_id=message_id,
        emoji_index=_emoji_index(ctx, workspace_id, clean),
        user_id=current.access.workspace.principal.user_id,
        emoji_sealed=await services.keys.seal_text(emoji_ref(message_id, workspace_id), clean),
        created_at=services.clock(),
    )
    await services.presence.active(reaction.user_id)
    if await services.messages.add_reaction(reaction):  # a repeat changes nothing
        await _publish_reaction(ctx, current, clean, reacted=True)
    ctx.loaders.reactions.clear(message_id)
    return current


async def remove_reaction(ctx: RequestContext, message_id: str, emoji: str) -> MessageView:
    services = ctx.services
    current = await get_message(ctx, message_id)
    services.authz.unreact(current.access)
    clean = _clean_emoji(emoji)
    index = _emoji_index(ctx, current.record.workspace_id, clean)
    me = current.access.workspace.principal.user_id
    if await services.messages.remove_reaction(message_id, index, me):  # none: no change
        await _publish_reaction(ctx, current, clean, reacted=False)
    ctx.loaders.reactions.clear(message_id)
    return current


async def set_pinned(ctx: RequestContext, message_id: str, pinned: bool) -> MessageView:
    services = ctx.services
    current = await get_message(ctx, message_id)
    services.authz.post(current.access)
    if current.record.thread_id:
        raise bad_input("Only messages in the channel itself can be pinned.", field="messageId")
    if pinned:
        pin = PinRecord(
            channel_id=current.record.channel_id,
            message_id=message_id,
            pinned_by=current.access.workspace.principal.user_id,
            pinned_at=services.clock(),
        )
        changed = await services.messages.pin(pin)
    else:
        changed = await services.messages.unpin(current.record.channel_id, message_id)
    ctx.loaders.pins.clear((current.record.channel_id, message_id))
    if changed:  # pinning twice (or unpinning an unpinned message) tells no one anything
        data = {"messageId": gid("Message", message_id), "pinned": pinned}
        await _publish(ctx, current.record, MessageNotice.PIN_CHANGED, data)
    return current


async def channel_messages(
    ctx: RequestContext, access: ChannelAccess, first: int, after: str | None
) -> Page[MessageView]:
    """Top-level messages, newest first, by keyset: posting between pages shifts nothing."""
    check_first(first)
    start = decode_cursor(after, 1)
    rows = await ctx.services.messages.list_channel(
        access.channel_id,
        access.workspace.workspace_id,
        limit=first + 1,
        after_id=str(start[0]) if start else None,
    )
    views = await page_views(ctx, access, rows[:first])
    edges = [(Cursor([v.id]), v) for v in views]
    return Page(edges=edges, has_next_page=len(rows) > first)


async def replies(
    ctx: RequestContext, parent: MessageView, first: int, after: str | None
) -> Page[MessageView]:
    """A thread's replies, oldest first."""
    check_first(first)
    if parent.record.thread_id:
        return Page(edges=[], has_next_page=False)
    start = decode_cursor(after, 1)
    rows = await ctx.services.messages.list_replies(
        parent.record.location, limit=first + 1, after_id=str(start[0]) if start else None
    )
    access = parent.access
    views = await page_views(ctx, access, rows[:first])
    edges = [(Cursor([v.id]), v) for v in views]
    return Page(edges=edges, has_next_page=len(rows) > first)


async def pinned_messages(
    ctx: RequestContext, access: ChannelAccess, first: int, after: str | None
) -> Page[MessageView]:
    """Pinned messages, newest message first."""
    check_first(first)
    start = decode_cursor(after, 1)
    pins = await ctx.services.messages.list_pins(
        access.channel_id, limit=first + 1, after_id=str(start[0]) if start else None
    )
    locations = [
        MessageLocation(p.message_id, access.channel_id, access.workspace.workspace_id, "")
        for p in pins[:first]
    ]
    records = await ctx.loaders.messages.load_many(locations)
    views = await page_views(ctx, access, [r for r in records if r is not None])
    edges = [(Cursor([v.id]), v) for v in views]
    return Page(edges=edges, has_next_page=len(pins) > first)


async def my_mentions(ctx: RequestContext, first: int, after: str | None) -> Page[MessageView]:
    """Messages that mention the caller, newest first, among those it may still read."""
    check_first(first)
    caller = await ctx.require_user()
    start = decode_cursor(after, 1)
    cursor = str(start[0]) if start else None
    edges: list[tuple[Cursor, MessageView]] = []
    more = False
    # Mentions in channels the caller has since left are skipped; read until the page fills.
    for _ in range(_MENTIONS_SCAN_ROUNDS):
        rows = await ctx.services.messages.list_mentions(
            caller.user_id, limit=first + 1, after_id=cursor
        )
        for row in rows:
            if len(edges) == first:
                more = True
                break
            try:
                message = await get_message(ctx, row.message_id)
            except CoveError:
                continue
            edges.append((Cursor([row.message_id]), message))
        if more or len(rows) <= first:
            break
        cursor = rows[-1].message_id
    return Page(edges=edges, has_next_page=more)
