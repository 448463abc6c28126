"""The video room settings as the resolvers see them, apart so that services can hold them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit


@dataclass(frozen=True, repr=False)
class VideoPolicy:
    """Settings `jitsi_*` (docs/integrations.md); kept out of reprs: it holds the secret."""

    enabled: bool
    url: str
    app_id: str | None
    app_secret: str | None
    token_ttl: timedelta

    @property
    def domain(self) -> str:
        """The Jitsi server's host name: the `sub` of its tokens."""
        return (urlsplit(self.url).hostname or "").lower()

    def room_url(self, name: str) -> str:
        return self.url.rstrip("/") + "/" + name

    def __repr__(self) -> str:
        return f"VideoPolicy(enabled={self.enabled}, url={self.url!r}, app_id={self.app_id!r})"
