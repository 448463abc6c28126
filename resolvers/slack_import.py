"""Importing a Slack export into a workspace (`cove import slack`, docs/operations.md).

The operator runs it against the data dir, as a system principal: nobody signs in. What it
writes goes the way posts go: texts sealed with the workspace's key, each message with its
search outbox entry in its own batch, and with the row that records its Slack key, so a
second run finds it and adds nothing twice. Live notices are not sent: the history is old,
and clients read it when they open the channel.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from persistence.channels import ChannelRecord
from persistence.ids import new_id
from persistence.messages import MessageLocation, MessageRecord, ReactionRecord
from persistence.slack_imports import SlackImportRepository, channel_key, file_key, message_key
from resolvers.accounts import EMAIL_INDEX
from resolvers.channels import MAX_CHANNEL_NAME, MAX_TOPIC, name_ref, topic_ref
from resolvers.errors import CoveError
from resolvers.messages import EMOJI_INDEX, MAX_EMOJI, MAX_MENTIONS, emoji_ref, text_ref
from resolvers.roles import Role, Visibility
from resolvers.services import Services
from resolvers.slack_export import (
    SlackChannel,
    SlackExport,
    SlackFile,
    SlackMessage,
    SlackUser,
    emoji_of,
    plain_text,
    ts_key,
)
from resolvers.slack_files import SlackFiles
from resolvers.validation import normalize_email

# Subtypes that are messages people wrote; the rest (joins, leaves, topic changes...) are
# Slack's own notes about the channel, counted as skipped under their subtype.
POSTED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message", "bot_message"})
_KEYS_PER_READ = 100


class ImportRefused(Exception):
    """The import cannot start (no such workspace, no owner); nothing was written."""


@dataclass
class ImportReport:
    """What an import did (or, dry, would do), counted; `lines` prints it."""

    dry_run: bool = False
    channels_created: int = 0
    channels_reused: int = 0
    messages_imported: int = 0
    messages_present: int = 0  # imported by an earlier run
    messages_skipped: Counter[str] = field(default_factory=Counter)
    reactions_added: int = 0
    reactions_present: int = 0
    reactions_skipped: Counter[str] = field(default_factory=Counter)
    users_matched: list[str] = field(default_factory=list)
    users_unmatched: Counter[str] = field(default_factory=Counter)
    files_imported: int = 0
    files_present: int = 0  # imported by an earlier run
    files_skipped: Counter[str] = field(default_factory=Counter)
    left_out: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        def reasons(counts: Counter[str]) -> str:
            listed = ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items()))
            return f"{sum(counts.values())}" + (f" ({listed})" if listed else "")

        verb = "would import" if self.dry_run else "imported"
        return [
            f"users matched: {len(self.users_matched)}, unmatched: "
            + reasons(self.users_unmatched),
            f"channels created: {self.channels_created}, reused: {self.channels_reused}",
            f"messages {verb}: {self.messages_imported}, already imported: "
            f"{self.messages_present}, skipped: {reasons(self.messages_skipped)}",
            f"reactions {verb}: {self.reactions_added}, already imported: "
            f"{self.reactions_present}, skipped: {reasons(self.reactions_skipped)}",
            f"files {verb}: {self.files_imported}, already imported: {self.files_present}, "
            f"skipped: {reasons(self.files_skipped)}",
            *(f"not imported: {n} {kind}" for kind, n in sorted(self.left_out.items())),
        ]


@dataclass
class _Run:
    services: Services
    workspace_id: str
    owner_id: str
    people: dict[str, str]  # Slack user id -> Cove user id, for the matched ones
    names: dict[str, str]  # Slack user id -> the name Slack shows
    channel_names: dict[str, str]
    report: ImportReport
    repo: SlackImportRepository
    files: SlackFiles | None

    @property
    def writing(self) -> bool:
        return not self.report.dry_run


async def import_export(
    services: Services,
    workspace_id: str,
    export: SlackExport,
    *,
    dry_run: bool = False,
    progress: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import `export` into the workspace; run again, it adds only what is new. `progress`
    hears of each channel as it is done."""
    if await services.workspaces.get(workspace_id) is None:
        raise ImportRefused(f"no workspace {workspace_id}")
    owner_id = await _first_owner(services, workspace_id)
    report = ImportReport(dry_run=dry_run, left_out=dict(export.left_out))
    run = _Run(
        services=services,
        workspace_id=workspace_id,
        owner_id=owner_id,
        people=await _match_users(services, workspace_id, export.users, report),
        names={u.id: u.name for u in export.users},
        channel_names={c.id: c.name for c in export.channels},
        report=report,
        repo=SlackImportRepository(services.store),
        files=None
        if export.archive is None or dry_run
        else SlackFiles(services, export.archive, workspace_id, owner_id),
    )
    try:
        for channel in export.channels:
            await _import_channel(run, channel)
            if progress is not None:
                progress(f"#{channel.name}: {len(channel.messages)} messages read")
    finally:
        if run.files is not None:
            await run.files.close()
    if run.writing:
        await services.indexer.drainer.drain()
    return report


