"""The embedded search engine: an inverted index in the Store's own tables (SQLite by default).

Postings live in `search_postings`, one partition per (workspace, token), newest document
first. A query reads the first rows of each of its tokens' partitions, counts in memory
which groups each document matched, filters, ranks and pages. Each document's row in
`search_documents` is the truth: it lists the document's tokens, so re-indexing or
deleting it removes exactly its old postings, and every hit is checked against it before
it is returned. `search_terms` lists every token the workspace has postings under (each
call writes the ones not yet listed, with the postings), so `clear` can drop every
postings partition whole. Only the Store protocol is used: the same code runs on ScyllaDB.

Recall limit: a query considers, per token, only the newest `MAX_POSTINGS_PER_TOKEN`
documents holding it (counted before filters; below `until`, above `since`, and below the
cursor once its matched count is 1). Rare words are always found in full. For a word in
more than 5,000 documents of a workspace, older documents are found only if they hold a
rarer query word too (and then `matched` counts only the groups whose tokens reached them),
fall in a `since`/`until` window, or a later page gets there (a one-word query pages
through every match). So a narrow scope filter on a very common word can miss older
matches that Elasticsearch would find.

Writes of one workspace are serialized within the engine (a per-workspace lock). Writers
of one document in different processes are not: if two race, the loser may leave postings
the document's row does not list. Searches never return such a hit and repair the postings
they meet, and `clear` removes them with the rest. `clear` itself must not race writes to
the workspace from other processes (Cove clears a workspace once nothing indexes it).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from integrations.search.base import (
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchUnavailable,
    check_doc_ids,
    check_documents,
    check_query,
    check_workspace_id,
    finds_nothing,
    restricts_place,
)
from persistence.search import SEARCH_DOCUMENTS, SEARCH_POSTINGS, SEARCH_TERMS
from persistence.store import Delete, Put, Row, Store, StoreError
from persistence.timestamps import from_millis, to_millis

log = logging.getLogger("cove.search")

# The newest documents per token a query considers: the engine's recall limit (see above).
MAX_POSTINGS_PER_TOKEN = 5_000
# Rows per store batch; a document's rows always go in one batch, so it is atomic.
MAX_OPS_PER_BATCH = 16_384
# Terms read per page while clearing a workspace.
CLEAR_PAGE_SIZE = 500
# Pages of candidates checked against their documents' rows before a search gives up
# filling its page (only postings left by racing writers in other processes fail).
MAX_CHECK_ROUNDS = 8

# What the filters say of a posting's `meta`: its rows pass, fail, or pass if listed in doc_ids.
_PASS, _FAIL, _IF_LISTED = 0, 1, 2
_Key = tuple[int, int, str]  # (matched, created_ms, doc_id): hits rank by it, descending
_Ops = list[Put | Delete]


def encode_terms(tokens: Sequence[bytes]) -> bytes:
    """Tokens as one BLOB: each as one length byte, then its bytes."""
    return b"".join(bytes((len(token),)) + token for token in tokens)


def decode_terms(blob: bytes) -> list[bytes]:
    """The tokens `encode_terms` packed into `blob`."""
    tokens = []
    position = 0
    while position < len(blob):  # each step moves past one token
        size = blob[position]
        tokens.append(blob[position + 1 : position + 1 + size])
        position += 1 + size
    return tokens


def encode_meta(kind: str, scope: str, author_id: str) -> str:
    """A posting's `meta`: the three fields joined by spaces (none may hold one)."""
    return f"{kind} {scope} {author_id}"


def decode_meta(meta: str) -> tuple[str, str, str]:
    """Kind, scope and author_id from a posting's `meta`."""
    kind, scope, author_id = meta.split(" ", 2)
    return kind, scope, author_id


def _row_meta(row: Row) -> str:
    return encode_meta(row["kind"], row["scope"], row["author_id"])


@dataclass
class _Found:
    """What a search's postings say of each document that passed the filters."""

    masks: dict[str, int] = field(default_factory=dict)  # bit i: matched group i
    seen: dict[str, tuple[int, str]] = field(default_factory=dict)  # created_ms, meta
    inconsistent: set[str] = field(default_factory=set)  # its postings disagree


