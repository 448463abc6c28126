"""The SearchEngine protocol, its documents, queries and hits, errors and shared checks.

Cove's search index holds only ids and keyed-hash tokens: the words of messages, files,
events and tasks are turned into opaque tokens (HMACs under a workspace key) before they
reach an engine, so no engine ever sees text. A query is one group of tokens per query
word; a document matches when at least one group has a token in the document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MIN_TOKEN_BYTES = 8
MAX_TOKEN_BYTES = 32
MAX_ID_LENGTH = 128
MAX_KIND_LENGTH = 32
# Bounds that keep one call's work and one document's rows finite.
MAX_DOCUMENT_TOKENS = 10_000
MAX_DOCUMENTS_PER_CALL = 1_000
MAX_QUERY_GROUPS = 32
MAX_QUERY_TOKENS = 64  # distinct tokens over all groups: the embedded engine scans each
MAX_QUERY_SCOPES = 65_536  # scopes and doc_ids: Elasticsearch's default index.max_terms_count
MAX_LIMIT = 200

_ID = re.compile(r"[A-Za-z0-9:_-]+")
# No colon: Elasticsearch document ids are "<workspace_id>:<doc_id>" and must not collide.
_WORKSPACE_ID = re.compile(r"[A-Za-z0-9_-]+")
_KIND = re.compile(r"[a-z_]+")


class SearchUnavailable(Exception):
    """The backend did not answer or refused the request, or the engine is closed."""


class SearchError(ValueError):
    """Bad input: an id, kind, token, time or limit the engines refuse."""


@dataclass(frozen=True)
class SearchDocument:
    """What the index keeps of one message, file, event or task: ids, times and tokens.

    `doc_id` is unique within a workspace ("message:<id>"); `scope` names the container
    whose rights govern the document ("channel:<id>"); `author_id` is "" when there is none.
    `tokens` are keyed-hash tokens of its words (12 bytes in Cove; 8 to 32 accepted).
    """

    doc_id: str
    kind: str
    scope: str
    author_id: str
    created_at: datetime
    tokens: frozenset[bytes]


@dataclass(frozen=True)
class SearchCursor:
    """Where a page ended: the ranking key of its last hit. Pass it as `SearchQuery.after`."""

    matched: int
    created_at: datetime
    doc_id: str


@dataclass(frozen=True)
class SearchHit:
    """A matching document: its ids and time (to millisecond precision) and its group count."""

    doc_id: str
    kind: str
    scope: str
    author_id: str
    created_at: datetime
    matched: int  # how many of the query's groups the document matched

    @property
    def cursor(self) -> SearchCursor:
        """The cursor for the page after this hit."""
        return SearchCursor(self.matched, self.created_at, self.doc_id)


@dataclass(frozen=True)
class SearchQuery:
    """Documents matching at least one group, filtered, ranked and paged.

    Hits rank by `matched` (groups matched) descending, then `created_at` descending, then
    `doc_id` descending. Filters apply before ranking: `kinds` (None: any; an empty list:
    none); where to look, `scopes` and `doc_ids` (both None: anywhere; else a document passes
    when its scope is in `scopes` or its doc_id in `doc_ids`, None counting as empty: at most
    65,536 of them together); `author_id`; and `since` <= created_at < `until`. `after` is
    the cursor of the previous page's last hit; `limit` is 1 to 200. Checked when built.
    """

    groups: Sequence[Sequence[bytes]]
    kinds: Sequence[str] | None = None
    scopes: Sequence[str] | None = None
    doc_ids: Sequence[str] | None = None
    author_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 20
    after: SearchCursor | None = None

    def __post_init__(self) -> None:
        check_query(self)


class SearchEngine(Protocol):
    """A per-workspace index of documents by keyed-hash token; both engines rank the same.

    Writes of one document are atomic. `index` upserts: a document indexed again has its
    tokens and metadata replaced, so its old tokens no longer match it.
    """

    @property
    def name(self) -> str:
        """The engine's name: "embedded" or "elasticsearch"."""

    async def index(self, workspace_id: str, documents: Sequence[SearchDocument]) -> None:
        """Add or replace these documents (at most 1,000 distinct doc_ids per call)."""

    async def delete(self, workspace_id: str, doc_ids: Sequence[str]) -> None:
        """Remove these documents if present; deleting a missing document is not an error."""

    async def clear(self, workspace_id: str) -> None:
        """Forget everything indexed for the workspace."""

    async def search(self, workspace_id: str, query: SearchQuery) -> list[SearchHit]:
        """Up to `query.limit` hits, best first, strictly after `query.after`."""

    async def refresh(self) -> None:
        """Make every write so far visible to searches now."""

    async def ping(self) -> None:
        """Raise SearchUnavailable unless the backend answers."""

    async def close(self) -> None:
        """Release connections; idempotent. Later calls raise SearchUnavailable."""


