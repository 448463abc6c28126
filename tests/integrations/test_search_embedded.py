"""The embedded engine's own promises: what its tables hold, its recall bound, its repairs."""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from integrations.search import (
    MAX_POSTINGS_PER_TOKEN,
    EmbeddedSearchEngine,
    SearchDocument,
    SearchQuery,
    SearchUnavailable,
)
from integrations.search import embedded as embedded_module
from integrations.search.embedded import decode_terms, encode_meta, encode_terms
from persistence.search import SEARCH_DOCUMENTS, SEARCH_POSTINGS, SEARCH_TERMS
from persistence.sqlite import SqliteStore
from persistence.store import Delete, Put, Update
from persistence.timestamps import to_millis
from tests.integrations.test_search_contract import T0, doc, ids, query, token


def high_bytes(rng: random.Random, size: int = 12) -> bytes:
    """Random token bytes that are never printable ASCII, so no text hides in them."""
    return bytes(rng.randrange(0x80, 0x100) for _ in range(size))


async def rows_of(store: SqliteStore, workspace_id: str) -> dict[str, int]:
    """How many rows each search table holds for the workspace (postings via its terms)."""
    partition = {"workspace_id": workspace_id}
    terms = await store.scan(SEARCH_TERMS, partition, limit=100_000)
    postings = 0
    for row in terms:
        key = {"workspace_id": workspace_id, "term": row["term"]}
        postings += await store.count(SEARCH_POSTINGS, key, limit=100_000)
    documents = await store.count(SEARCH_DOCUMENTS, partition, limit=100_000)
    return {"postings": postings, "documents": documents, "terms": len(terms)}


async def test_the_index_holds_only_ids_times_and_the_given_tokens(
    search_store: SqliteStore, tmp_path: Path
) -> None:
    rng = random.Random(5)
    engine = EmbeddedSearchEngine(search_store)
    # Ids of digits: their fragments (freed space keeps some) cannot spell words.
    workspace_id = "w-20240501"
    documents = [
        SearchDocument(
            doc_id=f"{kind}:{n:026d}",
            kind=kind,
            scope=f"channel:{n % 3:026d}",
            author_id="" if n % 4 == 0 else f"{n % 5:026d}",
            created_at=T0 + timedelta(seconds=n),
            tokens=frozenset(high_bytes(rng) for _ in range(rng.randint(1, 30))),
        )
        for n, kind in enumerate(["message", "file", "event", "task"] * 40)
    ]
    await engine.index(workspace_id, documents)
    await engine.index(workspace_id, documents[:10])  # re-indexing rewrites rows in place
    await engine.delete(workspace_id, [document.doc_id for document in documents[-10:]])
    await search_store.checkpoint()
    raw = (tmp_path / "cove.db").read_bytes()

    # Every token and id of a live document is there, as given.
    for document in documents[:-10]:
        assert document.doc_id.encode() in raw
        assert all(term in raw for term in document.tokens)

    # Every other printable run is made of what we passed or of the schema's own text.
    allowed: set[str] = {workspace_id, "SQLite format 3"}
    for document in documents:
        allowed |= {document.doc_id, document.kind, document.scope}
        allowed |= {document.author_id} if document.author_id else set()
    with sqlite3.connect(tmp_path / "cove.db") as connection:
        for (text,) in connection.execute(
            "SELECT type FROM sqlite_master UNION ALL SELECT name FROM sqlite_master "
            "UNION ALL SELECT sql FROM sqlite_master "
            "UNION ALL SELECT name FROM cove_migrations"
        ):
            if text:
                allowed |= {text, *re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)}
    pattern = re.compile(
        "|".join(re.escape(text) for text in sorted(allowed, key=len, reverse=True))
    )
    corpus = "\n".join(allowed)
    leftovers = set()
    for run in re.findall(rb"[\x20-\x7e]{4,}", raw):
        rest = pattern.sub(" ", run.decode())
        # What is left is a fragment of the allowed text, or not text at all.
        leftovers |= {word for word in re.findall(r"[A-Za-z]{4,}", rest) if word not in corpus}
    assert leftovers == set()