class EmbeddedSearchEngine:
    """Search over the Store protocol; needs the tables of `persistence.search`.

    The store is the caller's: `close` does not close it.
    """

    def __init__(
        self,
        store: Store,
        *,
        max_postings_per_token: int = MAX_POSTINGS_PER_TOKEN,
        max_ops_per_batch: int = MAX_OPS_PER_BATCH,
    ) -> None:
        if max_postings_per_token < 1 or max_ops_per_batch < 1:
            raise ValueError("max_postings_per_token and max_ops_per_batch must be at least 1")
        self._store = store
        self._max_postings = max_postings_per_token
        self._max_ops = max_ops_per_batch
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._closed = False

    @property
    def name(self) -> str:
        return "embedded"

    async def index(self, workspace_id: str, documents: Sequence[SearchDocument]) -> None:
        """Replace each document's rows (postings, document row, terms) in a few batches."""
        workspace_id = check_workspace_id(workspace_id)
        checked = check_documents(documents)
        self._check_open()
        if not checked:
            return
        async with self._lock(workspace_id):
            with _unavailable("indexing"):
                previous = await self._document_rows(workspace_id, [d.doc_id for d in checked])
                terms = sorted({token for document in checked for token in document.tokens})
                listed = await self._store.get_many(
                    SEARCH_TERMS, [{"workspace_id": workspace_id, "term": term} for term in terms]
                )
                known = {term for term, row in zip(terms, listed, strict=True) if row is not None}
                batches = _Batches(workspace_id, self._max_ops, known)
                for document, row in zip(checked, previous, strict=True):
                    batches.add(_index_ops(workspace_id, document, row), document.tokens)
                for ops in batches.done():
                    await self._store.batch(ops)

    async def delete(self, workspace_id: str, doc_ids: Sequence[str]) -> None:
        """Remove each present document's postings and row; missing ones are skipped."""
        workspace_id = check_workspace_id(workspace_id)
        wanted = check_doc_ids(doc_ids)
        self._check_open()
        if not wanted:
            return
        async with self._lock(workspace_id):
            with _unavailable("deleting"):
                previous = await self._document_rows(workspace_id, wanted)
                batches = _Batches(workspace_id, self._max_ops)
                for doc_id, row in zip(wanted, previous, strict=True):
                    if row is not None:
                        ops = _posting_deletes(workspace_id, doc_id, row, keep=frozenset())
                        ops.append(Delete(SEARCH_DOCUMENTS, _document_key(workspace_id, doc_id)))
                        batches.add(ops, frozenset())
                for ops in batches.done():
                    await self._store.batch(ops)

    async def clear(self, workspace_id: str) -> None:
        """Drop the postings partition of every term the workspace posted, then the rest.

        The term list goes last, so a clear cut short is finished by the next one.
        """
        workspace_id = check_workspace_id(workspace_id)
        self._check_open()
        partition = {"workspace_id": workspace_id}
        async with self._lock(workspace_id):
            with _unavailable("clearing"):
                after: tuple[bytes] | None = None
                while True:  # one page of terms per round; every round moves past its page
                    terms = await self._store.scan(
                        SEARCH_TERMS, partition, limit=CLEAR_PAGE_SIZE, after=after
                    )
                    for row in terms:
                        await self._store.delete_partition(
                            SEARCH_POSTINGS, {"workspace_id": workspace_id, "term": row["term"]}
                        )
                    if len(terms) < CLEAR_PAGE_SIZE:
                        break
                    after = (terms[-1]["term"],)
                await self._store.delete_partition(SEARCH_DOCUMENTS, partition)
                await self._store.delete_partition(SEARCH_TERMS, partition)

    async def search(self, workspace_id: str, query: SearchQuery) -> list[SearchHit]:
        """Read each token's newest postings, count groups per document, filter, rank, page."""
        groups = check_query(query)
        workspace_id = check_workspace_id(workspace_id)
        self._check_open()
        if finds_nothing(groups, query):
            return []
        bits: dict[bytes, int] = {}
        for position, group in enumerate(groups):
            for token in group:
                bits[token] = bits.get(token, 0) | 1 << position
        cursor: _Key | None = None
        if query.after is not None:
            after = query.after
            cursor = (after.matched, to_millis(after.created_at), after.doc_id)
        with _unavailable("searching"):
            postings = await self._postings(workspace_id, list(bits), query, cursor)
            found = _collect(postings, list(bits.values()), query)
            hits, stale = await self._checked_page(workspace_id, found, groups, cursor, query.limit)
            if stale:
                await self._repair(workspace_id, stale, postings)
        return hits

    async def refresh(self) -> None:
        """Nothing to do: every write is visible once its call returns."""
        self._check_open()

    async def ping(self) -> None:
        """Raise SearchUnavailable unless the store answers."""
        self._check_open()
        with _unavailable("ping"):
            await self._store.ping()

    async def close(self) -> None:
        """Refuse later calls; the store stays open (it is the caller's)."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise SearchUnavailable("the embedded search engine is closed")

    def _lock(self, workspace_id: str) -> asyncio.Lock:
        # Weakly held: a workspace's lock lives while a call holds or awaits it.
        lock = self._locks.get(workspace_id)
        if lock is None:
            lock = self._locks[workspace_id] = asyncio.Lock()
        return lock

    async def _document_rows(self, workspace_id: str, doc_ids: Sequence[str]) -> list[Row | None]:
        keys = [_document_key(workspace_id, doc_id) for doc_id in doc_ids]
        return await self._store.get_many(SEARCH_DOCUMENTS, keys)

    async def _postings(
        self, workspace_id: str, tokens: list[bytes], query: SearchQuery, cursor: _Key | None
    ) -> list[list[Row]]:
        """The newest postings of each token, within the time window the query allows."""
        partitions = [{"workspace_id": workspace_id, "term": token} for token in tokens]
        # Rows come newest first: `after` bounds from above, `before` from below. A doc_id
        # of "" sorts before every real one, so (t, "") excludes exactly the times past t.
        upper: tuple[int, str] | None = None
        if query.until is not None:
            upper = (to_millis(query.until), "")
        if cursor is not None and cursor[0] <= 1:
            # Every hit after a cursor of one matched group is older than it (or ties on
            # time with a smaller id), so the scan may start there and page arbitrarily deep.
            upper = cursor[1:] if upper is None else min(upper, cursor[1:])
        lower = None if query.since is None else (to_millis(query.since), "")
        # One scan per token, one after another. On SQLite, decoding rows holds the GIL, so
        # scans side by side only contend (twice as slow for two common tokens), and
        # scan_many's single statement sorts the union of the partitions again.
        return [
            await self._store.scan(
                SEARCH_POSTINGS, partition, limit=self._max_postings, after=upper, before=lower
            )
            for partition in partitions
        ]

    async def _checked_page(
        self,
        workspace_id: str,
        found: _Found,
        groups: list[list[bytes]],
        cursor: _Key | None,
        limit: int,
    ) -> tuple[list[SearchHit], set[str]]:
        """The best `limit` documents after the cursor that their rows confirm, and the
        doc_ids of those that only stale postings made candidates (to repair)."""
        seen = found.seen
        keys = [(mask.bit_count(), seen[doc_id][0], doc_id) for doc_id, mask in found.masks.items()]
        if cursor is not None:
            keys = [key for key in keys if key < cursor]
        hits: list[SearchHit] = []
        stale: set[str] = set()
        for _ in range(MAX_CHECK_ROUNDS):
            wanted = limit - len(hits)
            top = heapq.nlargest(wanted, keys)
            if not top:
                break
            rows = await self._document_rows(workspace_id, [doc_id for _, _, doc_id in top])
            for (matched, created_ms, doc_id), row in zip(top, rows, strict=True):
                meta = seen[doc_id][1]
                if doc_id in found.inconsistent or not _confirmed(
                    row, created_ms, meta, found.masks[doc_id], groups
                ):
                    stale.add(doc_id)
                    continue
                kind, scope, author_id = decode_meta(meta)
                created_at = from_millis(created_ms)
                hits.append(SearchHit(doc_id, kind, scope, author_id, created_at, matched))
            if len(hits) == limit or len(top) < wanted:
                break
            keys = [key for key in keys if key < top[-1]]
        return hits, stale

    async def _repair(self, workspace_id: str, stale: set[str], postings: list[list[Row]]) -> None:
        """Fix or delete the postings a search met that their documents' rows contradict."""
        met = [row for rows in postings for row in rows if row["doc_id"] in stale]
        doc_ids = sorted(stale)
        try:
            async with self._lock(workspace_id):
                # Read again under the lock: a write of this process may have fixed them.
                rows = await self._document_rows(workspace_id, doc_ids)
                documents = dict(zip(doc_ids, rows, strict=True))
                batches = _Batches(workspace_id, self._max_ops)
                for posting in met:
                    batches.add([_repair_op(workspace_id, posting, documents)], frozenset())
                for ops in batches.done():
                    await self._store.batch(ops)
        except StoreError as error:
            # The stale hits were left out already; the next search meeting them retries.
            log.warning("embedded search could not repair stale postings: %s", error)
        else:
            log.info("embedded search repaired the postings of %d documents", len(stale))


