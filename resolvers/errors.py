"""Domain errors: one exception type carrying an enum code that clients see as `extensions.code`."""

from __future__ import annotations

from enum import StrEnum

# Raised by the store and the outside services when they cannot answer now; the schema
# reports them as UNAVAILABLE.
from integrations.blobs import BlobStoreUnavailable
from integrations.broker import BrokerUnavailable
from integrations.search import SearchUnavailable
from persistence.store import StorageFull, StoreUnavailable

__all__ = [
    "BLOB_MISSING",
    "DEPENDENCIES",
    "DEPENDENCY_RETRY_SECONDS",
    "DEPENDENCY_UNAVAILABLE",
    "STORAGE_FULL",
    "STORAGE_FULL_RETRY_SECONDS",
    "STORE_RETRY_SECONDS",
    "STORE_UNAVAILABLE",
    "CoveError",
    "DamagedData",
    "ErrorCode",
    "StorageFull",
    "StoreUnavailable",
]

# `extensions.reason` of an UNAVAILABLE error when the record store cannot answer now, and
# the seconds a client is told to wait before trying again (GraphQL and HTTP alike).
STORE_UNAVAILABLE = "STORE_UNAVAILABLE"
STORE_RETRY_SECONDS = 1
# `extensions.reason` of an UNAVAILABLE error (HTTP 507 on the file routes) when a write was
# refused because the data dir's or the local blob root's volume is full: nothing of it was
# applied; reads and deletes still work. A full disk rarely clears within seconds, so clients
# are told to wait a minute (GraphQL and HTTP alike).
STORAGE_FULL = "STORAGE_FULL"
STORAGE_FULL_RETRY_SECONDS = 60
# `extensions.reason` of an UNAVAILABLE error when an outside service (file storage, search,
# the broker) is down, does not answer in time or is refused by its circuit breaker;
# `extensions.dependency` names which.
DEPENDENCY_UNAVAILABLE = "DEPENDENCY_UNAVAILABLE"
# `extensions.reason` of a NOT_FOUND on a file route when a version's stored contents are gone.
BLOB_MISSING = "BLOB_MISSING"
# The outside services' "cannot answer now" errors, by the name clients see.
DEPENDENCIES: dict[type[Exception], str] = {
    BlobStoreUnavailable: "blobs",
    SearchUnavailable: "search",
    BrokerUnavailable: "broker",
}
# Seconds a client is told to wait when an outside service cannot answer.
DEPENDENCY_RETRY_SECONDS = 5


class ErrorCode(StrEnum):
    """The error codes of the outside contract; every GraphQL error carries one."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    # A stored value failed its integrity check: the server's fault, reported on the damaged
    # item only, so the rest of a page still reads.
    DATA_DAMAGED = "DATA_DAMAGED"
    # The server lacks something the operation needs (no SMTP server for a mail it would
    # send); `extensions.reason` says what. Not the caller's fault, and retrying will not help
    # until the operator changes the configuration.
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


class CoveError(Exception):
    """An expected failure whose message is safe to show to the caller."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        retry_after: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after
        # A finer cause under the code, for clients to act on (`TWO_FACTOR_REQUIRED`).
        self.reason = reason


class DamagedData(CoveError):
    """A sealed value that no longer opens (a flipped bit, a truncated row, a lost key)."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            ErrorCode.DATA_DAMAGED, "This item's stored data is damaged and cannot be read."
        )
        self.detail = detail  # which row and field, for the operator's log only


def not_found(what: str = "object") -> CoveError:
    """The one answer for unknown, malformed and invisible ids alike."""
    return CoveError(ErrorCode.NOT_FOUND, f"No such {what}.")


def bad_input(message: str, *, field: str | None = None) -> CoveError:
    return CoveError(ErrorCode.BAD_USER_INPUT, message, field=field)


def unauthenticated(message: str = "Sign in first.") -> CoveError:
    return CoveError(ErrorCode.UNAUTHENTICATED, message)


# `extensions.reason` of the UNAVAILABLE answer when the operator switched an integration off
# (video rooms, document editing): retrying does not help until the configuration changes.
FEATURE_DISABLED = "FEATURE_DISABLED"