async def test_a_query_considers_the_newest_postings_of_each_token(
    search_store: SqliteStore,
) -> None:
    assert MAX_POSTINGS_PER_TOKEN == 5_000
    engine = EmbeddedSearchEngine(search_store, max_postings_per_token=4)
    # Ten documents share a common word; the oldest two also hold a rare one.
    await engine.index(
        "w1",
        [
            doc(f"message:{n}", ["common", "rare"] if n < 2 else ["common"], minutes=n)
            for n in range(10)
        ],
    )
    hits = await engine.search("w1", query("common", limit=200))
    assert ids(hits) == ["message:9", "message:8", "message:7", "message:6"]
    # An older document is still found through a rarer word of the query.
    hits = await engine.search("w1", query("common", "rare", limit=200))
    assert [(hit.doc_id, hit.matched) for hit in hits][:2] == [("message:9", 1), ("message:8", 1)]
    assert {(hit.doc_id, hit.matched) for hit in hits} >= {("message:1", 1), ("message:0", 1)}
    # A time window moves the bound: the newest postings before `until` are read.
    hits = await engine.search("w1", query("common", until=T0 + timedelta(minutes=5)))
    assert ids(hits) == ["message:4", "message:3", "message:2", "message:1"]
    hits = await engine.search("w1", query("common", since=T0 + timedelta(minutes=7)))
    assert ids(hits) == ["message:9", "message:8", "message:7"]


async def test_a_one_word_query_pages_past_the_bound(search_store: SqliteStore) -> None:
    engine = EmbeddedSearchEngine(search_store, max_postings_per_token=4)
    await engine.index("w1", [doc(f"message:{n:02d}", ["common"], minutes=n) for n in range(11)])
    found: list[str] = []
    page = await engine.search("w1", query("common", limit=3))
    while page:  # bounded: each page starts after the last one's cursor
        found += ids(page)
        page = await engine.search("w1", query("common", limit=3, after=page[-1].cursor))
    assert found == [f"message:{n:02d}" for n in reversed(range(11))]