def _collect(postings: list[list[Row]], bits: list[int], query: SearchQuery) -> _Found:
    """Which groups each document matched, from the postings that pass the filters.

    The hot loop of a search (thousands of rows): filters on kind, scope and author are
    decided once per distinct `meta` value (`doc_ids`, once per row of a scope not allowed).
    """
    kinds = None if query.kinds is None else frozenset(query.kinds)
    placed = restricts_place(query)
    scopes = frozenset(query.scopes or ())
    listed = frozenset(query.doc_ids or ())
    author_id = query.author_id
    filtering = kinds is not None or placed or author_id is not None
    # Per meta: every row passes, none does, or only the rows of listed documents.
    verdicts: dict[str, int] = {}
    since = None if query.since is None else to_millis(query.since)
    until = None if query.until is None else to_millis(query.until)
    found = _Found()
    masks, seen, inconsistent = found.masks, found.seen, found.inconsistent
    for token_bits, rows in zip(bits, postings, strict=True):
        for row in rows:
            meta = row["meta"]
            if filtering:
                verdict = verdicts.get(meta)
                if verdict is None:
                    kind, scope, author = decode_meta(meta)
                    verdict = _PASS
                    if (kinds is not None and kind not in kinds) or (
                        author_id is not None and author != author_id
                    ):
                        verdict = _FAIL
                    elif placed and scope not in scopes:
                        verdict = _IF_LISTED if listed else _FAIL
                    verdicts[meta] = verdict
                if verdict == _FAIL or (verdict == _IF_LISTED and row["doc_id"] not in listed):
                    continue
            created_ms = row["created_ms"]
            if (since is not None and created_ms < since) or (
                until is not None and created_ms >= until
            ):
                continue
            doc_id = row["doc_id"]
            first = seen.get(doc_id)
            if first is None:
                seen[doc_id] = (created_ms, meta)
                masks[doc_id] = token_bits
            else:
                masks[doc_id] |= token_bits
                if first[0] != created_ms or first[1] != meta:
                    inconsistent.add(doc_id)
    return found


