"""Documents over the size or token limit are refused early, comments counting; the parse and
validation caches keep only small documents, so strangers cannot fill the server's memory."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import httpx

from schema.build import build_schema
from schema.documents import CACHEABLE_BYTES, DocumentCache
from support import Server, error_codes, make_settings, serve


def rss_bytes() -> int:
    """This process's resident memory (the test server runs in it, in a thread)."""
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_a_document_over_the_size_limit_is_refused_with_its_size(shared_server: Server) -> None:
    padded = "# " + "x" * (64 * 1024) + "\n{ viewer { id } }"
    result = shared_server.client().run(padded)
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "65536" in result["errors"][0]["message"]
    assert result.get("data") is None


def test_a_document_padded_with_comments_is_refused_by_the_token_limit(
    shared_server: Server,
) -> None:
    commented = "#\n" * 2_001 + "{ viewer { id } }"
    assert len(commented) < 64 * 1024
    result = shared_server.client().run(commented)
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "tokens" in result["errors"][0]["message"]
    fine = "#\n" * 1_000 + "{ __typename }"
    assert shared_server.client().run(fine)["data"] == {"__typename": "Query"}


def test_the_caches_keep_only_small_documents_by_digest() -> None:
    cache = DocumentCache(max_bytes=64 * 1024, max_tokens=2000, entries=8)
    schema = build_schema()._schema
    large = "{ __typename }" + " " * CACHEABLE_BYTES
    digest, document = cache.parse(large)
    assert cache.validate(schema, digest, document, ()) == []
    assert len(cache.parsed) == 0 and len(cache.validated) == 0
    for i in range(20):
        digest, document = cache.parse(f"{{ a{i}: __typename }}")
        cache.validate(schema, digest, document, ())
    assert len(cache.parsed) == 8 and len(cache.validated) == 8
    # Keys are digests: no key holds a document's text.
    assert all(isinstance(key, bytes) and len(key) == 20 for key in cache.parsed._items)


def test_a_thousand_distinct_large_documents_leave_memory_where_it_was(tmp_path: Path) -> None:
    with serve(make_settings(tmp_path / "data")) as server:
        http = httpx.Client(base_url=server.url, timeout=30)
        near_limit = [f"{{ a{i}: __typename }}" + " " * (60 * 1024) for i in range(50)]
        for document in near_limit:  # warm up: allocator, caches, connections
            http.post("/graphql", json={"query": document})
        gc.collect()
        before = rss_bytes()
        for i in range(1_000):
            # A 1 MB comment-padded document (within the 1 MiB body limit): refused by size.
            huge = f"# {i}" + "x" * 1_000_000 + "\n{ viewer { id } }"
            response = http.post("/graphql", json={"query": huge})
            assert response.status_code == 200
            assert error_codes(response.json()) == ["BAD_USER_INPUT"]
        for i in range(1_000):
            # Just under the size limit and valid: it runs, but is never cached.
            document = f"{{ b{i}: __typename }}" + " " * (60 * 1024)
            response = http.post("/graphql", json={"query": document})
            assert response.json()["data"] == {f"b{i}": "Query"}
        gc.collect()
        grown = rss_bytes() - before
        http.close()
    assert grown < 50 * 1024 * 1024, f"memory grew by {grown / 2**20:.0f} MiB"