async def test_index_writes_a_call_in_one_batch_and_each_document_whole(
    search_store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[Sequence[Put | Delete | Update]] = []
    real_batch = search_store.batch

    async def recording(ops: Sequence[Put | Delete | Update]) -> None:
        batches.append(ops)
        await real_batch(ops)

    monkeypatch.setattr(search_store, "batch", recording)
    rng = random.Random(3)
    documents = [
        doc(f"message:{n}", [f"w{rng.randrange(2000)}" for _ in range(20)], minutes=n)
        for n in range(500)
    ]
    await EmbeddedSearchEngine(search_store).index("w1", documents)
    assert len(batches) == 1

    # With small batches, no document's rows straddle two of them.
    batches.clear()
    small = EmbeddedSearchEngine(search_store, max_ops_per_batch=50)
    await small.index("w1", documents[:40])
    assert len(batches) > 5
    for ops in batches:
        written = {op.row["doc_id"] for op in ops if isinstance(op, Put) and "doc_id" in op.row}
        documents_in_batch = {
            op.row["doc_id"] for op in ops if isinstance(op, Put) and op.table is SEARCH_DOCUMENTS
        }
        assert written == documents_in_batch
    for document in documents[:40]:
        hits = await small.search(
            "w1", SearchQuery(groups=[sorted(document.tokens)[:1]], limit=200)
        )
        assert document.doc_id in ids(hits)


async def test_rewrites_leave_no_rows_behind_and_clear_leaves_none(
    search_store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_module, "CLEAR_PAGE_SIZE", 7)  # several pages of terms
    engine = EmbeddedSearchEngine(search_store)
    await engine.index("w1", [doc(f"message:{n}", [f"a{n}", f"b{n}", "c"]) for n in range(10)])
    await engine.index("w2", [doc("message:0", ["a0"])])
    assert await rows_of(search_store, "w1") == {"postings": 30, "documents": 10, "terms": 21}
    # New tokens and a new time: the old postings go, the terms stay listed.
    await engine.index("w1", [doc(f"message:{n}", [f"x{n}"], minutes=1) for n in range(10)])
    assert await rows_of(search_store, "w1") == {"postings": 10, "documents": 10, "terms": 31}
    await engine.delete("w1", ["message:0", "message:1"])
    assert await rows_of(search_store, "w1") == {"postings": 8, "documents": 8, "terms": 31}
    await engine.clear("w1")
    assert await rows_of(search_store, "w1") == {"postings": 0, "documents": 0, "terms": 0}
    assert await rows_of(search_store, "w2") == {"postings": 1, "documents": 1, "terms": 1}


async def test_concurrent_rewrites_of_one_document_leave_no_stale_postings(
    search_store: SqliteStore,
) -> None:
    engine = EmbeddedSearchEngine(search_store)
    await asyncio.gather(
        *[engine.index("w1", [doc("message:1", [f"v{n}", "same"], minutes=n)]) for n in range(20)]
    )
    assert await rows_of(search_store, "w1") == {"postings": 2, "documents": 1, "terms": 21}
    everything = await engine.search("w1", query(*[f"v{n}" for n in range(20)]))
    assert [(hit.doc_id, hit.matched) for hit in everything] == [("message:1", 1)]


async def _stale_posting(
    store: SqliteStore, word: str, doc_id: str, *, minutes: float = 0, meta: str | None = None
) -> None:
    """A posting the document's row does not list, as a racing writer elsewhere may leave."""
    term = token(word)
    row = {
        "workspace_id": "w1",
        "term": term,
        "created_ms": to_millis(T0 + timedelta(minutes=minutes)),
        "doc_id": doc_id,
        "meta": meta or encode_meta("message", "channel:c1", "u1"),
    }
    await store.batch(
        [Put(SEARCH_POSTINGS, row), Put(SEARCH_TERMS, {"workspace_id": "w1", "term": term})]
    )


async def test_stale_postings_are_never_returned_and_are_repaired(
    search_store: SqliteStore,
) -> None:
    engine = EmbeddedSearchEngine(search_store)
    await engine.index(
        "w1",
        [
            doc("message:1", ["kept"], scope="channel:new"),
            doc("message:2", ["kept"], minutes=1),
        ],
    )
    # A token the document no longer holds, an old scope, a document that was deleted.
    await _stale_posting(search_store, "dropped", "message:2", minutes=1)
    await _stale_posting(search_store, "kept", "message:1", meta="message channel:old u1")
    await _stale_posting(search_store, "kept", "message:gone", minutes=5)
    assert await engine.search("w1", query("dropped")) == []
    assert ids(await engine.search("w1", query("kept", scopes=["channel:old"]))) == []
    assert ids(await engine.search("w1", query("kept"))) == ["message:2", "message:1"]
    # Each search repaired what it met: the postings now agree with the documents.
    assert await rows_of(search_store, "w1") == {"postings": 2, "documents": 2, "terms": 2}
    (hit,) = await engine.search("w1", query("kept", scopes=["channel:new"]))
    assert hit.doc_id == "message:1"
    # A stale posting of another group costs the document this search, not the next.
    await _stale_posting(search_store, "dropped", "message:2", minutes=1)
    assert ids(await engine.search("w1", query("kept", "dropped"))) == ["message:1"]
    hits = await engine.search("w1", query("kept", "dropped"))
    assert [(hit.doc_id, hit.matched) for hit in hits] == [("message:2", 1), ("message:1", 1)]


async def test_clear_removes_postings_no_document_lists(search_store: SqliteStore) -> None:
    engine = EmbeddedSearchEngine(search_store)
    await engine.index("w1", [doc("message:1", ["a"])])
    await _stale_posting(search_store, "orphan", "message:9")
    await engine.clear("w1")
    assert await rows_of(search_store, "w1") == {"postings": 0, "documents": 0, "terms": 0}
    key = {"workspace_id": "w1", "term": token("orphan")}
    assert await search_store.count(SEARCH_POSTINGS, key, limit=10) == 0


async def test_a_failing_store_makes_the_engine_unavailable(search_store: SqliteStore) -> None:
    engine = EmbeddedSearchEngine(search_store)
    await engine.ping()
    await search_store.close()
    calls: list[Any] = [
        engine.ping(),
        engine.search("w1", query("a")),
        engine.index("w1", [doc("message:1", ["a"])]),
        engine.delete("w1", ["message:1"]),
        engine.clear("w1"),
    ]
    for call in calls:
        with pytest.raises(SearchUnavailable):
            await call


def test_terms_pack_into_one_blob_and_back() -> None:
    tokens = [b"\x00" * 8, b"\xff" * 12, bytes(range(32))]
    assert decode_terms(encode_terms(tokens)) == tokens
    assert decode_terms(b"") == []