async def _first_owner(services: Services, workspace_id: str) -> str:
    after = None
    while page := await services.workspaces.list_members(
        workspace_id, limit=100, after_user_id=after
    ):
        for member in page:
            if member.role == Role.OWNER.value:
                return member.user_id
        after = page[-1].user_id
    raise ImportRefused(f"workspace {workspace_id} has no owner")


async def _match_users(
    services: Services, workspace_id: str, users: tuple[SlackUser, ...], report: ImportReport
) -> dict[str, str]:
    """Slack users whose email is a Cove account's that is a member of the workspace (in any
    role but an app's bot); the others are counted by why they did not match."""
    matched: dict[str, str] = {}
    for user in users:
        reason = None
        if user.is_bot:
            reason = "bot"
        elif not user.email:
            reason = "no email"
        else:
            try:
                email = normalize_email(user.email)
            except CoveError:
                email = ""
            index = services.keyring.blind_index(EMAIL_INDEX, email)
            user_id = await services.accounts.find_user_id_by_email(index) if email else None
            membership = (
                None
                if user_id is None
                else await services.workspaces.membership(workspace_id, user_id)
            )
            if user_id is None:
                reason = "no Cove account with that email"
            elif membership is None or membership.role == Role.BOT.value:
                reason = "not a member of the workspace"
            else:
                matched[user.id] = user_id
                report.users_matched.append(user.name)
        if reason is not None:
            report.users_unmatched[reason] += 1
    return matched


async def _import_channel(run: _Run, channel: SlackChannel) -> None:
    authors = {run.people[m.user] for m in channel.messages if m.user in run.people}
    wanted = {run.people[u] for u in channel.members if u in run.people} | authors
    # The owner joins the public channels it makes, but a private one only when it was in it
    # on Slack, or when nobody of it matched (someone must be able to open it).
    if not channel.private or not wanted:
        wanted.add(run.owner_id)
    record, made = await _channel(run, channel, sorted(wanted))
    keys = [message_key(channel.id, m.ts) for m in channel.messages]
    known: dict[str, str] = {}
    # In a channel made now (again, if it was deleted in Cove) no message is there yet.
    for start in range(0, 0 if made else len(keys), _KEYS_PER_READ):
        chunk = keys[start : start + _KEYS_PER_READ]
        found = await run.repo.find_many(run.workspace_id, chunk)
        known.update({k: v for k, v in zip(chunk, found, strict=True) if v is not None})
    if record is not None and run.writing:
        for user_id in sorted(wanted):
            if await run.services.channels.member(record.channel_id, user_id) is None:
                now = run.services.clock()
                await run.services.channels.add_member(record, user_id, now)
    by_ts: dict[str, str] = {}  # Slack ts -> Cove message id, for replies to find parents
    # Parent id -> its newest reply's time. Replies an earlier run posted count too: that run
    # may have stopped before it recounted their thread.
    threads: dict[str, datetime] = {}
    for message in channel.messages:
        key = message_key(channel.id, message.ts)
        posted_id = known.get(key)
        if posted_id is not None:
            run.report.messages_present += 1
            await _reactions(run, record, posted_id, message, existing=True)
        else:
            posted = await _message(run, channel, record, message, by_ts)
            if posted is None:
                continue
            posted_id = posted.message_id
            await _reactions(run, record, posted_id, message, existing=False)
        by_ts[message.ts] = posted_id
        parent_id = by_ts.get(message.thread_ts or "") if message.is_reply else None
        if parent_id is not None:
            at = _time(message.ts)
            threads[parent_id] = max(at, threads.get(parent_id, at))
    for parent_id, last in threads.items():
        if record is not None and run.writing:
            parent = MessageLocation(parent_id, record.channel_id, run.workspace_id, "")
            await run.services.messages.refresh_thread(parent, last)
    if record is not None and run.writing and channel.archived and not record.archived:
        now = run.services.clock()
        await run.services.channels.update(record.channel_id, {"archived": True, "updated_at": now})


