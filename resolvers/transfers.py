"""File contents in and out over HTTP: the refusal uploads and downloads share.

Upload (`drive_uploads.py`): the body is hashed and sealed segment by segment as it arrives.
Download (`drive_downloads.py`): each GET checks the caller's access again, then sends each
segment's plaintext only after it authenticates. Either refuses with a `TransferError`,
which `api/files.py` turns into the HTTP answer.
"""

from __future__ import annotations

from resolvers.errors import DEPENDENCY_UNAVAILABLE, STORAGE_FULL, STORAGE_FULL_RETRY_SECONDS


class TransferError(Exception):
    """A refused transfer: an HTTP status and a message safe to show."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.reason = reason  # `extensions.reason`, as on GraphQL errors


# Seconds a client is told to wait (Retry-After) when file storage cannot answer now.
STORAGE_RETRY_SECONDS = 5


def storage_unavailable() -> TransferError:
    """503 with Retry-After: the blob store is down, frozen or refused at once by its breaker."""
    return TransferError(
        503,
        "File storage cannot answer right now; try again shortly.",
        {"Retry-After": str(STORAGE_RETRY_SECONDS)},
        reason=DEPENDENCY_UNAVAILABLE,
    )


def storage_full() -> TransferError:
    """507 Insufficient Storage with Retry-After: a full volume refused the write; nothing of
    it was kept."""
    return TransferError(
        507,
        "The server's storage is full; try again later.",
        {"Retry-After": str(STORAGE_FULL_RETRY_SECONDS)},
        reason=STORAGE_FULL,
    )
