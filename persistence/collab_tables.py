"""Workspaces, channels and messages, one table per query (docs/architecture.md, "Engines").

Sealed columns end in `_sealed`; ids, times, counters, roles and flags stay clear. Ids are
time-ordered, so clustering by id orders by creation time.
"""

from __future__ import annotations

from persistence.declare import Column, ColumnType, Order, Table

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP
_BOOL = ColumnType.BOOLEAN
_INT = ColumnType.BIGINT

WORKSPACES = Table(
    name="workspaces",
    partition_key=(Column("workspace_id", _TEXT),),
    values=(
        Column("name_sealed", _BLOB),
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
    ),
)

MEMBERS_BY_WORKSPACE = Table(
    name="members_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("user_id", _TEXT),),
    values=(Column("role", _TEXT), Column("joined_at", _TIME)),
)

WORKSPACES_BY_USER = Table(
    name="workspaces_by_user",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("workspace_id", _TEXT),),
    values=(Column("role", _TEXT), Column("joined_at", _TIME)),
)

# The owners alone, so "is this the last owner?" reads two rows, not the whole membership.
OWNERS_BY_WORKSPACE = Table(
    name="owners_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("user_id", _TEXT),),
    values=(Column("since", _TIME),),
)

INVITATIONS = Table(
    name="invitations",
    partition_key=(Column("invitation_id", _TEXT),),
    values=(
        Column("workspace_id", _TEXT),
        Column("email_sealed", _BLOB),
        Column("email_index", _BLOB),
        Column("role", _TEXT),
        Column("invited_by", _TEXT),
        Column("created_at", _TIME),
        Column("expires_at", _TIME),
    ),
)

INVITATIONS_BY_WORKSPACE = Table(
    name="invitations_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("invitation_id", _TEXT),),
    order=Order.DESC,
    values=(Column("expires_at", _TIME),),
)

# Keyed by the invitee email's blind index: found when that person signs up or in.
INVITATIONS_BY_EMAIL = Table(
    name="invitations_by_email",
    partition_key=(Column("email_index", _BLOB),),
    clustering=(Column("invitation_id", _TEXT),),
    order=Order.DESC,
    values=(Column("workspace_id", _TEXT), Column("expires_at", _TIME)),
)

CHANNELS = Table(
    name="channels",
    partition_key=(Column("channel_id", _TEXT),),
    values=(
        Column("workspace_id", _TEXT),
        Column("name_sealed", _BLOB),
        Column("topic_sealed", _BLOB),
        Column("visibility", _TEXT),
        Column("archived", _BOOL),
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
    ),
)

CHANNELS_BY_WORKSPACE = Table(
    name="channels_by_workspace",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("channel_id", _TEXT),),
    values=(Column("visibility", _TEXT),),
)

CHANNEL_MEMBERS = Table(
    name="channel_members",
    partition_key=(Column("channel_id", _TEXT),),
    clustering=(Column("user_id", _TEXT),),
    values=(Column("joined_at", _TIME),),
)

# Kept apart from memberships: writing a read position can never create a membership.
READ_POSITIONS = Table(
    name="read_positions",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("channel_id", _TEXT),),
    values=(Column("last_read_id", _TEXT), Column("read_at", _TIME)),
)

# A member's channels in one workspace: what a guest may see, what leaving must undo.
CHANNELS_BY_MEMBER = Table(
    name="channels_by_member",
    partition_key=(Column("workspace_id", _TEXT), Column("user_id", _TEXT)),
    clustering=(Column("channel_id", _TEXT),),
    values=(Column("visibility", _TEXT),),
)

# One direct channel per set of people: `members_key` is their sorted ids, claimed once.
DIRECT_CHANNELS = Table(
    name="direct_channels",
    partition_key=(Column("workspace_id", _TEXT), Column("members_key", _TEXT)),
    values=(Column("channel_id", _TEXT),),
)