def _confirmed(
    row: Row | None, created_ms: int, meta: str, mask: int, groups: list[list[bytes]]
) -> bool:
    """Whether a document's row agrees with the postings that made it a candidate."""
    if row is None or to_millis(row["created_at"]) != created_ms or _row_meta(row) != meta:
        return False
    terms = set(decode_terms(row["terms"]))
    return all(
        not terms.isdisjoint(group) for position, group in enumerate(groups) if mask >> position & 1
    )


def _repair_op(
    workspace_id: str, posting: Row, documents: Mapping[str, Row | None]
) -> Put | Delete:
    """The posting rewritten from its document's row if the row lists it, else deleted."""
    key = _posting_key(workspace_id, posting["term"], posting["created_ms"], posting["doc_id"])
    row = documents[posting["doc_id"]]
    if (
        row is not None
        and to_millis(row["created_at"]) == posting["created_ms"]
        and posting["term"] in decode_terms(row["terms"])
    ):
        return Put(SEARCH_POSTINGS, key | {"meta": _row_meta(row)})
    return Delete(SEARCH_POSTINGS, key)


def _document_key(workspace_id: str, doc_id: str) -> dict[str, Any]:
    return {"workspace_id": workspace_id, "doc_id": doc_id}


def _posting_key(workspace_id: str, term: bytes, created_ms: int, doc_id: str) -> dict[str, Any]:
    return {"workspace_id": workspace_id, "term": term, "created_ms": created_ms, "doc_id": doc_id}


