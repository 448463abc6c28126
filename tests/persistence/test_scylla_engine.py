"""The ScyllaDB engine beyond the shared contract: folding batches, contact points, failures
reported as StoreUnavailable, the schema lock and the schema check, on a real node."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from cassandra.query import BatchStatement, BatchType
from redis_server import free_port
from scylla_node import config, cql_session

from persistence.declare import Column, ColumnType, Table
from persistence.migrations import MIGRATIONS
from persistence.scylla.engine import ScyllaStore
from persistence.scylla.hosts import parse_hosts
from persistence.scylla.merge import fold
from persistence.scylla.session import ScyllaConfig
from persistence.store import Delete, Put, StoreError, StoreUnavailable, Update

TEXT = ColumnType.TEXT
ITEMS = Table(
    name="scylla_items",
    partition_key=(Column("box", TEXT),),
    clustering=(Column("item", TEXT),),
    values=(Column("a", TEXT), Column("b", TEXT)),
)
TABLES = (ITEMS,)


def key(item: str = "x") -> dict[str, Any]:
    return {"box": "b", "item": item}


# --- folding a batch (no node) -----------------------------------------------------------


def test_a_put_then_an_update_of_one_row_fold_into_one_put() -> None:
    folded = fold([Put(ITEMS, {**key(), "a": "1"}), Update(ITEMS, key(), {"b": "2"})])
    assert folded == [Put(ITEMS, {**key(), "a": "1", "b": "2"})]


def test_a_delete_then_an_update_leaves_only_the_updated_columns() -> None:
    folded = fold([Delete(ITEMS, key()), Update(ITEMS, key(), {"b": "2"})])
    assert folded == [Put(ITEMS, {**key(), "b": "2"})]


def test_the_last_put_or_delete_of_a_row_wins_and_rows_keep_their_first_place() -> None:
    ops = [
        Put(ITEMS, {**key("x"), "a": "1"}),
        Update(ITEMS, key("y"), {"a": "y1"}),
        Delete(ITEMS, key("x")),
        Update(ITEMS, key("y"), {"b": "y2"}),
        Put(ITEMS, {**key("z"), "a": "z"}),
    ]
    assert fold(ops) == [
        Delete(ITEMS, key("x")),
        Update(ITEMS, key("y"), {"a": "y1", "b": "y2"}),
        Put(ITEMS, {**key("z"), "a": "z"}),
    ]


def test_an_operation_a_later_one_replaces_is_still_checked() -> None:
    with pytest.raises(TypeError):
        fold([Put(ITEMS, {**key(), "a": 7}), Put(ITEMS, {**key(), "a": "fine"})])
    with pytest.raises(ValueError, match="only value columns"):
        fold([Update(ITEMS, key(), {"nope": "1"}), Delete(ITEMS, key())])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1:9042", (("10.0.0.1", 9042),)),
        (" a:1 , b:1,", (("a", 1), ("b", 1))),
        ("scylla-1", (("scylla-1", 9042),)),
        ("[::1]:9043", (("::1", 9043),)),
    ],
)
def test_contact_points_are_parsed(text: str, expected: tuple[tuple[str, int], ...]) -> None:
    assert parse_hosts(text) == expected


@pytest.mark.parametrize("text", ["", " , ", "host:port", "host:0", "host:70000", ":9042"])
def test_malformed_contact_points_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hosts(text)


async def test_an_unreachable_cluster_is_unavailable_not_a_crash() -> None:
    unreachable = ScyllaConfig(hosts=(("127.0.0.1", free_port()),), connect_timeout=2.0)
    with pytest.raises(StoreUnavailable, match="no ScyllaDB/Cassandra node answered"):
        await ScyllaStore.open(unreachable)


# --- on a real node ----------------------------------------------------------------------


def _cql(hosts: str, statement: str) -> None:
    cql_session(hosts).execute(statement)


def _node_count(hosts: str) -> int:
    return len(cql_session(hosts).cluster.metadata.all_hosts())


async def test_too_few_replicas_for_the_consistency_level_is_unavailable(
    scylla_hosts: str,
) -> None:
    # One replica more than there are nodes: ALL cannot be met.
    replicas = _node_count(scylla_hosts) + 1
    _cql(
        scylla_hosts,
        f"CREATE KEYSPACE IF NOT EXISTS cove_too_few WITH replication = "
        f"{{'class': 'SimpleStrategy', 'replication_factor': {replicas}}}",
    )
    strict = ScyllaConfig(
        hosts=parse_hosts(scylla_hosts), keyspace="cove_too_few", consistency="ALL"
    )
    with pytest.raises(StoreUnavailable, match="Unavailable"):
        await ScyllaStore.open(strict, TABLES)


async def test_a_replication_factor_above_the_node_count_is_refused_before_creating(
    scylla_hosts: str,
) -> None:
    replicas = _node_count(scylla_hosts) + 1
    wide = ScyllaConfig(
        hosts=parse_hosts(scylla_hosts), keyspace="cove_never", replication=replicas
    )
    with pytest.raises(StoreError, match=f"scylla_replication is {replicas} but datacenter"):
        await ScyllaStore.open(wide, TABLES)


async def test_a_table_that_differs_from_its_declaration_is_refused(scylla_hosts: str) -> None:
    _cql(
        scylla_hosts,
        "CREATE KEYSPACE IF NOT EXISTS cove_drift WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}",
    )
    _cql(
        scylla_hosts,
        "CREATE TABLE IF NOT EXISTS cove_drift.scylla_items "
        "(box text, item text, a bigint, b text, PRIMARY KEY (box, item))",
    )
    with pytest.raises(StoreError, match="does not match its declaration"):
        await ScyllaStore.open(config(scylla_hosts, "cove_drift"), TABLES, migrations=())


async def test_nodes_starting_together_migrate_once_under_the_schema_lock(
    scylla_hosts: str,
) -> None:
    keyspace = f"cove_race_{datetime.now(UTC):%H%M%S%f}"
    stores = await asyncio.gather(
        *(ScyllaStore.open(config(scylla_hosts, keyspace), TABLES) for _ in range(3))
    )
    try:
        await stores[0].put(ITEMS, {**key(), "a": "seen by all"})
        for store in stores:
            assert (await store.get(ITEMS, key()))["a"] == "seen by all"  # type: ignore[index]
        session = cql_session(scylla_hosts)
        rows = list(session.execute(f"SELECT number, name FROM {keyspace}.cove_migrations"))
        lock = list(session.execute(f"SELECT * FROM {keyspace}.cove_schema_lock"))
        assert sorted((row.number, row.name) for row in rows) == [
            (m.number, m.name) for m in MIGRATIONS
        ]
        assert lock == []  # released
    finally:
        for store in stores:
            await store.close()
        _cql(scylla_hosts, f"DROP KEYSPACE IF EXISTS {keyspace}")


async def test_batches_are_unlogged_in_one_partition_and_logged_across_several(
    scylla_hosts: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await ScyllaStore.open(config(scylla_hosts, "cove_contract"), TABLES)
    sent: list[Any] = []
    session = store._session
    real = session.execute_async

    def spy(statement: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(statement)
        return real(statement, *args, **kwargs)

    monkeypatch.setattr(session, "execute_async", spy)
    try:
        await store.batch([Put(ITEMS, {**key("1"), "a": "1"}), Put(ITEMS, {**key("2")})])
        other = {"box": "elsewhere", "item": "1"}
        await store.batch([Put(ITEMS, {**key("3")}), Put(ITEMS, other)])
        batches = [s for s in sent if isinstance(s, BatchStatement)]
        assert [b.batch_type for b in batches] == [BatchType.UNLOGGED, BatchType.LOGGED]
        assert await store.get(ITEMS, other) == {**other, "a": None, "b": None}
    finally:
        monkeypatch.undo()
        for row in (key("1"), key("2"), key("3"), {"box": "elsewhere", "item": "1"}):
            await store.delete(ITEMS, row)
        await store.close()


async def test_the_embedded_search_index_writes_batches_scylla_accepts(scylla_hosts: str) -> None:
    """A drain of hundreds of documents at once: with the engine's default batch size the
    rows would go in logged batches past ScyllaDB's 1 MiB limit; Cove bounds them there."""
    import os

    from api.app import SCYLLA_SEARCH_BATCH_ROWS
    from integrations.search import SearchDocument, SearchQuery
    from integrations.search.embedded import EmbeddedSearchEngine

    store = await ScyllaStore.open(config(scylla_hosts, "cove_contract"))
    at = datetime(2026, 3, 1, tzinfo=UTC)
    documents = [
        SearchDocument(
            doc_id=f"message:{number}",
            kind="message",
            scope="channel:c1",
            author_id="u1",
            created_at=at,
            tokens=frozenset(os.urandom(12) for _ in range(40)) | {b"shared-token"},
        )
        for number in range(600)
    ]
    try:
        with pytest.raises(Exception, match="Batch too large"):
            await EmbeddedSearchEngine(store).index("w-big", documents)
        engine = EmbeddedSearchEngine(store, max_ops_per_batch=SCYLLA_SEARCH_BATCH_ROWS)
        await engine.index("w-big", documents)
        found = await engine.search(
            "w-big", SearchQuery(groups=[[b"shared-token"]], scopes=["channel:c1"], limit=5)
        )
        assert len(found) == 5
    finally:
        await store.close()