_MESSAGE_VALUES = (
    Column("author_id", _TEXT),
    Column("text_sealed", _BLOB),
    Column("mentions", _TEXT),  # space-separated user ids
    Column("created_at", _TIME),
    Column("edited_at", _TIME),
)

MESSAGES_BY_CHANNEL = Table(
    name="messages_by_channel",
    partition_key=(Column("channel_id", _TEXT),),
    clustering=(Column("message_id", _TEXT),),
    order=Order.DESC,
    values=(*_MESSAGE_VALUES, Column("reply_count", _INT), Column("last_reply_at", _TIME)),
)

REPLIES_BY_THREAD = Table(
    name="replies_by_thread",
    partition_key=(Column("thread_id", _TEXT),),
    clustering=(Column("message_id", _TEXT),),
    values=_MESSAGE_VALUES,
)

# Where a message lives, for node(id), edits and deletes; thread_id is empty at top level.
MESSAGE_LOCATIONS = Table(
    name="message_locations",
    partition_key=(Column("message_id", _TEXT),),
    values=(Column("channel_id", _TEXT), Column("workspace_id", _TEXT), Column("thread_id", _TEXT)),
)

# Reactions grouped by a keyed hash of the emoji, so counts need no decryption.
REACTIONS = Table(
    name="reactions",
    partition_key=(Column("message_id", _TEXT),),
    clustering=(Column("emoji_index", _BLOB), Column("user_id", _TEXT)),
    values=(Column("emoji_sealed", _BLOB), Column("created_at", _TIME)),
)

PINS_BY_CHANNEL = Table(
    name="pins_by_channel",
    partition_key=(Column("channel_id", _TEXT),),
    clustering=(Column("message_id", _TEXT),),
    order=Order.DESC,
    values=(Column("pinned_by", _TEXT), Column("pinned_at", _TIME)),
)

MENTIONS_BY_USER = Table(
    name="mentions_by_user",
    partition_key=(Column("user_id", _TEXT),),
    clustering=(Column("message_id", _TEXT),),
    order=Order.DESC,
    values=(Column("channel_id", _TEXT), Column("workspace_id", _TEXT)),
)

COLLABORATION_TABLES = (
    WORKSPACES,
    MEMBERS_BY_WORKSPACE,
    WORKSPACES_BY_USER,
    OWNERS_BY_WORKSPACE,
    INVITATIONS,
    INVITATIONS_BY_WORKSPACE,
    INVITATIONS_BY_EMAIL,
    CHANNELS,
    CHANNELS_BY_WORKSPACE,
    CHANNEL_MEMBERS,
    READ_POSITIONS,
    CHANNELS_BY_MEMBER,
    DIRECT_CHANNELS,
    MESSAGES_BY_CHANNEL,
    REPLIES_BY_THREAD,
    MESSAGE_LOCATIONS,
    REACTIONS,
    PINS_BY_CHANNEL,
    MENTIONS_BY_USER,
)

# The one pending invitation of an address to a workspace, claimed with an insert-if-absent
# so two invitations sent at once cannot both be pending. A claim naming an invitation that
# expired or is gone is taken over through INVITATION_TAKEOVERS, where one taker wins.
PENDING_INVITATIONS = Table(
    name="pending_invitations",
    partition_key=(Column("workspace_id", _TEXT), Column("email_index", _BLOB)),
    values=(
        Column("invitation_id", _TEXT),
        Column("claimed_at", _TIME),
        Column("expires_at", _TIME),
    ),
)

INVITATION_TAKEOVERS = Table(
    name="invitation_takeovers",
    partition_key=(Column("workspace_id", _TEXT), Column("email_index", _BLOB)),
    clustering=(Column("stale_invitation_id", _TEXT),),
    values=(Column("taken_by", _TEXT),),
)

PENDING_INVITATION_TABLES = (PENDING_INVITATIONS, INVITATION_TAKEOVERS)