async def _channel(
    run: _Run, channel: SlackChannel, members: list[str]
) -> tuple[ChannelRecord | None, bool]:
    """The Cove channel of a Slack channel: the one an earlier run made, else a new one with
    these members (None in a dry run, which makes nothing); and whether it is new."""
    services = run.services
    [known] = await run.repo.find_many(run.workspace_id, [channel_key(channel.id)])
    if known is not None and (record := await services.channels.get(known)) is not None:
        run.report.channels_reused += 1
        return record, False
    run.report.channels_created += 1
    if not run.writing:
        return None, True
    channel_id = new_id()
    ws = run.workspace_id
    name = unicodedata.normalize("NFC", channel.name).strip()[:MAX_CHANNEL_NAME]
    topic = (channel.topic or "").replace("\r", "").replace("\x00", "").strip()[:MAX_TOPIC]
    now = services.clock()
    record = ChannelRecord(
        channel_id=channel_id,
        workspace_id=ws,
        name_sealed=await services.keys.seal_text(name_ref(channel_id, ws), name),
        topic_sealed=await services.keys.seal_text(topic_ref(channel_id, ws), topic)
        if topic
        else None,
        visibility=(Visibility.PRIVATE if channel.private else Visibility.PUBLIC).value,
        archived=False,
        created_by=run.owner_id,
        created_at=now,
        updated_at=now,
    )
    # The mapping first: a run stopped in between finds no channel there and makes one,
    # rather than leaving one that no run would find again.
    await run.repo.record(ws, channel_key(channel.id), channel_id)
    # One first member in the channel's batch; the others one by one, as a big channel's
    # members would make a batch too large for Cassandra.
    await services.channels.create(record, members[:1], now)
    return record, True


def _time(ts: str) -> datetime:
    """A Slack ts as a time, to the microsecond (no float rounding)."""
    exact = ts_key(ts)
    seconds = int(exact)
    micros = int((exact - seconds) * 1_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micros)


def _clean(text: str) -> str:
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc").strip()