def check_workspace_id(workspace_id: object) -> str:
    """Refuse anything but 1 to 128 characters of [A-Za-z0-9_-]."""
    if (
        not isinstance(workspace_id, str)
        or len(workspace_id) > MAX_ID_LENGTH
        or not _WORKSPACE_ID.fullmatch(workspace_id)
    ):
        raise SearchError(
            f"a workspace id is 1 to {MAX_ID_LENGTH} characters of [A-Za-z0-9_-], "
            f"got {_shown(workspace_id)}"
        )
    return workspace_id


def check_id(value: object, what: str, *, empty: bool = False) -> str:
    """Refuse anything but up to 128 characters of [A-Za-z0-9:_-] (none only if `empty`)."""
    if isinstance(value, str) and value == "" and empty:
        return value
    if not isinstance(value, str) or len(value) > MAX_ID_LENGTH or not _ID.fullmatch(value):
        raise SearchError(
            f"{what} is 1 to {MAX_ID_LENGTH} characters of [A-Za-z0-9:_-], got {_shown(value)}"
        )
    return value


def check_kind(kind: object) -> str:
    """Refuse anything but a short name of [a-z_]."""
    if not isinstance(kind, str) or len(kind) > MAX_KIND_LENGTH or not _KIND.fullmatch(kind):
        raise SearchError(
            f"a kind is 1 to {MAX_KIND_LENGTH} characters of [a-z_], got {_shown(kind)}"
        )
    return kind


