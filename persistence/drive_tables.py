"""The drive's tables: folders, files, versions, uploads, download tokens, shares and links.

One table per query (docs/architecture.md, "Engines"). Names, content types, hashes and the
per-version file keys are sealed; sizes, ids, times and levels are not. Each workspace's
drive has a root folder whose id is the workspace id, made on first use.
"""

from __future__ import annotations

from persistence.declare import Column, ColumnType, Order, Table

_TEXT = ColumnType.TEXT
_BLOB = ColumnType.BLOB
_TIME = ColumnType.TIMESTAMP
_INT = ColumnType.BIGINT

DRIVE_ITEMS = Table(
    name="drive_items",
    partition_key=(Column("item_id", _TEXT),),
    values=(
        Column("workspace_id", _TEXT),
        Column("parent_id", _TEXT),  # empty for a workspace's root folder
        Column("kind", _TEXT),
        Column("name_sealed", _BLOB),
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
        Column("updated_at", _TIME),
        Column("trashed_at", _TIME),  # set on the item put in the trash, not its contents
        Column("current_version_id", _TEXT),
        Column("size", _INT),  # of the current version
    ),
)

# The live (untrashed) children of a folder; a trashed item moves to DRIVE_TRASH.
DRIVE_CHILDREN = Table(
    name="drive_children",
    partition_key=(Column("parent_id", _TEXT),),
    clustering=(Column("item_id", _TEXT),),
    values=(Column("kind", _TEXT),),
)

DRIVE_TRASH = Table(
    name="drive_trash",
    partition_key=(Column("workspace_id", _TEXT),),
    clustering=(Column("item_id", _TEXT),),
    order=Order.DESC,
    values=(Column("kind", _TEXT), Column("trashed_at", _TIME)),
)

FILE_VERSIONS = Table(
    name="file_versions",
    partition_key=(Column("file_id", _TEXT),),
    clustering=(Column("version_id", _TEXT),),
    order=Order.DESC,
    values=(
        Column("workspace_id", _TEXT),
        Column("number", _INT),
        Column("size", _INT),
        Column("content_type_sealed", _BLOB),
        Column("sha256_sealed", _BLOB),
        Column("key_sealed", _BLOB),  # the random file key; destroyed on permanent delete
        Column("blob_key", _TEXT),
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
    ),
)

UPLOADS = Table(
    name="uploads",
    partition_key=(Column("token_hash", _BLOB),),
    values=(
        Column("upload_id", _TEXT),
        Column("workspace_id", _TEXT),
        Column("parent_id", _TEXT),
        Column("file_id", _TEXT),
        Column("new_file", ColumnType.BOOLEAN),
        Column("version_id", _TEXT),
        Column("name_sealed", _BLOB),
        Column("content_type_sealed", _BLOB),
        Column("size", _INT),
        Column("created_by", _TEXT),
        Column("session_id", _TEXT),
        Column("expires_at", _TIME),
    ),
)

# Claimed once with insert-if-absent: an upload URL works once, on every node.
UPLOAD_CLAIMS = Table(
    name="upload_claims",
    partition_key=(Column("token_hash", _BLOB),),
    values=(Column("claimed_at", _TIME),),
)

# Upload and download tokens by the hour they expire in, so a sweep can forget them.
TOKEN_EXPIRY = Table(
    name="token_expiry",
    partition_key=(Column("hour", _INT),),
    clustering=(Column("kind", _TEXT), Column("token_hash", _BLOB)),
    values=(Column("expires_at", _TIME),),
)

DOWNLOAD_TOKENS = Table(
    name="download_tokens",
    partition_key=(Column("token_hash", _BLOB),),
    values=(
        Column("file_id", _TEXT),
        Column("version_id", _TEXT),
        Column("workspace_id", _TEXT),
        Column("user_id", _TEXT),  # empty for share-link downloads
        Column("session_id", _TEXT),
        Column("message_id", _TEXT),  # set when access comes through a message attachment
        Column("expires_at", _TIME),
    ),
)

DRIVE_SHARES = Table(
    name="drive_shares",
    partition_key=(Column("item_id", _TEXT),),
    clustering=(Column("grantee", _TEXT),),  # "user:<id>" or "channel:<id>"
    values=(Column("level", _TEXT), Column("granted_by", _TEXT), Column("granted_at", _TIME)),
)

# What has been shared with one person or one channel, for "shared with me" listings.
SHARES_BY_GRANTEE = Table(
    name="shares_by_grantee",
    partition_key=(Column("workspace_id", _TEXT), Column("grantee", _TEXT)),
    clustering=(Column("item_id", _TEXT),),
    order=Order.DESC,
    values=(Column("level", _TEXT),),
)

SHARE_LINKS = Table(
    name="share_links",
    partition_key=(Column("link_id", _TEXT),),
    values=(
        Column("item_id", _TEXT),
        Column("workspace_id", _TEXT),
        Column("token_hash", _BLOB),
        Column("password_hash", _TEXT),
        Column("expires_at", _TIME),
        Column("max_downloads", _INT),
        Column("created_by", _TEXT),
        Column("created_at", _TIME),
    ),
)

SHARE_LINK_TOKENS = Table(
    name="share_link_tokens",
    partition_key=(Column("token_hash", _BLOB),),
    values=(Column("link_id", _TEXT),),
)

SHARE_LINKS_BY_ITEM = Table(
    name="share_links_by_item",
    partition_key=(Column("item_id", _TEXT),),
    clustering=(Column("link_id", _TEXT),),
    order=Order.DESC,
    values=(Column("expires_at", _TIME),),
)

# Download n of a limited link is claimed with insert-if-absent, so limits hold across nodes.
SHARE_LINK_DOWNLOADS = Table(
    name="share_link_downloads",
    partition_key=(Column("link_id", _TEXT),),
    clustering=(Column("n", _INT),),
    values=(Column("at", _TIME),),
)

DRIVE_USAGE = Table(
    name="drive_usage",
    partition_key=(Column("workspace_id", _TEXT),),
    values=(Column("bytes_used", _INT),),
)

MESSAGE_ATTACHMENTS = Table(
    name="message_attachments",
    partition_key=(Column("message_id", _TEXT),),
    clustering=(Column("position", _INT),),
    values=(Column("file_id", _TEXT), Column("version_id", _TEXT)),
)

# The version a share link serves, when its creator fixed one (no row: the latest version).
# Migration 10: a table of its own, as migrations only create tables.
SHARE_LINK_VERSIONS = Table(
    name="share_link_versions",
    partition_key=(Column("link_id", _TEXT),),
    values=(Column("version_id", _TEXT),),
)

DRIVE_TABLES = (
    DRIVE_ITEMS,
    DRIVE_CHILDREN,
    DRIVE_TRASH,
    FILE_VERSIONS,
    UPLOADS,
    UPLOAD_CLAIMS,
    TOKEN_EXPIRY,
    DOWNLOAD_TOKENS,
    DRIVE_SHARES,
    SHARES_BY_GRANTEE,
    SHARE_LINKS,
    SHARE_LINK_TOKENS,
    SHARE_LINKS_BY_ITEM,
    SHARE_LINK_DOWNLOADS,
    DRIVE_USAGE,
    MESSAGE_ATTACHMENTS,
)
