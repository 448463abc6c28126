"""Three Apache Cassandra nodes on loopback addresses (tools/cassandra.py runs each one).

Every node listens on its own address (127.0.0.1, .2 and .3 by default: Linux answers on all
of 127.0.0.0/8 without configuration) with the same CQL and storage ports, as a cluster of
machines would; only the JMX ports, bound to 127.0.0.1, differ. The first address is the
seed. Whether a node is Up and Normal is what `nodetool status` says, asked of each node.
Tests call `cluster_up`, `kill`, `restart`, `wait_for_states` and `cluster_down`.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tools.cassandra import (
    HERE,
    Node,
    answers,
    down,
    jvm_flags,
    libraries,
    program,
    running,
    start,
    terminate,
    wait_for_cql,
)
from tools.cassandra import kill as kill_node

ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
JMX_PORTS = (7201, 7202, 7203)
# Measured: three nodes with 256 MiB heaps each start, take writes at QUORUM and survive the
# fault test; see docs/operations.md, "Running several nodes".
HEAP_MIB = 256
STATE_SECONDS = 120
NODETOOL_SECONDS = 60
_STATE_LINE = re.compile(r"^([UD][NLJM])\s+(\S+)\s")


@dataclass(frozen=True)
class Cluster:
    """Three nodes in `directory` (default `root`/cluster), with the jars in `root`/lib."""

    root: Path
    addresses: tuple[str, ...] = ADDRESSES
    port: int = 9042
    storage_port: int = 7000
    jmx_ports: tuple[int, ...] = JMX_PORTS
    heap_mib: int = HEAP_MIB
    directory: Path | None = None

    @property
    def folder(self) -> Path:
        return self.directory or self.root / "cluster"

    @property
    def nodes(self) -> list[Node]:
        if len(self.addresses) != len(self.jmx_ports):
            raise ValueError("one JMX port per address")
        seed = f"{self.addresses[0]}:{self.storage_port}"
        return [
            Node(
                self.folder / f"node{number}",
                address=address,
                port=self.port,
                storage_port=self.storage_port,
                jmx_port=jmx_port,
                seed=seed,
                cluster_name="cove-cluster",
            )
            for number, (address, jmx_port) in enumerate(
                zip(self.addresses, self.jmx_ports, strict=True), start=1
            )
        ]


def states(node: Node, root: Path) -> dict[str, str]:
    """`nodetool status` as `node` sees the ring: {address: "UN" | "DN" | "UJ" | ...}; empty
    when the node does not answer. (nodetool keeps its history under `user.home`/.cassandra.)"""
    command = [
        program("java"),
        *jvm_flags(),
        "-Xmx128m",
        f"-Duser.home={node.directory}",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        f"-Dlogback.configurationFile={HERE / 'logback.xml'}",
        "-cp",
        f"{libraries(root)}/*",
        "org.apache.cassandra.tools.NodeTool",
        "-h",
        "127.0.0.1",
        "-p",
        str(node.jmx_port),
        "status",
    ]
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            command, capture_output=True, text=True, timeout=NODETOOL_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        return {}
    return parse_states(done.stdout)


def parse_states(status: str) -> dict[str, str]:
    """The node lines of `nodetool status` output: {address: "UN", ...} (ports dropped)."""
    found: dict[str, str] = {}
    for line in status.splitlines():
        match = _STATE_LINE.match(line)
        if match:
            found[match.group(2).split(":")[0]] = match.group(1)
    return found


def wait_for_states(
    cluster: Cluster,
    expected: Mapping[str, str],
    observers: Iterable[Node] | None = None,
    seconds: float = STATE_SECONDS,
) -> None:
    """Return once every observer (default: every running node) reports the expected states,
    e.g. {"127.0.0.2": "DN"}; raise what they last said after `seconds`."""
    watching = list(observers) if observers is not None else _running(cluster)
    deadline = time.monotonic() + seconds
    seen: dict[str, dict[str, str]] = {}
    while time.monotonic() < deadline:
        seen = {node.address: states(node, cluster.root) for node in watching}
        if all(
            view.get(address) == state
            for view in seen.values()
            for address, state in expected.items()
        ):
            return
        time.sleep(1)
    raise RuntimeError(f"expected {dict(expected)}; the nodes said {seen}")


def all_normal(cluster: Cluster) -> dict[str, str]:
    return {address: "UN" for address in cluster.addresses}


def _running(cluster: Cluster) -> list[Node]:
    return [node for node in cluster.nodes if running(node) is not None]


def cluster_up(cluster: Cluster) -> None:
    """Start the nodes that do not run and return once CQL answers on each and each sees all
    of them Up and Normal. A new cluster starts its seed first, then the others together; a
    cluster that ran before starts all at once (a seed alone would wait 30 s for peers).
    Refuses, starting nothing, when another process holds one of the nodes' CQL ports."""
    libraries(cluster.root)
    for node in cluster.nodes:
        if running(node) is None and answers(node.address, node.port):
            raise RuntimeError(
                f"{node.address}:{node.port} answers, but not as a node of {cluster.folder} "
                "(`make cassandra-down`? or move the cluster: --addresses, --port)"
            )
    seed = cluster.nodes[0]
    waiting = [node for node in cluster.nodes if running(node) is None]
    try:
        if seed in waiting and not (seed.directory / "data").exists():
            wait_for_cql(seed, start(seed, cluster.root, cluster.heap_mib))
            waiting.remove(seed)
        started = [(node, start(node, cluster.root, cluster.heap_mib)) for node in waiting]
        for node, process in started:
            wait_for_cql(node, process)
        for node in cluster.nodes:
            wait_for_cql(node)
        wait_for_states(cluster, all_normal(cluster), observers=cluster.nodes)
    except RuntimeError:
        cluster_down(cluster)
        raise


def cluster_down(cluster: Cluster) -> None:
    """Stop every node of the cluster that runs (SIGTERM to all at once, then wait)."""
    for node in cluster.nodes:
        terminate(node)
    for node in cluster.nodes:
        down(node)


def kill(node: Node) -> None:
    """SIGKILL one node (a crash)."""
    kill_node(node)


def restart(cluster: Cluster, node: Node) -> None:
    """Start a stopped node again in its folder; return once its CQL answers (then
    `wait_for_states(cluster, all_normal(cluster))` to see it rejoin)."""
    if running(node) is None:
        wait_for_cql(node, start(node, cluster.root, cluster.heap_mib))