def check_time(moment: object, what: str) -> datetime:
    """Refuse anything but a timezone-aware datetime."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise SearchError(f"{what} must be a timezone-aware datetime")
    return moment


def check_token(token: object) -> bytes:
    """Refuse anything but 8 to 32 bytes (the token itself stays out of the message)."""
    if not isinstance(token, bytes):
        raise SearchError(f"a token is bytes, not {type(token).__name__}")
    if not MIN_TOKEN_BYTES <= len(token) <= MAX_TOKEN_BYTES:
        raise SearchError(
            f"a token is {MIN_TOKEN_BYTES} to {MAX_TOKEN_BYTES} bytes, got {len(token)}"
        )
    return token


def check_document(document: object) -> SearchDocument:
    """Refuse a document with a bad id, kind, scope, author, time or token."""
    if not isinstance(document, SearchDocument):
        raise SearchError(f"expected a SearchDocument, got {type(document).__name__}")
    doc_id = check_id(document.doc_id, "a document id")
    check_kind(document.kind)
    check_id(document.scope, f"the scope of {doc_id}")
    check_id(document.author_id, f"the author id of {doc_id}", empty=True)
    check_time(document.created_at, f"the created_at of {doc_id}")
    if not isinstance(document.tokens, frozenset):
        raise SearchError(f"the tokens of {doc_id} are a frozenset of bytes")
    if len(document.tokens) > MAX_DOCUMENT_TOKENS:
        raise SearchError(
            f"{doc_id} has {len(document.tokens)} tokens; at most {MAX_DOCUMENT_TOKENS} allowed"
        )
    for token in document.tokens:
        check_token(token)
    return document


def check_documents(documents: Sequence[SearchDocument]) -> list[SearchDocument]:
    """Every document checked, doc_ids distinct, at most 1,000 of them."""
    given = _sequence(documents, "documents")
    if len(given) > MAX_DOCUMENTS_PER_CALL:
        raise SearchError(
            f"index at most {MAX_DOCUMENTS_PER_CALL} documents per call, got {len(given)}"
        )
    checked = [check_document(document) for document in given]
    seen: set[str] = set()
    for document in checked:
        if document.doc_id in seen:
            raise SearchError(f"{document.doc_id} is given twice in one call")
        seen.add(document.doc_id)
    return checked


def check_doc_ids(doc_ids: Sequence[str]) -> list[str]:
    """Every doc_id checked, at most 1,000; repeats are dropped."""
    given = _sequence(doc_ids, "doc_ids")
    if len(given) > MAX_DOCUMENTS_PER_CALL:
        raise SearchError(
            f"delete at most {MAX_DOCUMENTS_PER_CALL} documents per call, got {len(given)}"
        )
    return list(dict.fromkeys(check_id(doc_id, "a document id") for doc_id in given))


def check_query(query: SearchQuery) -> list[list[bytes]]:
    """Check every part of the query; return its groups as lists of distinct tokens."""
    groups = [
        list(dict.fromkeys(check_token(token) for token in _sequence(group, "a query group")))
        for group in _sequence(query.groups, "groups")
    ]
    if len(groups) > MAX_QUERY_GROUPS:
        raise SearchError(f"a query has at most {MAX_QUERY_GROUPS} groups, got {len(groups)}")
    distinct = len({token for group in groups for token in group})
    if distinct > MAX_QUERY_TOKENS:
        raise SearchError(f"a query has at most {MAX_QUERY_TOKENS} distinct tokens, got {distinct}")
    if query.kinds is not None:
        for kind in _sequence(query.kinds, "kinds"):
            check_kind(kind)
    scopes = [] if query.scopes is None else _sequence(query.scopes, "scopes")
    listed = [] if query.doc_ids is None else _sequence(query.doc_ids, "doc_ids")
    if len(scopes) + len(listed) > MAX_QUERY_SCOPES:
        raise SearchError(f"a query names at most {MAX_QUERY_SCOPES} scopes and doc_ids")
    for scope in scopes:
        check_id(scope, "a scope")
    for doc_id in listed:
        check_id(doc_id, "a listed document id")
    if query.author_id is not None:
        check_id(query.author_id, "the author id", empty=True)
    if query.since is not None:
        check_time(query.since, "since")
    if query.until is not None:
        check_time(query.until, "until")
    limit = query.limit
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise SearchError(f"limit is an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    if query.after is not None:
        after = query.after
        if not isinstance(after, SearchCursor):
            raise SearchError(f"after is a SearchCursor, not {type(after).__name__}")
        if isinstance(after.matched, bool) or not isinstance(after.matched, int):
            raise SearchError("a cursor's matched is an integer")
        check_time(after.created_at, "a cursor's created_at")
        check_id(after.doc_id, "a cursor's doc_id")
    return groups


def finds_nothing(groups: list[list[bytes]], query: SearchQuery) -> bool:
    """Whether a checked query can match nothing: no tokens, or no kind or place allowed."""
    no_kind = query.kinds is not None and len(query.kinds) == 0
    return not any(groups) or no_kind or nowhere(query)


def restricts_place(query: SearchQuery) -> bool:
    """Whether `scopes` or `doc_ids` limit where the query looks."""
    return query.scopes is not None or query.doc_ids is not None


def nowhere(query: SearchQuery) -> bool:
    """Whether the query may look in no scope and at no listed document."""
    return restricts_place(query) and not query.scopes and not query.doc_ids


def _sequence(given: object, what: str) -> list[object]:
    # A lone str or bytes would iterate as characters or integers and fail obscurely.
    if isinstance(given, str | bytes | bytearray) or not isinstance(given, Sequence | AbstractSet):
        raise SearchError(f"{what} must be a sequence, not {type(given).__name__}")
    return list(given)


def _shown(value: object) -> str:
    # Ids are not secret, but a long or odd value is cut short rather than echoed whole.
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    return type(value).__name__
