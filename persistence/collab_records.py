"""Records of workspaces, channels and messages, as stored: sealed fields are still bytes.

Field names equal column names, so rows and records convert by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class WorkspaceRecord:
    workspace_id: str
    name_sealed: bytes
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    workspace_id: str
    user_id: str
    role: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class InvitationRecord:
    invitation_id: str
    workspace_id: str
    email_sealed: bytes
    email_index: bytes
    role: str
    invited_by: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    channel_id: str
    workspace_id: str
    name_sealed: bytes
    topic_sealed: bytes | None
    visibility: str
    archived: bool
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelMemberRecord:
    channel_id: str
    user_id: str
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel as listed: its id and visibility, before its row is read."""

    channel_id: str
    visibility: str


@dataclass(frozen=True, slots=True)
class MessageLocation:
    message_id: str
    channel_id: str
    workspace_id: str
    thread_id: str  # "" for a top-level message


@dataclass(frozen=True, slots=True)
class MessageRecord:
    message_id: str
    channel_id: str
    workspace_id: str
    thread_id: str  # "" for a top-level message
    author_id: str
    text_sealed: bytes
    mentions: tuple[str, ...]
    created_at: datetime
    edited_at: datetime | None
    reply_count: int = 0
    last_reply_at: datetime | None = None

    @property
    def location(self) -> MessageLocation:
        return MessageLocation(self.message_id, self.channel_id, self.workspace_id, self.thread_id)


@dataclass(frozen=True, slots=True)
class ReactionRecord:
    message_id: str
    emoji_index: bytes
    user_id: str
    emoji_sealed: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PinRecord:
    channel_id: str
    message_id: str
    pinned_by: str
    pinned_at: datetime


@dataclass(frozen=True, slots=True)
class MentionRecord:
    user_id: str
    message_id: str
    channel_id: str
    workspace_id: str