async def _message(
    run: _Run,
    channel: SlackChannel,
    record: ChannelRecord | None,
    message: SlackMessage,
    by_ts: Mapping[str, str],
) -> MessageRecord | None:
    """Post one Slack message, or count why not; the posted record (a stand-in when dry)."""
    report = run.report
    if message.subtype not in POSTED_SUBTYPES:
        report.messages_skipped[message.subtype or "unknown"] += 1
        return None
    if record is not None and record.archived:
        report.messages_skipped["channel archived in Cove"] += 1
        return None
    text, mentioned = plain_text(message.text, run.names, run.channel_names)
    attached: list[tuple[str, str]] = []
    for file in message.files:
        stored = await _file(run, file)
        if isinstance(stored, str):
            report.files_skipped[stored] += 1
            text += f"\n[file not imported: {file.name}]"
        elif stored is not None:
            attached.append(stored)
    text = _clean(text) or ", ".join(f.name for f in message.files)
    author = run.people.get(message.user or "")
    if author is None and text:
        shown = run.names.get(message.user or "") or message.username or "a Slack bot"
        text = f"{shown} (from Slack): {text}"
    if not text:
        report.messages_skipped["empty"] += 1
        return None
    if len(text) > run.services.policy.max_message_length:
        report.messages_skipped["too long"] += 1
        return None
    thread_id = by_ts.get(message.thread_ts or "", "") if message.is_reply else ""
    created_at = _time(message.ts)
    message_id = new_id(at=created_at)
    mentions = tuple(dict.fromkeys(run.people[u] for u in mentioned if u in run.people))
    report.messages_imported += 1
    if record is None or not run.writing:
        return MessageRecord(
            message_id, "", run.workspace_id, thread_id, "", b"", (), created_at, None
        )
    ws = run.workspace_id
    posted = MessageRecord(
        message_id=message_id,
        channel_id=record.channel_id,
        workspace_id=ws,
        thread_id=thread_id,
        author_id=author or run.owner_id,
        text_sealed=await run.services.keys.seal_text(text_ref(message_id, ws), text),
        mentions=mentions[:MAX_MENTIONS],
        created_at=created_at,
        edited_at=None,
    )
    # The Slack key goes in the message's batch: a message is never imported twice.
    indexer = run.services.indexer
    also = [
        indexer.entry(ws, "message", message_id),
        run.repo.put(ws, message_key(channel.id, message.ts), message_id),
    ]
    # Attachments first, as a post's: without their message they are never read.
    await run.services.drive.put_attachments(message_id, attached)
    await run.services.messages.post(posted, also)
    indexer.queued()
    return posted


async def _file(run: _Run, file: SlackFile) -> tuple[str, str] | str | None:
    """The (file id, version id) of a Slack file in the drive, stored now or by an earlier
    run; else why it is not (or None in a dry run that would store it)."""
    if file.content is None:
        return "not in the export"
    [known] = await run.repo.find_many(run.workspace_id, [file_key(file.id)])
    if known is not None:
        run.report.files_present += 1
        file_id, _, version_id = known.partition(" ")
        return file_id, version_id
    if run.files is None:
        run.report.files_imported += 1
        return None
    stored = await run.files.store(file)
    if isinstance(stored, tuple):
        run.report.files_imported += 1
        await run.repo.record(run.workspace_id, file_key(file.id), " ".join(stored))
    return stored


async def _reactions(
    run: _Run,
    record: ChannelRecord | None,
    message_id: str,
    message: SlackMessage,
    *,
    existing: bool,
) -> None:
    """The reactions of matched users (adding one twice changes nothing); others counted."""
    if existing and not run.writing:
        return  # a dry run cannot tell which of these an earlier run added
    services = run.services
    ws = run.workspace_id
    for name, users in message.reactions:
        emoji = unicodedata.normalize("NFC", emoji_of(name))
        if len(emoji) > MAX_EMOJI or any(c.isspace() for c in emoji):
            run.report.reactions_skipped["emoji Cove cannot show"] += len(users)
            continue
        for user in users:
            user_id = run.people.get(user)
            if user_id is None:
                run.report.reactions_skipped["unmatched user"] += 1
                continue
            if record is None or not run.writing:
                run.report.reactions_added += 1
                continue
            reaction = ReactionRecord(
                message_id=message_id,
                emoji_index=services.keyring.blind_index(EMOJI_INDEX, f"{ws}\x00{emoji}"),
                user_id=user_id,
                emoji_sealed=await services.keys.seal_text(emoji_ref(message_id, ws), emoji),
                created_at=_time(message.ts),
            )
            if await services.messages.add_reaction(reaction):
                run.report.reactions_added += 1
            else:
                run.report.reactions_present += 1
