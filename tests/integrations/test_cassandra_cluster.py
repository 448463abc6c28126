"""Three real Apache Cassandra nodes (tools/cassandra_cluster.py), keyspace RF 3 and
LOCAL_QUORUM: Cove's ScyllaDB engine keeps writing while one node is killed (kill -9), loses
no acknowledged write, is refused as unavailable at ALL, and the node rejoins when started
again (bench/cluster_failover.py runs the same load and prints its figures)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.cluster_failover import run_failover

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("COVE_TEST_STORE") != "scylla", reason="runs in make test-scylla"
    ),
    pytest.mark.skipif(
        shutil.which("mvn") is None or shutil.which("java") is None,
        reason="Cassandra nodes need Java and Maven (the polyglot machine has both)",
    ),
]


def test_cove_loses_no_acknowledged_write_while_a_node_is_killed(tmp_path: Path) -> None:
    outcome = run_failover(tmp_path)
    _, down, after = outcome.phases
    assert outcome.missing == set()
    assert len(outcome.acknowledged) > 0
    # Writes go on while the node is down, and after it rejoined.
    assert len(down.latencies) > 0 and len(after.latencies) > 0
    # ALL cannot be met with a replica down: refused as unavailable, not answered wrongly.
    assert outcome.unavailable_at_all
    for phase in outcome.phases:
        print(phase.line())
