"""Three real Apache Cassandra nodes (tools/cassandra_cluster.py) keep answering at QUORUM
while one of them is killed, and the killed one rejoins when started again."""

from __future__ import annotations

import random
import shutil
import socket
import time
from pathlib import Path

import pytest
from cassandra import ConsistencyLevel, Unavailable
from cassandra.cluster import Cluster as Driver
from cassandra.cluster import Session
from cassandra.policies import ConstantReconnectionPolicy
from cassandra.query import SimpleStatement
from redis_server import free_port

from tools import cassandra_cluster as nodes
from tools.cassandra import running

ROOT = Path(__file__).resolve().parents[2]
QUORUM = ConsistencyLevel.QUORUM

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        shutil.which("mvn") is None or shutil.which("java") is None,
        reason="Cassandra nodes need Java and Maven (the polyglot machine has both)",
    ),
]


def _free_on(addresses: tuple[str, ...], port: int) -> bool:
    for address in addresses:
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError:
                return False
    return True


def _addresses_and_ports() -> tuple[tuple[str, ...], int, int]:
    """Three loopback addresses (127.0.0.x, away from .1 to .3) and two ports free on all."""
    chooser = random.SystemRandom()
    for _ in range(50):
        first = chooser.randrange(10, 250)
        addresses = tuple(f"127.0.0.{first + offset}" for offset in range(3))
        cql, storage = free_port(), free_port()
        if cql != storage and _free_on(addresses, cql) and _free_on(addresses, storage):
            return addresses, cql, storage
    raise RuntimeError("no free loopback addresses and ports found")


def _write(session: Session, rows: range, consistency: int) -> None:
    insert = SimpleStatement(
        "INSERT INTO fault.notes (id, body) VALUES (%s, %s)", consistency_level=consistency
    )
    for row in rows:
        session.execute(insert, (row, f"note {row}"))


def _read(session: Session, consistency: int) -> set[int]:
    select = SimpleStatement("SELECT id FROM fault.notes", consistency_level=consistency)
    return {row.id for row in session.execute(select)}


def test_quorum_holds_with_one_node_killed_and_the_node_rejoins(tmp_path: Path) -> None:
    addresses, cql, storage = _addresses_and_ports()
    jmx = (free_port(), free_port(), free_port())
    cluster = nodes.Cluster(
        ROOT / ".cassandra",
        addresses=addresses,
        port=cql,
        storage_port=storage,
        jmx_ports=jmx,
        directory=tmp_path / "cluster",
    )
    seed, victim, third = cluster.nodes
    began = time.monotonic()
    driver = None
    try:
        nodes.cluster_up(cluster)
        driver = Driver(
            list(addresses),
            port=cql,
            reconnection_policy=ConstantReconnectionPolicy(1.0),
            connect_timeout=5,
        )
        session = driver.connect()
        session.default_timeout = 20
        session.execute(
            "CREATE KEYSPACE fault WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 3}"
        )
        session.execute("CREATE TABLE fault.notes (id int PRIMARY KEY, body text)")
        _write(session, range(20), QUORUM)
        assert _read(session, QUORUM) == set(range(20))

        nodes.kill(victim)
        nodes.wait_for_states(cluster, {victim.address: "DN"}, observers=[seed, third])
        _write(session, range(20, 40), QUORUM)
        assert _read(session, QUORUM) == set(range(40))
        with pytest.raises(Unavailable):  # two replicas of three: ALL cannot be met
            _read(session, ConsistencyLevel.ALL)

        nodes.restart(cluster, victim)
        nodes.wait_for_states(cluster, nodes.all_normal(cluster))
        assert _read(session, ConsistencyLevel.ALL) == set(range(40))
    finally:
        if driver is not None:
            driver.shutdown()
        nodes.cluster_down(cluster)
    assert all(running(node) is None for node in cluster.nodes)
    assert time.monotonic() - began < 600
