"""A real Apache Cassandra node from Maven Central (tools/cassandra.py) accepts every table
Cove declares, as the CQL compiler writes it, and the statements the engine prepares."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cassandra.cluster import Cluster
from redis_server import free_port

from persistence.migrations import MIGRATIONS
from persistence.scylla.cql import create_table_cql, insert_cql, select_by_key_cql
from tools.cassandra import Node, down, up

ROOT = Path(__file__).resolve().parents[2]
KEYSPACE = "cove"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("mvn") is None or shutil.which("java") is None,
        reason="a Cassandra node needs Java and Maven (the polyglot machine has both)",
    ),
]


def test_every_declared_table_is_accepted_by_a_real_node(tmp_path: Path) -> None:
    node = Node(tmp_path / "node", port=free_port(), storage_port=free_port(), jmx_port=free_port())
    up(node, ROOT / ".cassandra")
    cluster = Cluster(["127.0.0.1"], port=node.port)
    try:
        session = cluster.connect()
        session.execute(
            f"CREATE KEYSPACE {KEYSPACE} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}"
        )
        tables = [table for migration in MIGRATIONS for table in migration.creates]
        for table in tables:
            session.execute(create_table_cql(table, KEYSPACE))
            session.prepare(insert_cql(table, KEYSPACE))
            session.prepare(select_by_key_cql(table, KEYSPACE))
        found = session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", [KEYSPACE]
        )
        assert {row.table_name for row in found} == {table.name for table in tables}
    finally:
        cluster.shutdown()
        down(node)
