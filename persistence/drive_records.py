"""The drive's rows as records: items, versions, uploads, download tokens, shares, links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

FOLDER = "folder"
FILE = "file"


@dataclass(frozen=True, slots=True)
class DriveItemRecord:
    item_id: str
    workspace_id: str
    parent_id: str
    kind: str
    name_sealed: bytes
    created_by: str
    created_at: datetime
    updated_at: datetime
    trashed_at: datetime | None = None
    current_version_id: str | None = None
    size: int | None = None

    @property
    def is_root(self) -> bool:
        return not self.parent_id


@dataclass(frozen=True, slots=True)
class FileVersionRecord:
    file_id: str
    version_id: str
    workspace_id: str
    number: int
    size: int
    content_type_sealed: bytes
    sha256_sealed: bytes
    key_sealed: bytes
    blob_key: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class UploadRecord:
    token_hash: bytes
    upload_id: str
    workspace_id: str
    parent_id: str
    file_id: str
    new_file: bool
    version_id: str
    name_sealed: bytes | None
    content_type_sealed: bytes
    size: int
    created_by: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class DownloadTokenRecord:
    token_hash: bytes
    file_id: str
    version_id: str
    workspace_id: str
    user_id: str
    session_id: str
    message_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ShareRecord:
    item_id: str
    grantee: str
    level: str
    granted_by: str
    granted_at: datetime


@dataclass(frozen=True, slots=True)
class ShareLinkRecord:
    link_id: str
    item_id: str
    workspace_id: str
    token_hash: bytes
    password_hash: str | None
    expires_at: datetime
    max_downloads: int | None
    created_by: str
    created_at: datetime
