"""Importing a Slack export into a workspace (`cove import slack`, docs/operations.md).

The operator runs it against the data dir, as a system principal: nobody signs in. What it
writes goes the way posts go: texts sealed with the workspace's key, each message with its
search outbox entry in its own batch, and with the row that records its Slack key, so a
second run finds it and adds nothing twice. Live notices are not sent: the history is old,
and clients read it when they open the channel.

Direct and group direct messages become Cove's direct channel of the same people (the one
they already have, or a new one claimed as `createDirectChannel` claims it), only when every
one of them is matched and they are 2 to 10; the others are skipped and counted by reason.
Nobody else is added to them, the owner neither, and nothing of them goes to the drive.
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
from resolvers.channels import (
    MAX_CHANNEL_NAME,
    MAX_DIRECT_MEMBERS,
    MAX_TOPIC,
    name_ref,
    topic_ref,
)
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
    directs_created: int = 0
    directs_reused: int = 0
    directs_skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, str]:
        """What was done, by kind of thing: the report's lines, and the details of the
        import's audit event (six, which with the operator and the file stay within the eight
        an audit event carries)."""

        def reasons(counts: Counter[str]) -> str:
            listed = ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items()))
            return f"{sum(counts.values())}" + (f" ({listed})" if listed else "")

        verb = "would import" if self.dry_run else "imported"
        return {
            "users": f"matched: {len(self.users_matched)}, unmatched: "
            + reasons(self.users_unmatched),
            "channels": f"created: {self.channels_created}, reused: {self.channels_reused}",
            "direct conversations": f"created: {self.directs_created}, reused: "
            f"{self.directs_reused}, skipped: {reasons(self.directs_skipped)}",
            "messages": f"{verb}: {self.messages_imported}, already imported: "
            f"{self.messages_present}, skipped: {reasons(self.messages_skipped)}",
            "reactions": f"{verb}: {self.reactions_added}, already imported: "
            f"{self.reactions_present}, skipped: {reasons(self.reactions_skipped)}",
            "files": f"{verb}: {self.files_imported}, already imported: {self.files_present}, "
            f"skipped: {reasons(self.files_skipped)}",
        }

    def lines(self) -> list[str]:
        return [f"{kind} {done}" for kind, done in self.summary().items()]


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
    report = ImportReport(dry_run=dry_run)
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
        for channel in (*export.channels, *export.directs):
            await _import_channel(run, channel)
            if progress is not None:
                shown = f"#{channel.name}" if not channel.direct else channel.id
                progress(f"{shown}: {len(channel.messages)} messages read")
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


def _direct_people(run: _Run, channel: SlackChannel) -> list[str] | None:
    """The Cove members of a direct conversation, sorted; None (counted) when it cannot be
    one: someone unmatched, fewer than two people, or more than a direct channel holds."""
    people = sorted({run.people.get(u, "") for u in channel.members})
    reason = None
    if len(set(channel.members)) > MAX_DIRECT_MEMBERS + 1:
        reason = f"more than {MAX_DIRECT_MEMBERS + 1} people"
    elif "" in people:
        reason = "someone not matched"
    elif len(people) < 2:
        reason = "fewer than two people"
    if reason is not None:
        run.report.directs_skipped[reason] += 1
        return None
    return people


async def _import_channel(run: _Run, channel: SlackChannel) -> None:
    if channel.direct:
        people = _direct_people(run, channel)
        if people is None:
            return
        wanted = set(people)
    else:
        authors = {run.people[m.user] for m in channel.messages if m.user in run.people}
        wanted = {run.people[u] for u in channel.members if u in run.people} | authors
        # The owner joins the public channels it makes, but a private one only when it was
        # in it on Slack, or when nobody of it matched (someone must be able to open it).
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
    only = frozenset(wanted) if channel.direct else None
    by_ts: dict[str, str] = {}  # Slack ts -> Cove message id, for replies to find parents
    # Parent id -> its newest reply's time. Replies an earlier run posted count too: that run
    # may have stopped before it recounted their thread.
    threads: dict[str, datetime] = {}
    for message in channel.messages:
        key = message_key(channel.id, message.ts)
        posted_id = known.get(key)
        if posted_id is not None:
            run.report.messages_present += 1
            await _reactions(run, record, posted_id, message, existing=True, only=only)
        else:
            posted = await _message(run, channel, record, message, by_ts, only=only)
            if posted is None:
                continue
            posted_id = posted.message_id
            await _reactions(run, record, posted_id, message, existing=False, only=only)
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
    """The Cove channel of a Slack channel: the one an earlier run made (for a direct
    conversation, also the direct channel its people already have), else a new one with
    these members (None in a dry run, which makes nothing); and whether it is new."""
    services = run.services
    report = run.report
    ws = run.workspace_id
    [known] = await run.repo.find_many(ws, [channel_key(channel.id)])
    if known is not None and (record := await services.channels.get(known)) is not None:
        if not channel.direct:
            report.channels_reused += 1
            return record, False
        report.directs_reused += 1
        return await _claimed(run, record, members, fresh=False), False
    if channel.direct:
        existing = await services.channels.direct(ws, " ".join(members))
        if existing is not None and (record := await services.channels.get(existing)) is not None:
            report.directs_reused += 1
            if run.writing:
                await run.repo.record(ws, channel_key(channel.id), record.channel_id)
            return record, False
        report.directs_created += 1
    else:
        report.channels_created += 1
    if not run.writing:
        return None, True
    channel_id = new_id()
    record = await _new_record(run, channel, channel_id, members)
    # The mapping first: a run stopped in between finds no channel there and makes one,
    # rather than leaving one that no run would find again.
    await run.repo.record(ws, channel_key(channel.id), channel_id)
    # One first member in the channel's batch; the others one by one, as a big channel's
    # members would make a batch too large for Cassandra.
    await services.channels.create(record, members[:1], record.created_at)
    if channel.direct:
        record = await _claimed(run, record, members, fresh=True, slack_id=channel.id)
    return record, True


async def _new_record(
    run: _Run, channel: SlackChannel, channel_id: str, members: list[str]
) -> ChannelRecord:
    """A channel's record: the Slack name and topic sealed, made by the owner; a direct
    channel has neither (as `createDirectChannel` makes them), and is made by one of its
    people (the first Slack lists)."""
    services = run.services
    ws = run.workspace_id
    name = "" if channel.direct else unicodedata.normalize("NFC", channel.name).strip()
    topic = (channel.topic or "").replace("\r", "").replace("\x00", "").strip()[:MAX_TOPIC]
    visibility = Visibility.PRIVATE if channel.private else Visibility.PUBLIC
    creator = run.owner_id
    if channel.direct:
        visibility, creator = Visibility.DIRECT, run.people.get(channel.members[0], members[0])
    now = services.clock()
    return ChannelRecord(
        channel_id=channel_id,
        workspace_id=ws,
        name_sealed=await services.keys.seal_text(
            name_ref(channel_id, ws), name[:MAX_CHANNEL_NAME]
        ),
        topic_sealed=await services.keys.seal_text(topic_ref(channel_id, ws), topic)
        if topic
        else None,
        visibility=visibility.value,
        archived=False,
        created_by=creator,
        created_at=now,
        updated_at=now,
    )


async def _claimed(
    run: _Run, record: ChannelRecord, members: list[str], *, fresh: bool, slack_id: str = ""
) -> ChannelRecord:
    """Claim a direct channel the import made as the one of these people, as
    `createDirectChannel` claims it, so that it finds this one (a run stopped before the claim
    claims on the next). If a `createDirectChannel` of the same people won meanwhile, a
    channel made just now gives way to that one, which is recorded instead."""
    if not run.writing:
        return record
    channels = run.services.channels
    key = " ".join(members)
    won = await channels.direct(run.workspace_id, key)
    if won is None:
        won = await channels.claim_direct(run.workspace_id, key, record.channel_id)
    if won == record.channel_id or not fresh or (winner := await channels.get(won)) is None:
        return record
    await run.repo.record(run.workspace_id, channel_key(slack_id), won)
    return winner


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
    *,
    only: frozenset[str] | None,
) -> MessageRecord | None:
    """Post one Slack message, or count why not; the posted record (a stand-in when dry).
    `only`: the people of a direct conversation, the only ones who may write in it."""
    report = run.report
    if message.subtype not in POSTED_SUBTYPES:
        report.messages_skipped[message.subtype or "unknown"] += 1
        return None
    if record is not None and record.archived:
        report.messages_skipped["channel archived in Cove"] += 1
        return None
    author = run.people.get(message.user or "")
    if only is not None and author not in only:
        # Only its people write in a direct channel: nobody posts for an outsider there.
        report.messages_skipped["author not in the direct conversation"] += 1
        return None
    text, mentioned = plain_text(message.text, run.names, run.channel_names)
    attached: list[tuple[str, str]] = []
    for file in message.files:
        # The drive would show a direct conversation's files to the workspace: left out.
        stored = "in a direct conversation" if channel.direct else await _file(run, file)
        if isinstance(stored, str):
            report.files_skipped[stored] += 1
            text += f"\n[file not imported: {file.name}]"
        elif stored is not None:
            attached.append(stored)
    text = _clean(text) or ", ".join(f.name for f in message.files)
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
    mentioned_ids = (run.people[u] for u in mentioned if u in run.people)
    # In a direct conversation only its people are mentioned (nobody else may read it).
    mentions = tuple(dict.fromkeys(m for m in mentioned_ids if only is None or m in only))
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
    only: frozenset[str] | None,
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
            if only is not None and user_id not in only:
                run.report.reactions_skipped["not in the direct conversation"] += 1
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