def _posting_deletes(workspace_id: str, doc_id: str, row: Row, *, keep: frozenset[bytes]) -> _Ops:
    """Deletes of the postings a document row lists, but those in `keep`."""
    created_ms = to_millis(row["created_at"])
    return [
        Delete(SEARCH_POSTINGS, _posting_key(workspace_id, term, created_ms, doc_id))
        for term in decode_terms(row["terms"])
        if term not in keep
    ]


def _index_ops(workspace_id: str, document: SearchDocument, row: Row | None) -> _Ops:
    """A document's old postings out, its new postings and row in."""
    created_ms = to_millis(document.created_at)
    tokens = sorted(document.tokens)
    ops: _Ops = []
    if row is not None:
        # Postings put again at the same key are overwritten in place, not deleted first.
        same_time = to_millis(row["created_at"]) == created_ms
        keep = document.tokens if same_time else frozenset()
        ops += _posting_deletes(workspace_id, document.doc_id, row, keep=keep)
    meta = encode_meta(document.kind, document.scope, document.author_id)
    doc_id = document.doc_id
    ops += [
        Put(
            SEARCH_POSTINGS,
            {
                "workspace_id": workspace_id,
                "term": token,
                "created_ms": created_ms,
                "doc_id": doc_id,
                "meta": meta,
            },
        )
        for token in tokens
    ]
    document_row = {
        "workspace_id": workspace_id,
        "doc_id": doc_id,
        "kind": document.kind,
        "scope": document.scope,
        "author_id": document.author_id,
        "created_at": from_millis(created_ms),
        "terms": encode_terms(tokens),
    }
    ops.append(Put(SEARCH_DOCUMENTS, document_row))
    return ops


class _Batches:
    """Groups documents' ops into batches of about `most` rows, with their terms' rows."""

    def __init__(self, workspace_id: str, most: int, known: set[bytes] | None = None) -> None:
        self._workspace_id = workspace_id
        self._most = most
        self._known = set() if known is None else known
        self._batches: list[_Ops] = []
        self._ops: _Ops = []
        self._terms: set[bytes] = set()

    def add(self, ops: _Ops, terms: frozenset[bytes]) -> None:
        """Add one document's ops; they never straddle two batches."""
        terms = terms - self._known
        new_terms = len(terms - self._terms)
        if self._ops and len(self._ops) + len(self._terms) + len(ops) + new_terms > self._most:
            self._flush()
        self._ops += ops
        self._terms |= terms

    def done(self) -> list[_Ops]:
        """Every batch, each with Puts of the terms its postings use."""
        self._flush()
        return self._batches

    def _flush(self) -> None:
        if not self._ops:
            return
        terms: _Ops = [
            Put(SEARCH_TERMS, {"workspace_id": self._workspace_id, "term": term})
            for term in sorted(self._terms)
        ]
        self._batches.append(terms + self._ops)
        self._known |= self._terms
        self._ops = []
        self._terms = set()


@contextmanager
def _unavailable(what: str) -> Iterator[None]:
    try:
        yield
    except StoreError as error:
        raise SearchUnavailable(f"embedded search {what} failed: {error}") from error
