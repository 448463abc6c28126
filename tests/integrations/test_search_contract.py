"""The SearchEngine contract: every engine must pass these tests unchanged.

Documents carry random keyed-hash-like tokens; a query is one group of tokens per word.
The Elasticsearch run needs COVE_TEST_ELASTICSEARCH_URL (see conftest.py).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from integrations.search import (
    SearchCursor,
    SearchDocument,
    SearchEngine,
    SearchError,
    SearchHit,
    SearchQuery,
    SearchUnavailable,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
_rng = random.Random(20240501)


def token(name: str) -> bytes:
    """A 12-byte token standing for a keyed hash of `name` (stable within a run)."""
    return _TOKENS.setdefault(name, _rng.randbytes(12))


_TOKENS: dict[str, bytes] = {}


def doc(
    doc_id: str,
    words: Iterable[str],
    *,
    minutes: float = 0,
    kind: str = "message",
    scope: str = "channel:c1",
    author_id: str = "u1",
) -> SearchDocument:
    return SearchDocument(
        doc_id=doc_id,
        kind=kind,
        scope=scope,
        author_id=author_id,
        created_at=T0 + timedelta(minutes=minutes),
        tokens=frozenset(token(word) for word in words),
    )


def query(*words: str | Sequence[str], **options: Any) -> SearchQuery:
    """One group per word; a tuple or list is one group of several alternative words."""
    groups = [
        [token(word)] if isinstance(word, str) else [token(w) for w in word] for word in words
    ]
    return SearchQuery(groups=groups, **options)


async def index(engine: SearchEngine, workspace_id: str, *documents: SearchDocument) -> None:
    await engine.index(workspace_id, list(documents))
    await engine.refresh()


def ids(hits: Sequence[SearchHit]) -> list[str]:
    return [hit.doc_id for hit in hits]


async def all_pages(engine: SearchEngine, workspace_id: str, base: SearchQuery) -> list[SearchHit]:
    hits: list[SearchHit] = []
    after = base.after
    for _ in range(100):  # bounded: the tests hold far fewer than 100 pages
        page = await engine.search(workspace_id, _with(base, after=after))
        hits += page
        if len(page) < base.limit:
            return hits
        after = page[-1].cursor
    raise AssertionError("more than 100 pages")


def _with(base: SearchQuery, **changes: Any) -> SearchQuery:
    fields = {
        "groups": base.groups,
        "kinds": base.kinds,
        "scopes": base.scopes,
        "doc_ids": base.doc_ids,
        "author_id": base.author_id,
        "since": base.since,
        "until": base.until,
        "limit": base.limit,
        "after": base.after,
    }
    return SearchQuery(**(fields | changes))


async def test_the_engine_names_itself_and_answers_ping(
    search_engine: SearchEngine, search_engine_name: str
) -> None:
    assert search_engine.name == search_engine_name
    await search_engine.ping()


async def test_hits_carry_the_documents_ids_and_times(search_engine: SearchEngine) -> None:
    moment = datetime(2024, 5, 1, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    document = SearchDocument(
        "file:f-1", "file", "folder:d_9", "", moment, frozenset({token("report")})
    )
    await index(search_engine, "w1", document)
    (hit,) = await search_engine.search("w1", query("report"))
    # Times come back in UTC, to the millisecond both engines keep.
    assert hit == SearchHit(
        "file:f-1", "file", "folder:d_9", "", datetime(2024, 5, 1, 12, 30, 15, 123000, UTC), 1
    )
    assert hit.cursor == SearchCursor(1, hit.created_at, "file:f-1")


async def test_hits_rank_by_groups_matched_then_newest_then_doc_id(
    search_engine: SearchEngine,
) -> None:
    await index(
        search_engine,
        "w1",
        doc("message:old-all", ["alpha", "beta", "gamma"], minutes=1),
        doc("message:new-two", ["alpha", "beta"], minutes=9),
        doc("message:mid-two", ["beta", "gamma"], minutes=5),
        doc("message:newest-one", ["gamma"], minutes=20),
        doc("message:tie-a", ["alpha"], minutes=3),
        doc("message:tie-b", ["alpha"], minutes=3),
        doc("message:none", ["delta"], minutes=30),
    )
    hits = await search_engine.search("w1", query("alpha", "beta", "gamma"))
    assert [(hit.doc_id, hit.matched) for hit in hits] == [
        ("message:old-all", 3),
        ("message:new-two", 2),
        ("message:mid-two", 2),
        ("message:newest-one", 1),
        ("message:tie-b", 1),  # same time: the greater doc_id first
        ("message:tie-a", 1),
    ]


async def test_a_document_matches_any_group_and_a_group_any_of_its_tokens(
    search_engine: SearchEngine,
) -> None:
    await index(
        search_engine,
        "w1",
        doc("message:1", ["meet"], minutes=1),
        doc("message:2", ["meeting"], minutes=2),
        doc("message:3", ["lunch"], minutes=3),
        doc("message:4", ["meeting", "lunch"], minutes=4),
        doc("message:5", ["dinner"], minutes=5),
    )
    # Two groups: ("meet" or "meeting"), and "lunch".
    hits = await search_engine.search("w1", query(("meet", "meeting"), "lunch"))
    assert [(hit.doc_id, hit.matched) for hit in hits] == [
        ("message:4", 2),
        ("message:3", 1),
        ("message:2", 1),
        ("message:1", 1),
    ]
    # A token in two groups counts for each.
    (hit,) = await search_engine.search("w1", query("dinner", ("dinner", "supper")))
    assert (hit.doc_id, hit.matched) == ("message:5", 2)


async def test_filters_on_kind_scope_author_and_time(search_engine: SearchEngine) -> None:
    await index(
        search_engine,
        "w1",
        doc("message:1", ["plan"], minutes=0, scope="channel:a", author_id="u1"),
        doc("message:2", ["plan"], minutes=10, scope="channel:b", author_id="u2"),
        doc("file:3", ["plan"], minutes=20, kind="file", scope="folder:a", author_id="u1"),
        doc("event:4", ["plan"], minutes=30, kind="event", scope="calendar:a", author_id=""),
        doc("task:5", ["plan"], minutes=40, kind="task", scope="board:a", author_id="u2"),
    )

    async def found(**options: Any) -> list[str]:
        return ids(await search_engine.search("w1", query("plan", **options)))

    assert await found() == ["task:5", "event:4", "file:3", "message:2", "message:1"]
    assert await found(kinds=["message"]) == ["message:2", "message:1"]
    assert await found(kinds=["file", "task"]) == ["task:5", "file:3"]
    assert await found(scopes=["channel:a", "folder:a"]) == ["file:3", "message:1"]
    assert await found(scopes=["channel:zzz"]) == []
    assert await found(author_id="u2") == ["task:5", "message:2"]
    assert await found(author_id="") == ["event:4"]
    # since is inclusive and until exclusive, to the millisecond.
    assert await found(since=T0 + timedelta(minutes=10)) == [
        "task:5",
        "event:4",
        "file:3",
        "message:2",
    ]
    assert await found(until=T0 + timedelta(minutes=10)) == ["message:1"]
    assert await found(
        since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=30, milliseconds=1)
    ) == ["event:4", "file:3", "message:2"]
    assert await found(since=T0 + timedelta(minutes=10, milliseconds=1)) == [
        "task:5",
        "event:4",
        "file:3",
    ]
    assert await found(
        kinds=["message", "task"], scopes=["board:a", "channel:a"], author_id="u2"
    ) == ["task:5"]
    # An empty list allows nothing (a user who may read no scope finds nothing).
    assert await found(scopes=[]) == []
    assert await found(kinds=[]) == []


async def test_filters_apply_before_ranking_and_the_limit(search_engine: SearchEngine) -> None:
    # The best-ranked documents are in a scope the reader may not see: they take no place.
    hidden = [
        doc(f"message:h{n}", ["x", "y"], minutes=100 + n, scope="channel:secret") for n in range(5)
    ]
    visible = [doc(f"message:v{n}", ["x"], minutes=n, scope="channel:open") for n in range(5)]
    await index(search_engine, "w1", *hidden, *visible)
    hits = await search_engine.search("w1", query("x", "y", scopes=["channel:open"], limit=3))
    assert ids(hits) == ["message:v4", "message:v3", "message:v2"]
    assert {hit.scope for hit in hits} == {"channel:open"}


async def test_listed_documents_pass_the_scope_filter_too(search_engine: SearchEngine) -> None:
    # A reader who may see one folder's files, one file alone, and a channel: the scopes and
    # doc_ids filters together say where to look; hidden documents take no place.
    hidden = [
        doc(f"file:h{n}", ["x", "y"], minutes=100 + n, kind="file", scope="drive") for n in range(5)
    ]
    await index(
        search_engine,
        "w1",
        *hidden,
        doc("file:1", ["x"], minutes=1, kind="file", scope="drive"),
        doc("file:2", ["x"], minutes=2, kind="file", scope="drive"),
        doc("message:3", ["x"], minutes=3, scope="channel:a"),
        doc("message:4", ["x"], minutes=4, scope="channel:b"),
    )

    async def found(**options: Any) -> list[str]:
        return ids(await search_engine.search("w1", query("x", "y", **options)))

    both = {"scopes": ["channel:a"], "doc_ids": ["file:1", "file:2", "file:zzz"]}
    assert await found(**both) == ["message:3", "file:2", "file:1"]
    assert await found(**both, limit=2) == ["message:3", "file:2"]
    assert await found(**both, kinds=["file"]) == ["file:2", "file:1"]
    assert await found(scopes=[], doc_ids=["file:1", "message:4"]) == ["message:4", "file:1"]
    # doc_ids alone restrict just as well (no scope at all: only the listed documents).
    assert await found(doc_ids=["file:2"]) == ["file:2"]
    assert await found(scopes=["channel:b"], doc_ids=[]) == ["message:4"]
    assert await found(scopes=[], doc_ids=[]) == []
    assert await found(doc_ids=[]) == []
    # A page after a cursor keeps the filter.
    first = await search_engine.search("w1", query("x", **both, limit=1))
    rest = await search_engine.search("w1", query("x", **both, after=first[0].cursor))
    assert ids(first + rest) == ["message:3", "file:2", "file:1"]


async def test_pages_concatenate_to_the_whole_ranking(search_engine: SearchEngine) -> None:
    rng = random.Random(7)
    words = ["red", "green", "blue"]
    documents = [
        doc(
            f"message:{n:03d}",
            [*rng.sample(words, rng.randint(1, 3)), "noise"],
            # Many share a time, so doc_id breaks ties across page boundaries.
            minutes=rng.randint(0, 9),
        )
        for n in range(57)
    ]
    await index(search_engine, "w1", *documents)
    everything = await search_engine.search("w1", query(*words, limit=200))
    assert len(everything) == 57
    keys = [(hit.matched, hit.created_at, hit.doc_id) for hit in everything]
    assert keys == sorted(keys, reverse=True)
    for limit in (1, 7, 10, 57):
        paged = await all_pages(search_engine, "w1", query(*words, limit=limit))
        assert paged == everything


async def test_a_document_indexed_between_pages_shows_only_where_it_ranks(
    search_engine: SearchEngine,
) -> None:
    await index(
        search_engine, "w1", *[doc(f"message:{n:02d}", ["w"], minutes=n) for n in range(10)]
    )
    first = await search_engine.search("w1", query("w", limit=4))
    assert ids(first) == ["message:09", "message:08", "message:07", "message:06"]
    # One newer than the cursor (it ranks on a page already read) and one older.
    await index(
        search_engine,
        "w1",
        doc("message:new", ["w"], minutes=50),
        doc("message:old", ["w"], minutes=2.5),
    )
    rest = await all_pages(search_engine, "w1", query("w", limit=4, after=first[-1].cursor))
    assert ids(rest) == [
        "message:05",
        "message:04",
        "message:03",
        "message:old",
        "message:02",
        "message:01",
        "message:00",
    ]


async def test_indexing_again_replaces_tokens_and_metadata(search_engine: SearchEngine) -> None:
    await index(search_engine, "w1", doc("message:1", ["draft", "shared"], minutes=1))
    await index(
        search_engine,
        "w1",
        doc("message:1", ["final", "shared"], minutes=5, scope="channel:c2", author_id="u9"),
    )
    assert await search_engine.search("w1", query("draft")) == []
    (hit,) = await search_engine.search("w1", query("final", "shared", "draft"))
    assert (hit.matched, hit.scope, hit.author_id) == (2, "channel:c2", "u9")
    assert hit.created_at == T0 + timedelta(minutes=5)
    assert await search_engine.search("w1", query("shared", scopes=["channel:c1"])) == []
    # The same tokens at another time: found once, at the new time.
    await index(search_engine, "w1", doc("message:1", ["final", "shared"], minutes=2))
    (hit,) = await search_engine.search("w1", query("shared"))
    assert hit.created_at == T0 + timedelta(minutes=2)
    # No tokens at all: indexed, but never found.
    await index(search_engine, "w1", doc("message:1", []))
    assert await search_engine.search("w1", query("final", "shared")) == []


async def test_delete_removes_and_is_idempotent(search_engine: SearchEngine) -> None:
    await index(
        search_engine,
        "w1",
        doc("message:1", ["topic"], minutes=1),
        doc("message:2", ["topic"], minutes=2),
    )
    await search_engine.delete("w1", ["message:2", "message:never"])
    await search_engine.refresh()
    assert ids(await search_engine.search("w1", query("topic"))) == ["message:1"]
    await search_engine.delete("w1", ["message:2"])
    await search_engine.delete("w1", [])
    await search_engine.refresh()
    assert ids(await search_engine.search("w1", query("topic"))) == ["message:1"]


async def test_clear_forgets_one_workspace_only(search_engine: SearchEngine) -> None:
    await index(search_engine, "w1", *[doc(f"message:{n}", ["a", f"w{n}"]) for n in range(30)])
    await index(search_engine, "w2", doc("message:1", ["a"]))
    await search_engine.clear("w1")
    await search_engine.refresh()
    assert await search_engine.search("w1", query("a", "w3", limit=200)) == []
    assert ids(await search_engine.search("w2", query("a"))) == ["message:1"]
    await search_engine.clear("w1")  # clearing an empty workspace is fine
    await index(search_engine, "w1", doc("message:1", ["a"]))
    assert ids(await search_engine.search("w1", query("a"))) == ["message:1"]


async def test_workspaces_are_isolated(search_engine: SearchEngine) -> None:
    await index(search_engine, "w1", doc("message:1", ["same"], scope="channel:x"))
    await index(search_engine, "w2", doc("message:1", ["other"], scope="channel:y"))
    (hit,) = await search_engine.search("w1", query("same", "other"))
    assert (hit.scope, hit.matched) == ("channel:x", 1)
    (hit,) = await search_engine.search("w2", query("same", "other"))
    assert (hit.scope, hit.matched) == ("channel:y", 1)
    await search_engine.delete("w2", ["message:1"])
    await search_engine.refresh()
    assert ids(await search_engine.search("w1", query("same"))) == ["message:1"]
    assert await search_engine.search("w3", query("same")) == []


async def test_queries_without_tokens_find_nothing(search_engine: SearchEngine) -> None:
    await index(search_engine, "w1", doc("message:1", ["a"]))
    assert await search_engine.search("w1", SearchQuery(groups=[])) == []
    assert await search_engine.search("w1", SearchQuery(groups=[[], []])) == []
    # An empty group never matches, and takes nothing from the others.
    (hit,) = await search_engine.search("w1", SearchQuery(groups=[[], [token("a")]]))
    assert hit.matched == 1


BAD_DOCUMENTS = {
    "token-too-short": {"tokens": frozenset({b"\x01" * 7})},
    "token-too-long": {"tokens": frozenset({b"\x01" * 33})},
    "token-not-bytes": {"tokens": frozenset({"abcdefghijkl"})},
    "tokens-a-list": {"tokens": [b"\x01" * 12]},
    "empty-doc-id": {"doc_id": ""},
    "doc-id-with-space": {"doc_id": "message:a b"},
    "doc-id-with-slash": {"doc_id": "message/1"},
    "doc-id-too-long": {"doc_id": "m" * 129},
    "doc-id-not-ascii": {"doc_id": "message:é"},
    "bad-kind": {"kind": "Message"},
    "empty-scope": {"scope": ""},
    "bad-author": {"author_id": "u 1"},
    "naive-time": {"created_at": datetime(2024, 1, 1)},
}


@pytest.mark.parametrize("change", BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
async def test_bad_documents_are_refused_before_anything_is_written(
    search_engine: SearchEngine, change: dict[str, Any]
) -> None:
    good = doc("message:good", ["word"])
    fields = {name: getattr(good, name) for name in good.__dataclass_fields__}
    bad = SearchDocument(**(fields | change))
    with pytest.raises(SearchError):
        await search_engine.index("w1", [good, bad])
    await search_engine.refresh()
    assert await search_engine.search("w1", query("word")) == []


async def test_bad_calls_are_refused(search_engine: SearchEngine) -> None:
    good = doc("message:1", ["word"])
    with pytest.raises(SearchError):
        await search_engine.index("w1", [good, good])  # one doc_id twice
    with pytest.raises(SearchError):
        await search_engine.index("w1", [good] * 1001)
    for workspace_id in ("", "w:1", "w 1", "w" * 129):
        with pytest.raises(SearchError):
            await search_engine.index(workspace_id, [good])
        with pytest.raises(SearchError):
            await search_engine.search(workspace_id, query("word"))
    with pytest.raises(SearchError):
        await search_engine.delete("w1", ["message:1", "bad id"])
    with pytest.raises(SearchError):
        await search_engine.delete("w1", "message:1")  # type: ignore[arg-type]
    with pytest.raises(SearchError):
        await search_engine.clear("")


BAD_QUERIES = {
    "limit-0": {"limit": 0},
    "limit-201": {"limit": 201},
    "limit-bool": {"limit": True},
    "token-too-short": {"groups": [[b"\x01" * 7]]},
    "token-too-long": {"groups": [[b"\x01" * 33]]},
    "group-of-bytes": {"groups": [b"\x01" * 12]},
    "groups-a-str": {"groups": "word"},
    "too-many-groups": {"groups": [[bytes([n]) * 12] for n in range(33)]},
    "too-many-tokens": {"groups": [[bytes([n, m]) * 6 for m in range(9)] for n in range(8)]},
    "bad-kind": {"kinds": ["Message"]},
    "kinds-a-str": {"kinds": "message"},
    "bad-scope": {"scopes": ["channel:a b"]},
    "bad-doc-id": {"doc_ids": ["file:a b"]},
    "doc-ids-a-str": {"doc_ids": "file:1"},
    "too-many-places": {"scopes": ["channel:a"] * 40_000, "doc_ids": ["file:1"] * 30_000},
    "bad-author": {"author_id": "u 1"},
    "naive-since": {"since": datetime(2024, 1, 1)},
    "naive-until": {"until": datetime(2024, 1, 1)},
    "bad-cursor-id": {"after": SearchCursor(1, T0, "bad id")},
    "naive-cursor": {"after": SearchCursor(1, datetime(2024, 1, 1), "message:1")},
    "cursor-not-a-cursor": {"after": (1, T0, "message:1")},
}


@pytest.mark.parametrize("change", BAD_QUERIES.values(), ids=BAD_QUERIES.keys())
async def test_bad_queries_are_refused(search_engine: SearchEngine, change: dict[str, Any]) -> None:
    with pytest.raises(SearchError):
        await search_engine.search("w1", SearchQuery(**({"groups": [[token("a")]]} | change)))


async def test_limits_at_the_edges_are_accepted(search_engine: SearchEngine) -> None:
    await index(search_engine, "w1", *[doc(f"message:{n}", ["a"], minutes=n) for n in range(3)])
    assert len(await search_engine.search("w1", query("a", limit=1))) == 1
    assert len(await search_engine.search("w1", query("a", limit=200))) == 3
    edge = [[bytes([n]) * 8, bytes([n]) * 32] for n in range(32)]  # 32 groups, 64 tokens
    assert await search_engine.search("w1", SearchQuery(groups=edge)) == []


async def test_a_closed_engine_refuses_calls(search_engine: SearchEngine) -> None:
    await search_engine.close()
    await search_engine.close()  # idempotent
    with pytest.raises(SearchUnavailable):
        await search_engine.search("w1", query("a"))
    with pytest.raises(SearchUnavailable):
        await search_engine.index("w1", [doc("message:1", ["a"])])
    with pytest.raises(SearchUnavailable):
        await search_engine.ping()
