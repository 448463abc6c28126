"""Drive limits and URL lifetimes, apart from the drive so that services can hold them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class DrivePolicy:
    """Drive limits and URL lifetimes (settings `max_file_bytes` and after)."""

    max_file_bytes: int = 10 * 1024**3
    workspace_quota_bytes: int = 100 * 1024**3
    upload_ttl: timedelta = timedelta(hours=1)
    download_ttl: timedelta = timedelta(minutes=5)
    share_link_max_ttl: timedelta = timedelta(days=90)
    public_url: str = ""

    def url(self, path: str) -> str:
        return self.public_url.rstrip("/") + path
