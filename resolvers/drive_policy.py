"""Drive limits and URL lifetimes, apart from the drive so that services can hold them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class DrivePolicy:
    """Drive limits and URL lifetimes (settings `max_file_bytes` and after)."""

    max_file_bytes: int
    workspace_quota_bytes: int
    upload_ttl: timedelta
    download_ttl: timedelta
    share_link_max_ttl: timedelta
    public_url: str

    def url(self, path: str) -> str:
        return self.public_url.rstrip("/") + path


@dataclass(frozen=True)
class OfficePolicy:
    """ONLYOFFICE editing (settings `onlyoffice_*`); `enabled` False leaves the rest unused."""

    enabled: bool
    server_url: str
    jwt_secret: str
    # Cove's address as the Document Server reaches it (`onlyoffice_public_url`).
    public_url: str
    download_ttl: timedelta
    session_ttl: timedelta
    max_document_bytes: int

    def url(self, path: str) -> str:
        return self.public_url.rstrip("/") + path
