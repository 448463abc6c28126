"""The parts of tools/cassandra_cluster.py that need no Java: the three nodes' layout and
reading `nodetool status` (the cluster itself: tests/integrations/test_cassandra_cluster.py)."""

from __future__ import annotations

from pathlib import Path

from tools.cassandra_cluster import Cluster, all_normal, parse_states

STATUS = """\
Datacenter: datacenter1
=======================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address     Load        Tokens  Owns (effective)  Host ID                               Rack
UN  127.0.0.1   104.3 KiB   16      100.0%            0b1c6a3e-8f0c-4c59-9a43-9f0f4f1e2a11  rack1
DN  127.0.0.2   98.12 KiB   16      100.0%            5d2f7c1a-1e5b-4b8e-8f47-6a0c2d9e3b22  rack1
UJ  127.0.0.3:7000  ?       16      ?                 9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c33  rack1
"""


def test_nodetool_status_is_read_node_by_node() -> None:
    assert parse_states(STATUS) == {"127.0.0.1": "UN", "127.0.0.2": "DN", "127.0.0.3": "UJ"}
    assert parse_states("nodetool: Failed to connect to '127.0.0.1:7201'") == {}


def test_three_nodes_share_ports_on_their_own_addresses(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path)
    nodes = cluster.nodes
    assert [node.address for node in nodes] == ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
    assert {node.port for node in nodes} == {9042}
    assert len({node.jmx_port for node in nodes}) == 3
    assert {node.seed for node in nodes} == {"127.0.0.1:7000"}
    assert {node.cluster_name for node in nodes} == {"cove-cluster"}
    assert len({node.directory for node in nodes}) == 3
    assert all(node.directory.parent == tmp_path / "cluster" for node in nodes)
    assert all_normal(cluster) == {node.address: "UN" for node in nodes}
